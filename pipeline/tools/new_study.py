"""`python -m pipeline init`: a commented study file for a user's data and backbone.

The study follows the paper's protocol and appendix B's defaults (studies/paper.yaml,
docs/paper-conformance.md): the tau grid, three replicate seeds, the label-smoothed
(`_ls`) companion and, for classification, the MLP-head companion. The backbone is an
`imports` entry: fixed pretrained weights, as in the paper. The data folder's layout is
checked first (pipeline.data.layout), and the file is validated before it is written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from pipeline.errors import PipelineError
from pipeline.io import paths
from pipeline.io.atomic import write_text

KINDS = {"imagefolder": "classification", "maskfolder": "segmentation", "csv": "molecules"}

HEADER = """\
# A study of your own data, written by `python -m pipeline init`. Run it with
#   snakemake --cores N --configfile {out}
# It writes {results} and {runs} (named after this file; a `name:` key renames them).
# Every choice below follows the paper (appendix B; studies/paper.yaml) unless it says otherwise.
seed: 0               # fixes the data splits drawn from train
seeds: [0, 1, 2]      # replicates of HP, FT and evaluation (mean and 95% CI over them)
replicate_pretrain: false   # one fixed pretrained backbone, as in the paper
device: auto          # CUDA when there is one, else the CPU
taus: [0, 1, 2, 4, 8, 16, 32, 64, 128, 200]   # HP epochs tried: the paper's grid (tau = 0 is plain FT)
z_split: train        # the feature-adaptation metrics are measured on the training split
exchange: {{}}          # no head-exchange heat-map (figure 3 is the toy's)
pretrain: {{}}          # nothing is pretrained here: the backbone is imported below
"""

DATA = {
    "imagefolder": """\
datasets:
  own:   # {path}/train/CLASS/*; val/ and test/ are drawn from train (stratified, seeded) when missing
    family: classification
    dataset: imagefolder
    path: {path}
    size: {size}              # {size_note}
    channels: 3
    normalize: {normalize}    # {normalize_note}
    flip: true             # augmentation: random crop and horizontal flip (appendix B)
    val_fraction: 0.1      # when val/ is missing: 10% of train, as the paper's profile holds out
    test_fraction: 0.2     # when test/ is missing
""",
    "maskfolder": """\
datasets:
  own:   # {path}/images/STEM.* and {path}/masks/STEM.png (class indices, 255 = void)
    family: segmentation
    dataset: maskfolder
    path: {path}
    classes: {classes}             # background (0) and the object classes: the largest mask value + 1
    size: 256              # images are resized to size x size (VOC's profile; a multiple of 8)
    normalize: imagenet    # the ImageNet mean and std that ImageNet weights expect
    flip: true             # augmentation: random horizontal flips
    val_fraction: 0.2      # when val.txt is missing: 20% of the training stems (VOC's profile)
    test_fraction: 0.2     # when test.txt is missing
""",
    "csv": """\
datasets:
  own:   # SMILES and 0/1 label columns; an empty cell is unlabelled
    family: molecules
    dataset: csv
    path: {path}
    smiles_column: smiles
    split: scaffold        # scaffold split, as OGB's molecule benchmarks
