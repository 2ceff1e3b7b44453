"""A user's own data and backbone: imagefolder, maskfolder and csv data, timm backbones
from a weights file, and `python -m pipeline init`; every bad input refused in one line."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
import torch
from conftest import run_cli, tiny_study
from own_data import digits_folder, mask_folder, timm_weights
from PIL import Image

from pipeline.errors import PipelineError
from pipeline.families import get_family
from pipeline.io import paths
from pipeline.params import load, validate
from pipeline.runtime.device import Runtime
from pipeline.stages import evaluate, finetune, prepare, pretrain, probe
from pipeline.tools import new_study

CPU = Runtime(torch.device("cpu"))
IMAGES, MASKS = get_family("classification"), get_family("segmentation")


def images(path, **kw):
    return IMAGES.DataCfg(dataset="imagefolder", path=str(path), size=8, **kw)


def masks(path, **kw):
    return MASKS.DataCfg(dataset="maskfolder", path=str(path), size=16, classes=3, **kw)


def one_line(err) -> str:
    assert "\n" not in str(err.value)
    return str(err.value)


# ---- imagefolder ------------------------------------------------------------------------


def test_imagefolder_draws_missing_splits_stratified_and_seeded(tmp_path):
    root = digits_folder(tmp_path / "photos", per_class=10)
    out = IMAGES.prepare(images(root, channels=3), seed=0)
    assert {k: len(y) for k, (_, y) in out.items()} == {"train": 18, "val": 6, "test": 6}
    assert out["train"][0].dtype == torch.uint8 and out["train"][0].shape[1:] == (3, 8, 8)
    assert sorted(out["val"][1].tolist()) == [0, 0, 1, 1, 2, 2]  # stratified
    again = IMAGES.prepare(images(root, channels=3), seed=0)
    assert all(torch.equal(out[k][0], again[k][0]) for k in out)


def test_imagefolder_reads_the_splits_it_has(tmp_path):
    root = digits_folder(tmp_path / "photos", per_class=6, splits=("train", "val"))
    out = IMAGES.prepare(images(root), seed=0)
    assert {k: len(y) for k, (_, y) in out.items()} == {"train": 14, "val": 18, "test": 4}


def test_imagefolder_images_stay_uint8_from_reading_to_storage(tmp_path):
    """No float copy of the image set (4 bytes a value): read as uint8, stored as read."""
    from pipeline.data.imagefolder import read

    root = digits_folder(tmp_path / "photos", per_class=4)
    out = read(str(root), 8, (0.25, 0.25), 0)
    assert all(x.dtype == torch.uint8 for x, _ in out.values())
    stored = IMAGES.prepare(images(root, channels=3, val_fraction=0.25, test_fraction=0.25), 0)
    assert all(torch.equal(stored[k][0], out[k][0]) for k in out)


def test_uint8_images_are_stored_as_their_floats_were():
    """to_uint8 of uint8 images (made grey or resized, 512 at a time) gives, bit for bit,
    what the floats x / 255 of the same images gave: the stored data did not change."""
    from pipeline.data.images import to_uint8

    g = torch.Generator().manual_seed(0)
    u = torch.randint(0, 256, (600, 3, 12, 12), dtype=torch.uint8, generator=g)
    for channels, size in ((3, 12), (1, 12), (3, 8), (1, 16)):
        assert torch.equal(to_uint8(u, channels, size), to_uint8(u.float() / 255, channels, size))


def test_a_mean_and_std_of_the_study_normalise_each_image_as_it_is_served(tmp_path):
    root = digits_folder(tmp_path / "photos", per_class=4)
    stats = {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.5]}
    cfg = images(root, channels=3, normalize=stats)
    stored = IMAGES.prepare(cfg, 0)
    x, _ = IMAGES.splits(stored, cfg, augment=False).train_plain[0]
    mean, std = (torch.tensor(stats[k])[:, None, None] for k in ("mean", "std"))
    assert x.dtype == torch.float32 and torch.equal(x, (stored["train"][0][0] / 255.0 - mean) / std)
    with pytest.raises(ValueError, match="expected a mean and a std of 1 values"):
        images(root, normalize=stats)


def test_init_states_the_study_size_and_asks_for_a_gpu_above_its_threshold(tmp_path):
    root = digits_folder(tmp_path / "photos", per_class=10)
    cfg = images(root, channels=3, val_fraction=0.1, test_fraction=0.2)
    n = new_study.train_examples("imagefolder", cfg)
    assert n == len(IMAGES.prepare(cfg, 0)["train"][1]) == 21
    study = validate(tiny_study(), check_files=False)  # 3 taus, 1 seed, 2 settings of 2 FT epochs
    line = new_study.size_estimate(study, n)
    assert line.startswith("size: at most 252 FT image passes (3 taus x 1 seeds x 2 settings x 2")
    assert "GPU" not in line
    assert "use a GPU" in new_study.size_estimate(study, new_study.GPU_ADVISED_PASSES // 12 + 1)


def _one_class(root):
    for folder in ("d1", "d2"):
        shutil.rmtree(root / "train" / folder)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (_one_class, r"train: expected at least 2 class folders, found 1 \['d0'\]"),
        (
            lambda r: [p.unlink() for p in (r / "train" / "d1").iterdir()],
            r"train/d1: expected image files",
        ),
        (
            lambda r: (r / "train" / "d0" / "notes.txt").write_text("hello"),
            r"notes.txt: expected an image file",
        ),
        (
            lambda r: digits_folder(r, classes=4, per_class=1, splits=("val",)),
            r"val: expected the class folders",
        ),
    ],
)
def test_imagefolder_bad_input_is_one_line_naming_the_path(tmp_path, breakage, message):
    root = digits_folder(tmp_path / "photos", per_class=3)
    breakage(root)
    with pytest.raises(PipelineError, match=message) as err:
        IMAGES.prepare(images(root), seed=0)
    assert one_line(err).startswith(str(root))


# ---- maskfolder ---------------------------------------------------------------------------


def test_maskfolder_uses_its_lists_and_draws_the_rest(tmp_path):
    root = mask_folder(tmp_path / "scenes", n=10)
    (root / "test.txt").write_text("s0\ns1\n")
    out = MASKS.prepare(masks(root, val_fraction=0.25), seed=0)
    assert {k: len(y) for k, (_, y) in out.items()} == {"train": 6, "val": 2, "test": 2}
    x, y = out["train"]
    assert x.shape[1:] == (3, 16, 16) and y.shape[1:] == (16, 16)
    assert set(torch.unique(y).tolist()) <= {0, 1, 2, 255}


def _resize_one(root):
    Image.new("L", (8, 8)).save(root / "masks" / "s0.png")


def test_a_maskfolder_setting_runs_hp_ft_and_evaluation(in_tmp):
    mask_folder(in_tmp / "scenes", n=8)
    raw = tiny_study()
    raw["datasets"]["seg"] = {
        "family": "segmentation",
        "dataset": "maskfolder",
        "path": "scenes",
        "classes": 3,
        "size": 16,
    }
    raw["pretrain"] = {
        "r10": {
            "family": "classification",
            "model": {"arch": "resnet", "depth": 10},
            "data": "digits8",
            "epochs": 0,
        }
    }
    raw["datasets"]["digits8"]["channels"] = 3  # the ResNet's input
    raw["settings"] = {
        "seg": {
            "pretrain": "r10",
            "data": "seg",
            "head": {"hidden": 8},
            "hp": {"lr": 0.1},
            "ft": {"lr": 0.01, "epochs": 1},
        }
    }
    raw.update(taus=[0, 1], exchange={})
    study = validate(raw)
    for name in ("seg", "digits8"):
        prepare.run(study, name)
    pretrain.run(study, "r10", [0], CPU)
    probe.run(study, "seg", CPU)
    finetune.run(study, "seg", [0], [0, 1], CPU)
    rows = evaluate.run(study, "seg", CPU)
    assert [r["tau"] for r in rows] == [0, 1] and all(0 <= r["test_score"] <= 1 for r in rows)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (
            lambda r: (r / "masks" / "s3.png").unlink(),
            r"masks: expected a file for every stem .* \['s3'\]",
        ),
        (_resize_one, r"s0.png: expected an image and mask of the same size"),
        (
            lambda r: Image.new("L", (16, 16), 7).save(r / "masks" / "s2.png"),
            r"s2.png: expected class indices 0..2",
        ),
        (
            lambda r: (r / "val.txt").write_text("s1 nope\n"),
            r"val.txt: expected stems of images/, found unknown",
        ),
    ],
)
def test_maskfolder_bad_input_is_one_line_naming_the_path(tmp_path, breakage, message):
    root = mask_folder(tmp_path / "scenes", n=6)
    breakage(root)
    with pytest.raises(PipelineError, match=message) as err:
        MASKS.prepare(masks(root), seed=0)
    one_line(err)


# ---- validate checks the layout before any job --------------------------------------------


def _study(**datasets) -> dict:
    raw = tiny_study()
    raw["datasets"].update(datasets)
    return raw


def test_validate_refuses_bad_layouts_and_csv_columns(tmp_path):
    root = digits_folder(tmp_path / "photos", classes=1, per_class=2)
    csv = tmp_path / "mols.csv"
    pd.DataFrame({"smiles": ["CCO"], "a": [1]}).to_csv(csv, index=False)
    raw = _study(
        own={"family": "classification", "dataset": "imagefolder", "path": str(root)},
        seg={
            "family": "segmentation",
            "dataset": "maskfolder",
            "path": str(tmp_path),
            "classes": 3,
        },
        mol={
            "family": "molecules",
            "dataset": "csv",
            "path": str(csv),
            "label_columns": ["a", "b"],
        },
    )
    with pytest.raises(PipelineError) as err:
        validate(raw)
    lines = str(err.value).splitlines()
    assert lines == [
        f"params.yaml: datasets.own.path: {root / 'train'}: expected at least 2 class folders, found 1 ['d0']",
        f"params.yaml: datasets.seg.path: {tmp_path / 'images'}: expected an images/ folder, found nothing",
        f"params.yaml: datasets.mol.path: {csv}: expected label columns ['b'], found columns ['smiles', 'a']",
    ]
    validate(raw, check_files=False)  # a cluster job's copy does not look at the files


# ---- timm backbones -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def r10t(tmp_path_factory):
    return timm_weights(tmp_path_factory.mktemp("w") / "r10t.safetensors")


def _timm_study(weights, head=None, bn="source", name="resnet10t", data="d012") -> dict:
    raw = tiny_study()
    raw["imports"] = {
        "t": {
            "family": "classification",
            "model": {"arch": "timm", "name": name, "in_channels": 3},
            "checkpoint": str(weights),
        }
    }
    raw["datasets"]["d012"]["channels"] = 3
    del raw["settings"]["toy_ls"], raw["exchange"]["toy"]  # the MLP toy takes 1-channel inputs
    raw["settings"]["toy"].update(pretrain="t", data=data, head=head or {"kind": "linear"}, bn=bn)
    return raw


def test_timm_import_loads_every_key_and_features_are_pooled(in_tmp, r10t):
    study = validate(_timm_study(r10t))
    pretrain.run(study, "t", [0], CPU)
    saved = torch.load(paths.backbone("t", 0))["state_dict"]
    from safetensors.torch import load_file

    source = load_file(r10t)
    assert set(saved) == set(source) - {"fc.weight", "fc.bias"}  # the classifier is dropped
    assert all(torch.equal(saved[k], source[k]) for k in saved)
    model = IMAGES.backbone(IMAGES.ModelCfg(arch="timm", name="resnet10t"))
    assert (
        model(torch.randn(2, 3, 16, 16)).shape
        == (2, 512)
        == (2, IMAGES._z_dim(IMAGES.ModelCfg(arch="timm", name="resnet10t")))
    )


def test_timm_weights_of_another_model_name_the_keys(in_tmp, r10t):
    raw = _timm_study(r10t, name="resnet14t")
    with pytest.raises(
        PipelineError,
        match=r"r10t.safetensors: expected the keys and shapes of the backbone, "
        r"found missing keys: layer1\.0\.",
    ):
        pretrain.run(validate(raw), "t", [0], CPU)


def test_a_timm_pretrain_entry_starts_from_its_weights(in_tmp, r10t):
    raw = _timm_study(r10t)
    entry = {
        "family": "classification",
        "data": "d012",
        "epochs": 0,
        "model": {"arch": "timm", "name": "resnet10t", "weights": str(r10t)},
    }
    raw["pretrain"]["own"] = entry
    study = validate(raw)
    prepare.run(study, "d012")
    pretrain.run(study, "own", [0], CPU)  # 0 epochs: the weights as they are
    from safetensors.torch import load_file

    source, saved = load_file(r10t), torch.load(paths.backbone("own", 0))["state_dict"]
    assert all(torch.equal(saved[k], source[k]) for k in saved)
    raw["imports"]["t"]["model"]["weights"] = str(r10t)
    raw["pretrain"]["own"]["model"]["weights"] = "missing.safetensors"
    with pytest.raises(PipelineError) as err:
        validate(raw)
    assert str(err.value).splitlines() == [
        "params.yaml: pretrain.own.model.weights: expected an existing file, found 'missing.safetensors'",
        "params.yaml: imports.t.model.weights: expected none (an import's weights are its `checkpoint`), "
        f"found {str(r10t)!r}",
    ]


@pytest.mark.parametrize(
    "kw, message",
    [
        (
            {"head": {"reinit_blocks": 1}},
            r"settings.toy: head.reinit_blocks: expected 0 for the timm model 'resnet10t'",
        ),
        (
            {"name": "vit_tiny_patch16_224", "bn": "target"},
            r"settings.toy: bn: expected source .* no BatchNorm layers",
        ),
        (
            {"name": "no_such_model", "bn": "target"},
            r"settings.toy: model.name: expected a timm model name",
        ),
        (
            {"data": "shapes"},
            r"settings.toy: expected a 3-channel ResNet with torchvision's stem for DeepLabV3",
        ),
    ],
)
def test_validate_refuses_what_a_timm_model_cannot_take(r10t, kw, message):
    raw = _timm_study(r10t, **kw)
    raw["datasets"]["shapes"] = {"family": "segmentation", "dataset": "shapes", "size": 32}
    with pytest.raises(PipelineError, match=message) as err:
        validate(raw)
    one_line(err)


def test_validate_imports_no_torch_for_a_timm_backbone_with_a_linear_head(tmp_path, r10t):
    from conftest import write_params
    from test_startup import HEAVY, imported

    write_params(tmp_path / "params.yaml", _timm_study(r10t))
    names = imported(run_cli("validate", cwd=tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1"}).stderr)
    assert "pipeline.params" in names and not {n for n in names if n.split(".")[0] in HEAVY}


# ---- init -----------------------------------------------------------------------------------


def test_init_writes_a_valid_study_for_each_kind(in_tmp, r10t, capsys):
    digits_folder(in_tmp / "photos", per_class=2)
    mask_folder(in_tmp / "scenes", n=3)
    pd.DataFrame({"smiles": ["CCO", "CCN"], "toxic": [1, 0]}).to_csv(
        in_tmp / "mols.csv", index=False
    )
    gcn = in_tmp / "gcn.pt"
    torch.save(
        get_family("molecules").backbone(get_family("molecules").ModelCfg()).state_dict(), gcn
    )
    for data, kind, backbone, weights in (
        ("scenes", "maskfolder", "resnet18", r10t),
        ("mols.csv", "csv", "gcn", gcn),
        ("photos", "imagefolder", "timm:resnet10t", "https://example.org/w.pth"),
    ):
        new_study.run(data, kind, backbone, str(weights), f"{kind}.yaml")
        assert f"--configfile {kind}.yaml" in capsys.readouterr().out
        assert len(load(f"{kind}.yaml", check_files=False).settings) == (
            3 if kind == "imagefolder" else 2
        )
    assert "classes: 3 " in (in_tmp / "maskfolder.yaml").read_text()
    assert "url: https://example.org/w.pth" in (in_tmp / "imagefolder.yaml").read_text()
    # a timm model's own preprocessing (its pretrained config) is the default
    images = load("imagefolder.yaml", check_files=False).datasets["own"]
    assert (images["size"], images["normalize"]) == (
        176,
        "imagenet",
    )  # resnet10t: 176 px, ImageNet's mean and std
    # vit_tiny_patch16_224 was pretrained with mean and std 0.5: the study states them
    new_study.run(
        "photos", "imagefolder", "timm:vit_tiny_patch16_224", "https://e.org/v.pth", "vit.yaml"
    )
    vit = load("vit.yaml", check_files=False).datasets["own"]
    assert (vit["size"], vit["normalize"]) == (224, {"mean": [0.5] * 3, "std": [0.5] * 3})
    with pytest.raises(PipelineError, match="csv.yaml: expected a new file"):
        new_study.run("mols.csv", "csv", "gcn", str(gcn), "csv.yaml")


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--data", "nowhere", "--kind", "imagefolder"],
            r"^error: nowhere/train: expected a train/ folder",
        ),
        (
            ["--data", "photos", "--kind", "maskfolder"],
            r"^error: photos/images: expected an images/ folder",
        ),
        (["--data", "photos", "--kind", "csv"], r"^error: photos: expected a CSV of SMILES"),
    ],
)
def test_init_refuses_data_it_cannot_read(tmp_path, args, message):
    digits_folder(tmp_path / "photos", per_class=1)
    proc = run_cli(
        "init",
        *args,
        "--backbone",
        "gcn" if "csv" in args else "resnet18",
        "--weights",
        "w.pt",
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2 and not (tmp_path / "study.yaml").exists()
    assert len(proc.stderr.splitlines()) == 1
    assert re.search(message, proc.stderr), proc.stderr
