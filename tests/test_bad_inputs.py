"""Bad input of every kind, as a user meets it: a non-zero exit, at most three lines that
name the key or file, no traceback, and no file under runs/ or results/ written or deleted.

Params and YAML kinds go through `python -m pipeline validate` and `snakemake -n` on
params.yaml; CLI kinds through the CLI; artifact kinds through the stage that reads the
artifact, after a tiny study has written every artifact once (in-process, for speed).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
import yaml
from conftest import BIN, ROOT, tiny_study, write_params

from pipeline.__main__ import main
from pipeline.io import paths


def study() -> dict:
    """The tiny study cut to one setting, one seed and two taus."""
    s = tiny_study()
    s.update(taus=[0, 1], exchange={})
    del s["settings"]["toy_ls"]
    return s


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """A scratch workflow whose tiny study has run through evaluate."""
    root = tmp_path_factory.mktemp("bad")
    for name in ("Snakefile", "workflow", "pipeline"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__")) if (
            ROOT / name
        ).is_dir() else shutil.copy(ROOT / name, root / name)
    write_params(root / "params.yaml", study())
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("TASKHEAD_PARAMS", raising=False)
        for argv in (
            ["prepare", "--dataset", "digits8"],
            ["prepare", "--dataset", "d012"],
            ["pretrain", "--name", "mlp"],
            ["probe", "--setting", "toy"],
            ["finetune", "--setting", "toy"],
            ["evaluate", "--setting", "toy"],
        ):
            assert main(argv) == 0, argv
    return root


@pytest.fixture
def at(done, monkeypatch, capsys):
    """Run in the scratch workflow; `refused(argv, expect)` checks one refusal in-process."""
    monkeypatch.chdir(done)
    monkeypatch.delenv("TASKHEAD_PARAMS", raising=False)
    original = (done / "params.yaml").read_bytes()

    def refused(argv: list[str], expect: str) -> str:
        before = outputs(done)
        capsys.readouterr()
        try:
            rc = main(argv)
        except SystemExit as exit_:  # argparse
            rc = exit_.code
        captured = capsys.readouterr()
        check(rc, captured.out + captured.err, expect, before, done)
        return captured.out + captured.err

    yield refused
    (done / "params.yaml").write_bytes(original)


def outputs(root: Path) -> dict:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for d in ("runs", "results")
        for p in (root / d).rglob("*")
        if p.is_file()
    }


def check(rc, text: str, expect: str, before: dict, root: Path) -> None:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("[")]
    assert rc not in (0, None), text
    assert expect in text, text
    assert "Traceback" not in text and len(lines) <= 3, text
    assert outputs(root) == before, "a refused input wrote or deleted outputs"


def snakemake_refusals(root: Path, cases: dict[str, tuple[bytes, str]]) -> None:
    """`snakemake -n` on each (params.yaml content, expected text), two at a time, each in its
    own directory beside the scratch workflow (sharing its code)."""
    env = {k: v for k, v in os.environ.items() if k != "TASKHEAD_PARAMS"}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"

    def one(name):
        where = root / "sm" / name.replace(" ", "_")
        where.mkdir(parents=True)
        shutil.copy(root / "Snakefile", where / "Snakefile")
        for d in ("workflow", "pipeline"):
            (where / d).symlink_to(root / d)
        (where / "params.yaml").write_bytes(cases[name][0])
        proc = subprocess.run(
            [str(BIN / "snakemake"), "-n", "--cores", "1"],
            cwd=where,
            capture_output=True,
            text=True,
            env=env,
        )
        return name, where, proc

    with ThreadPoolExecutor(2) as pool:
        for name, where, proc in pool.map(one, cases):
            check(proc.returncode, proc.stdout + proc.stderr, cases[name][1], {}, where)


# ---- params: every kind through `validate` and `snakemake -n` -----------------------------


def toy(s):
    return s["settings"]["toy"]


def with_dataset(s, name, block, setting=None):
    s["datasets"][name] = block
    if setting is not None:
        s["settings"]["x"] = {**toy(s), "data": name, **setting}


RESNET = {
    "family": "classification",
    "model": {"arch": "resnet", "depth": 10, "in_channels": 1},
    "data": "digits8",
    "epochs": 1,
}
GCN = {"family": "molecules", "model": {"layers": 2, "hidden": 8}, "data": "mols", "epochs": 1}
MOLS = {"family": "molecules", "dataset": "solubility"}
SHAPES = {"family": "segmentation", "dataset": "shapes", "size": 16}

PARAMS = [
    ("unknown key", lambda s: s.update(colour="blue"), "params.yaml: colour: Extra inputs"),
    (
        "boolean lr",
        lambda s: toy(s)["hp"].update(lr=True),
        "settings.toy.hp.lr: expected a number, found the boolean",
    ),
    ("infinite lr", lambda s: toy(s)["ft"].update(lr=float("inf")), "settings.toy.ft.lr"),
    ("NaN lr", lambda s: toy(s)["ft"].update(lr=float("nan")), "settings.toy.ft.lr"),
    (
        "text lr",
        lambda s: toy(s)["ft"].update(lr="fast"),
        "settings.toy.ft.lr: expected a number, found the text",
    ),
    (
        "negative seed",
        lambda s: s.update(seed=-1),
        "seed: Input should be greater than or equal to 0",
    ),
    ("float epochs", lambda s: toy(s)["ft"].update(epochs=2.5), "settings.toy.ft.epochs"),
    ("negative epochs", lambda s: s["pretrain"]["mlp"].update(epochs=-1), "pretrain.mlp.epochs"),
    ("missing lr", lambda s: toy(s)["ft"].pop("lr"), "settings.toy.ft.lr: Field required"),
    (
        "taus not increasing",
        lambda s: s.update(taus=[0, 4, 2]),
        "taus: expected strictly increasing",
    ),
    (
        "duplicate seeds",
        lambda s: s.update(seeds=[0, 0]),
        "seeds: expected a non-empty list of distinct",
    ),
    ("no seeds", lambda s: s.update(seeds=[]), "seeds: expected a non-empty list"),
    ("eta 0", lambda s: toy(s)["hp"].update(eta=0), "settings.toy.hp.eta"),
    ("eta above 1", lambda s: toy(s)["ft"].update(eta=1.5), "settings.toy.ft.eta"),
    (
        "unknown schedule",
        lambda s: toy(s)["ft"].update(schedule="step"),
        "settings.toy.ft.schedule",
    ),
    ("unknown bn", lambda s: toy(s).update(bn="running"), "settings.toy.bn"),
    (
        "unknown head kind",
        lambda s: toy(s)["head"].update(kind="transformer"),
        "settings.toy.head.kind",
    ),
    (
        "unknown dataset",
        lambda s: s["datasets"]["d012"].update(dataset="imagenet"),
        "datasets.d012.dataset",
    ),
    (
        "unknown family",
        lambda s: s["datasets"]["d012"].update(family="audio"),
        "datasets.d012.family",
    ),
    (
        "unknown arch",
        lambda s: s["pretrain"]["mlp"]["model"].update(arch="vit"),
        "pretrain.mlp.model.arch",
    ),
    (
        "ResNet depth",
        lambda s: s["pretrain"].update(r=dict(RESNET, model={"arch": "resnet", "depth": 20})),
        "pretrain.r.model.depth: expected 10, 18, 34 or 50",
    ),
    (
        "missing dataset",
        lambda s: toy(s).update(data="nowhere"),
        "settings.toy.data: expected one of",
    ),
    (
        "missing backbone",
        lambda s: toy(s).update(pretrain="nobody"),
        "settings.toy.pretrain: expected one of",
    ),
    (
        "exchange tau",
        lambda s: s.update(exchange={"toy": [0, 5]}),
        "exchange.toy: expected a subset",
    ),
    (
        "exchange setting",
        lambda s: s.update(exchange={"nobody": [0]}),
        "exchange.nobody: expected a setting",
    ),
    (
        "missing checkpoint",
        lambda s: s["imports"].update(
            sup={"family": "classification", "model": {"arch": "mlp"}, "checkpoint": "none.pt"}
        ),
        "imports.sup.checkpoint: expected an existing file",
    ),
    (
        "pretrain on another family",
        lambda s: (with_dataset(s, "mols", MOLS), s["pretrain"]["mlp"].update(data="mols")),
        "pretrain.mlp.data: expected a classification dataset",
    ),
    (
        "backbone of another family",
        lambda s: (
            with_dataset(s, "mols", MOLS),
            s["pretrain"].update(g=GCN),
            toy(s).update(pretrain="g"),
        ),
        "settings.toy.data: expected a dataset of family 'molecules'",
    ),
    # checks only a family knows, made before any job runs
    (
        "MLP input size",
        lambda s: with_dataset(
            s, "d16", {"family": "classification", "dataset": "digits", "size": 16}, setting={}
        ),
        "settings.x: expected inputs of 64 values",
    ),
    (
        "reinit_blocks on an MLP",
        lambda s: toy(s)["head"].update(reinit_blocks=1),
        "settings.toy.head.reinit_blocks: expected 0 for an MLP backbone",
    ),
    (
        "bn target on an MLP",
        lambda s: toy(s).update(bn="target"),
        "settings.toy.bn: expected 'source' for an MLP",
    ),
    (
        "ResNet channels",
        lambda s: s["pretrain"].update(r=dict(RESNET, model={"arch": "resnet", "depth": 10})),
        "pretrain.r: expected 3-channel images",
    ),
    (
        "reinit_blocks beyond layer4",
        lambda s: (
            s["pretrain"].update(r=RESNET),
            toy(s).update(pretrain="r", data="digits8"),
            toy(s)["head"].update(reinit_blocks=2),
        ),
        "settings.toy.head.reinit_blocks: expected 0..1",
    ),
    (
        "segmentation on an MLP",
        lambda s: with_dataset(s, "sh", SHAPES, setting={}),
        "settings.x: expected a 3-channel ResNet",
    ),
    (
        "segmentation head",
        lambda s: (
            s["pretrain"].update(
                r=dict(RESNET, model={"arch": "resnet", "depth": 10}),
            ),
            s["datasets"]["digits8"].update(channels=3),
            with_dataset(s, "sh", SHAPES, setting={"pretrain": "r", "head": {"kind": "mlp"}}),
        ),
        "settings.x.head: expected kind 'linear'",
    ),
    (
        "molecules augment",
        lambda s: (
            with_dataset(s, "mols", MOLS),
            s["pretrain"].update(g=GCN),
            s["settings"].update(
                m={**toy(s), "pretrain": "g", "data": "mols", "hp": {"lr": 0.1, "augment": True}}
            ),
        ),
        "settings.m.hp.augment: expected false for molecules",
    ),
    (
        "molecules reinit_blocks",
        lambda s: (
            with_dataset(s, "mols", MOLS),
            s["pretrain"].update(g=GCN),
            s["settings"].update(
                m={**toy(s), "pretrain": "g", "data": "mols", "head": {"reinit_blocks": 1}}
            ),
        ),
        "settings.m.head.reinit_blocks: expected 0 for the GCN",
    ),
    (
        "texture classes",
        lambda s: with_dataset(
            s, "t", {"family": "classification", "dataset": "textures", "classes": 40}
        ),
        "datasets.t.classes: expected 2..16",
    ),
    (
        "shape classes",
        lambda s: with_dataset(s, "sh", dict(SHAPES, classes=9)),
        "datasets.sh.classes: expected 2..5",
    ),
    (
        "segmentation size",
        lambda s: with_dataset(s, "sh", dict(SHAPES, size=12)),
        "datasets.sh.size",
    ),
]

YAML = [
    (
        "duplicate key",
        b"seed: 0\nseed: 1\n",
        "params.yaml:2:1: duplicate key seed (first at line 1)",
    ),
    ("not UTF-8", b"seed: \xff\n", "params.yaml: expected UTF-8 text, found byte 0xff"),
    ("syntax error", b"seed: [0\n", "params.yaml:2:1: expected valid YAML"),
    ("empty file", b"", "params.yaml: expected a mapping at the top level"),
    ("a list", b"- seed\n", "params.yaml: expected a mapping at the top level, found list"),
]


def bad_params(mutate) -> bytes:
    s = study()
    mutate(s)
    return yaml.safe_dump(s, sort_keys=False).encode()


@pytest.mark.parametrize("mutate, expect", [p[1:] for p in PARAMS], ids=[p[0] for p in PARAMS])
def test_bad_params(at, done, mutate, expect):
    (done / "params.yaml").write_bytes(bad_params(mutate))
    at(["validate"], expect)


@pytest.mark.parametrize("content, expect", [y[1:] for y in YAML], ids=[y[0] for y in YAML])
def test_bad_yaml(at, done, content, expect):
    (done / "params.yaml").write_bytes(content)
    at(["validate"], expect)


# The Snakefile validates with the same function as `validate` (pipeline.params.validate), so
# Snakemake gets one case of each source of errors: every YAML case (Snakemake reads the file
# first), the schema, cross-references, an imported checkpoint and each family's own checks.
# Every case above runs through `validate`; a `snakemake -n` costs about 2.5 s here.
THROUGH_SNAKEMAKE = [
    "unknown key",
    "boolean lr",
    "missing lr",
    "taus not increasing",
    "missing dataset",
    "exchange setting",
    "missing checkpoint",
    "backbone of another family",
    "MLP input size",
    "segmentation on an MLP",
    "molecules augment",
    "texture classes",
]


def test_snakemake_refuses_each_kind_of_bad_params_file_alike(done):
    params = {name: (mutate, expect) for name, mutate, expect in PARAMS}
    cases = {name: (bad_params(params[name][0]), params[name][1]) for name in THROUGH_SNAKEMAKE}
    snakemake_refusals(
        done, {**cases, **{name: (content, expect) for name, content, expect in YAML}}
    )


def test_many_problems_fit_on_three_lines(at, done):
    s = study()
    for key in ("lr", "epochs"):
        toy(s)["ft"][key] = "x"
    s["pretrain"]["mlp"]["lr"] = "y"
    s["colour"] = "blue"
    write_params(done / "params.yaml", s)
    at(["validate"], "params.yaml: ... and 2 more problems")


# ---- the command line ---------------------------------------------------------------------

CLI = [
    ("unknown stage", ["train"], "invalid choice: 'train'"),
    ("missing option", ["probe"], "the following arguments are required: --setting"),
    (
        "tau not a number",
        ["finetune", "--setting", "toy", "--tau", "x"],
        "argument --tau: invalid int value",
    ),
    (
        "tau off the grid",
        ["finetune", "--setting", "toy", "--tau", "7"],
        "expected --tau 7 in its grid [0, 1]",
    ),
    (
        "seed not in the study",
        ["finetune", "--setting", "toy", "--seed", "5"],
        "expected --seed 5 among",
    ),
    (
        "unknown setting",
        ["probe", "--setting", "nobody"],
        "expected a setting among ['toy'], found 'nobody'",
    ),
    ("unknown dataset", ["prepare", "--dataset", "nowhere"], "expected a dataset among"),
    ("missing params file", ["--params", "none.yaml", "validate"], "none.yaml"),
]


@pytest.mark.parametrize("argv, expect", [c[1:] for c in CLI], ids=[c[0] for c in CLI])
def test_bad_command_lines(at, argv, expect):
    at(argv, expect)


# ---- artifacts: each through the stage that reads it --------------------------------------


@contextlib.contextmanager
def replaced(path: Path, content):
    """`path` holds `content` (bytes, or an object for torch.save) inside the block."""
    original = path.read_bytes()
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    try:
        yield
    finally:
        path.write_bytes(original)


def truncated(path: Path) -> bytes:
    return path.read_bytes()[: path.stat().st_size // 2]


def loaded(path: Path):
    return torch.load(path, weights_only=False)


ARTIFACTS = [
    (
        "dataset truncated",
        lambda: paths.dataset("d012"),
        truncated,
        ["probe", "--setting", "toy"],
        "expected a prepared classification dataset, found an unreadable file",
    ),
    (
        "dataset of another family",
        lambda: paths.dataset("d012"),
        lambda p: {**loaded(p), "family": "molecules"},
        ["probe", "--setting", "toy"],
        "found one of family 'molecules'",
    ),
    (
        "dataset foreign",
        lambda: paths.dataset("d012"),
        lambda p: {"x": torch.zeros(2)},
        ["probe", "--setting", "toy"],
        "expected a prepared classification dataset with ['family', 'prepared']",
    ),
    (
        "backbone truncated",
        lambda: paths.backbone("mlp", 0),
        truncated,
        ["probe", "--setting", "toy"],
        "expected a torch checkpoint of tensors, found an unreadable file",
    ),
    (
        "backbone mis-shaped",
        lambda: paths.backbone("mlp", 0),
        lambda p: {"state_dict": {k: v[:1] for k, v in loaded(p)["state_dict"].items()}},
        ["probe", "--setting", "toy"],
        "1.weight: expected (32, 64), found (1, 64)",
    ),
    (
        "HP head truncated",
        lambda: paths.hp_head("toy", 0, 0),
        truncated,
        ["finetune", "--setting", "toy"],
        "expected an HP head, found an unreadable file",
    ),
    (
        "HP head mis-shaped",
        lambda: paths.hp_head("toy", 0, 0),
        lambda p: {"state_dict": {"weight": torch.zeros(3, 5), "bias": torch.zeros(3)}},
        ["finetune", "--setting", "toy"],
        "wrong shapes: weight: expected (3, 32), found (3, 5)",
    ),
    (
        "HP head without weights",
        lambda: paths.hp_head("toy", 0, 0),
        lambda p: {"tau": 0},
        ["finetune", "--setting", "toy"],
        "expected an HP head with ['state_dict'], found a mapping of ['tau']",
    ),
    (
        "FT model truncated",
        lambda: paths.ft_model("toy", 0, 0),
        truncated,
        ["evaluate", "--setting", "toy"],
        "expected an FT model, found an unreadable file",
    ),
    (
        "FT model without its record",
        lambda: paths.ft_model("toy", 0, 0),
        lambda p: {"state_dict": loaded(p)["state_dict"]},
        ["evaluate", "--setting", "toy"],
        "expected an FT model with ['state_dict', 'best_epoch'",
    ),
    (
        "FT model of another shape",
        lambda: paths.ft_model("toy", 0, 0),
        lambda p: {**loaded(p), "state_dict": {"weight": torch.zeros(1)}},
        ["evaluate", "--setting", "toy"],
        "missing keys: backbone.1.bias",
    ),
    (
        "FT model after a z epoch truncated",
        lambda: paths.ft_snapshot("toy", 0, 0, 1),
        truncated,
        ["evaluate", "--setting", "toy"],
        "expected the FT model after epoch 1, of this setting's shape, found an unreadable file",
    ),
    (
        "FT model after a z epoch of another shape",
        lambda: paths.ft_snapshot("toy", 0, 0, 2),
        lambda p: {**loaded(p), "state_dict": {"weight": torch.zeros(1)}},
        ["evaluate", "--setting", "toy"],
        "missing keys: backbone.1.bias",
    ),
    (
        "HP log not JSON",
        lambda: paths.hp_log("toy"),
        lambda p: b'{"runs": [',
        ["evaluate", "--setting", "toy"],
        "expected the HP log of toy, found no valid JSON",
    ),
    (
        "HP log without a tau",
        lambda: paths.hp_log("toy"),
        lambda p: b'{"runs": [{"seed": 0, "taus": [], "epochs": []}]}',
        ["evaluate", "--setting", "toy"],
        "expected the HP log of toy at seed 0, tau 0",
    ),
    (
        "evaluations not JSON",
        lambda: paths.evaluation("toy"),
        lambda p: b"\xff\xfe",
        ["aggregate"],
        "expected the evaluations of toy, found no valid JSON",
    ),
    (
        "evaluations not rows",
        lambda: paths.evaluation("toy"),
        lambda p: b'{"rows": 1}',
        ["aggregate"],
        "expected the evaluations of toy: a list of rows, found a mapping of ['rows']",
    ),
    (
        "FT curve without the training loss",
        lambda: paths.ft_curve("toy", 0, 1),
        lambda p: b"epoch,val_score\n1,0.5\n",
        ["aggregate"],
        "expected the FT curve of toy at seed 0, tau 1, with epoch and train_loss, found the "
        "columns ['epoch', 'val_score']",
    ),
]


@pytest.mark.parametrize(
    "path_of, content, argv, expect", [a[1:] for a in ARTIFACTS], ids=[a[0] for a in ARTIFACTS]
)
def test_bad_artifacts(at, done, path_of, content, argv, expect):
    path = done / path_of()
    with replaced(path, content(path)):
        assert str(path_of()) in at(argv, expect)


def test_a_foreign_imported_checkpoint(at, done):
    (done / "ckpt.pt").write_text("not a checkpoint")
    s = study()
    s["imports"]["sup"] = {
        "family": "classification",
        "model": s["pretrain"]["mlp"]["model"],
        "checkpoint": "ckpt.pt",
    }
    write_params(done / "params.yaml", s)
    at(
        ["pretrain", "--name", "sup"],
        "ckpt.pt: expected a torch checkpoint of tensors, found an unreadable file",
    )


@pytest.mark.parametrize(
    "csv, expect",
    [
        (
            "smiles,active\nnot-a-molecule,1\nC1CC,0\n",
            "mols.csv: expected molecules, found no valid SMILES in 2 rows",
        ),
        ("smiles,other\nCCO,1\n", "mols.csv: expected label columns ['active']"),
        ("formula,active\nCCO,1\n", "mols.csv: expected a SMILES column 'smiles'"),
    ],
    ids=["no valid SMILES", "no label column", "no SMILES column"],
)
def test_bad_molecule_csvs(at, done, csv, expect):
    (done / "mols.csv").write_text(csv)
    s = study()
    s["datasets"]["mols"] = {
        "family": "molecules",
        "dataset": "csv",
        "path": "mols.csv",
        "label_columns": ["active"],
    }
    write_params(done / "params.yaml", s)
    at(["prepare", "--dataset", "mols"], expect)


def test_the_kinds_are_counted():
    """docs/reliability.md states how many kinds of bad input this file covers."""
    kinds = len(PARAMS) + len(YAML) + 1 + len(CLI) + len(ARTIFACTS) + 1 + 3
    assert kinds >= 40
    assert f"{kinds} kinds of bad input" in (ROOT / "docs" / "reliability.md").read_text()