""",
}

SETTINGS = {  # (HP, FT) of appendix B: ImageNet classification, VOC, Tox21
    "classification": (
        {"lr": 0.01, "augment": True},
        {"lr": 0.0003, "epochs": 200, "patience": 20, "augment": True},
    ),
    "segmentation": (
        {"lr": 0.3, "batch_size": 16},
        {"lr": 0.01, "epochs": 200, "patience": 20, "batch_size": 16, "schedule": "none"},
    ),
    "molecules": ({"lr": 0.01}, {"lr": 0.001, "epochs": 100, "patience": 10}),
}


def _setting(hp: dict, ft: dict, head: str = "{kind: linear}") -> str:
    flow = lambda d: yaml.safe_dump(
        d, default_flow_style=True, sort_keys=False, width=10**6
    ).strip()
    return f"{{pretrain: backbone, data: own, head: {head}, bn: source, hp: {flow(hp)}, ft: {flow(ft)}}}"


def _backbone(spec: str, family: str) -> str:
    """The `model` block of a --backbone value: timm:NAME, resnet18/34/50 or gcn."""
    if family == "molecules":
        if spec != "gcn":
            raise PipelineError(f"--backbone: expected gcn for --kind csv, found {spec!r}")
        return "{layers: 5, hidden: 300, dropout: 0.5}   # the paper's GCN (OGB's sizes)"
    if spec.startswith("timm:") and len(spec) > 5:
        if family == "segmentation":
            raise PipelineError(
                f"--backbone: expected resnet10, resnet18, resnet34 or resnet50 for --kind maskfolder "
                f"(DeepLabV3's encoder here), found {spec!r}"
            )
        return f"{{arch: timm, name: {spec[5:]}, in_channels: 3}}"
    match = re.fullmatch(r"resnet(10|18|34|50)", spec)
    if not match:
        raise PipelineError(
            f"--backbone: expected timm:NAME, resnet10, resnet18, resnet34, resnet50 or gcn, "
            f"found {spec!r}"
        )
    return f"{{arch: resnet, depth: {match.group(1)}, in_channels: 3}}"


def preprocessing(backbone: str) -> dict:
    """Input size and normalisation: a timm model's own (timm's data config of its
    pretrained config, which timm ships: nothing downloads), else appendix B's ImageNet
    defaults."""
    out = {
        "size": 224,
        "size_note": "the input size of ImageNet backbones (appendix B)",
        "normalize": "imagenet",
        "normalize_note": "the ImageNet mean and std that ImageNet weights expect",
    }
    if not backbone.startswith("timm:"):
        return out
    from pipeline.data.images import IMAGENET_MEAN, IMAGENET_STD
    from pipeline.models.timm_backbone import data_config

    name = backbone[5:]
    cfg = data_config(name)
    out.update(size=cfg["size"], size_note=f"{name}'s input size (its timm pretrained config)")
    if (cfg["mean"], cfg["std"]) == (IMAGENET_MEAN, IMAGENET_STD):
        out["normalize_note"] = f"{name}'s mean and std (its timm pretrained config) are ImageNet's"
    else:
        flow = lambda v: "[" + ", ".join(repr(float(x)) for x in v) + "]"
        out.update(
            normalize=f"{{mean: {flow(cfg['mean'])}, std: {flow(cfg['std'])}}}",
            normalize_note=f"{name}'s own mean and std (its timm pretrained config)",
        )
    return out


def _weights(weights: str) -> str:
    """The import's checkpoint lines: a file, or a URL that the `fetch` stage downloads."""
    if re.match(r"^(https?|file)://", weights):
        return (
            f"    checkpoint: checkpoints/{Path(weights.split('?')[0]).name}   # fetched once by `fetch`\n"
            f"    url: {weights}\n"
        )
    return f"    checkpoint: {weights}\n"


def _classes(root: Path) -> int:
    """The largest class index in the masks, plus one (255 is void)."""
    import numpy as np

    from pipeline.data.layout import mask_folder, open_image

    values = set()
    for mask in mask_folder(root)[1].values():
        values |= set(np.unique(np.asarray(open_image(mask, mode=None))).tolist())
    return max(values - {255}, default=0) + 1


# Above this many FT image passes, `init` advises a GPU. On 2 CPU threads (the reference
# machine, shared with other jobs), a ResNet18 trained at about 2.4 images/s at 224 px and a
# timm resnet10t at about 9 images/s at 176 px (batch 32, forward + backward + SGD): 100,000
# passes are 3 to 12 hours of CPU, and an ImageNet-sized backbone only gets slower.
GPU_ADVISED_PASSES = 100_000


def train_examples(kind: str, data) -> int:
    """How many training examples the study's data will have: the train pool less the
    shares drawn from it for missing val and test splits (data: the dataset's DataCfg)."""
    from pipeline.data import layout

    if kind == "csv":
        with open(data.path, newline="") as f:
            pool, drawn = max(sum(1 for _ in f) - 1, 0), (data.val_fraction, data.test_fraction)
    elif kind == "imagefolder":
        folders = layout.image_folder(data.path)
        pool = sum(
            p.is_file() for c in folders["train"].iterdir() if c.is_dir() for p in c.iterdir()
        )
        drawn = [
            f
            for s, f in (("val", data.val_fraction), ("test", data.test_fraction))
            if s not in folders
        ]
    else:
        images, _, lists = layout.mask_folder(data.path)
        listed = {t for s in ("val", "test") for t in lists.get(s, [])}
        pool = len(lists.get("train") or set(images) - listed)
        drawn = [
            f
            for s, f in (("val", data.val_fraction), ("test", data.test_fraction))
            if s not in lists
        ]
    return round(pool * (1 - sum(drawn)))


def size_estimate(study, n_train: int) -> str:
    """The study's size as FT image passes (every FT runs to its last epoch; early stopping
    shortens it), and a GPU advice above GPU_ADVISED_PASSES."""
    ft = {s: (len(study.taus_of(s)), cfg.ft.epochs) for s, cfg in study.settings.items()}
    passes = sum(t * e for t, e in ft.values()) * len(study.seeds) * n_train
    taus, epochs = max(ft.values())
    line = (
        f"size: at most {passes:,} FT image passes ({taus} taus x {len(study.seeds)} seeds x "
        f"{len(ft)} settings x {epochs} FT epochs x {n_train:,} training examples)"
    )
    if passes > GPU_ADVISED_PASSES:
        line += (
            f"; above {GPU_ADVISED_PASSES:,}, use a GPU (snakemake --resources gpu=1): on 2 CPU "
            "threads a ResNet18 trains a few images per second at 224 px"
        )
    return line


def render(data: str, kind: str, backbone: str, weights: str, out: str) -> str:
    family = KINDS[kind]
    model = _backbone(backbone, family)
    classes = _classes(Path(data)) if kind == "maskfolder" else None
    hp, ft = SETTINGS[family]
    folder = paths.study_folder(out, None)
    results, runs = (f"{root}/{folder}/" if folder else f"{root}/" for root in ("results", "runs"))
    text = HEADER.format(out=out, results=results, runs=runs) + DATA[kind].format(
        path=data, classes=classes, **preprocessing(backbone)
    )
    text += (
        "imports:\n  backbone:   # fixed pretrained weights, loaded strictly (every key must match)\n"
        f"    family: {'molecules' if family == 'molecules' else 'classification'}\n"
        f"    model: {model}\n" + _weights(weights)
    )
    text += (
        "settings:   # appendix B's learning rates; FT: SGD, momentum 0.9, cosine schedule, early stopping\n"
        f"  own:        {_setting(hp, ft)}\n"
        "  # label-smoothed HP (eta 0.9): Table 1's lsHPmax-FT row\n"
        f"  own_ls:     {_setting({**hp, 'eta': 0.9}, ft)}\n"
    )
    if family == "classification":
        mlp = _setting(hp, ft, "{kind: mlp, hidden: 256}")
        text += f"  # a 2-layer MLP head (width 256): Table 2\n  own_mlp:    {mlp}\n"
    return text


def run(data: str, kind: str, backbone: str, weights: str, out: str) -> None:
    from pipeline import params
    from pipeline.data import layout
    from pipeline.families import get_config

    target = Path(out)
    if target.exists():
        raise PipelineError(f"{target}: expected a new file for the study, found one already there")
    text = render(data, kind, backbone, weights, out)
    raw = yaml.safe_load(text)
    cfg = get_config(KINDS[kind]).DataCfg(
        **{k: v for k, v in raw["datasets"]["own"].items() if k != "family"}
    )
    layout.check(cfg)
    study = params.validate(raw, str(target), check_files="url" not in raw["imports"]["backbone"])
    write_text(target, text)
    print(f"wrote {target}; next: snakemake --cores {os.cpu_count() or 1} --configfile {target}")
    print(size_estimate(study, train_examples(kind, cfg)))
