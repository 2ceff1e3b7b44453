"""A job's fixed costs: reading the study imports no torch, a training job imports no torch
compiler (torch._dynamo) nor torchvision, and none of that changes a number."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, run_cli, tiny_study, write_params

HEAVY = ("torch", "pandas", "matplotlib")


def python(code: str, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def imported(importtime_log: str) -> set[str]:
    """Module names from `python -X importtime` lines ('import time: self | cumulative | name')."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime_log.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def every_family_study() -> dict:
    study = tiny_study()
    study["datasets"]["sol"] = {"family": "molecules", "dataset": "solubility"}
    study["datasets"]["shapes"] = {"family": "segmentation", "dataset": "shapes", "size": 32}
    return study


@pytest.mark.parametrize("stage", ["validate", "targets", "gpus"])
def test_the_cli_reads_the_study_without_torch(tmp_path, stage):
    write_params(tmp_path / "params.yaml", every_family_study())
    proc = run_cli(stage, cwd=tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1"})
    names = imported(proc.stderr)
    assert "pipeline.params" in names or stage == "gpus"
    assert not {n for n in names if n.split(".")[0] in HEAVY}


def test_the_snakefile_modules_import_no_torch(tmp_path):
    write_params(tmp_path / "params.yaml", every_family_study())
    code = (
        "import sys\n"
        "from pipeline import params\nfrom pipeline.io import paths\nfrom pipeline.workflow import studyfile\n"
        "from pipeline.workflow.targets import final_targets\n"
        "from pipeline.runtime.device import visible_gpus\n"
        "study = params.load('params.yaml')\n"
        "final_targets(study), visible_gpus()\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    assert python(code, cwd=tmp_path).stdout.strip() == "[]"


def test_family_config_classes_are_the_families_own():
    from pipeline.data import molecules as mol_data
    from pipeline.data import segmentation as seg_data
    from pipeline.families import configs, get_config, get_family, known_families

    assert sorted(configs.CONFIGS) == known_families()
    for name in known_families():
        family, config = get_family(name), get_config(name)
        assert (family.ModelCfg, family.DataCfg, family.backbone_from) == (
            config.ModelCfg,
            config.DataCfg,
            config.backbone_from,
        )
    from pipeline.data import catalog

    assert mol_data.SHIPPED is catalog.SHIPPED and mol_data.OGB_NAMES is catalog.OGB_NAMES
    assert (seg_data.VOC_CLASSES, seg_data.SHAPES) == (catalog.VOC_CLASSES, catalog.SHAPES)
    seg = get_config("segmentation").DataCfg(dataset="shapes", size=32, classes=3)
    assert (
        seg.num_classes == 3
        and get_config("segmentation").DataCfg(dataset="voc2012").num_classes == 21
    )
    with pytest.raises(ValueError, match="depth: expected 10, 18, 34 or 50"):
        get_config("classification").ModelCfg(arch="resnet", depth=11)
    with pytest.raises(ValueError, match="path: expected the CSV file"):
        get_config("molecules").DataCfg(dataset="csv")


JOB = """
import sys, torch
from pipeline.runtime.device import runtime
from pipeline.families import get_family
from pipeline.engine.loop import TaskModel, scheduler, sgd
from pipeline.params import HeadCfg

torchs_step = torch.optim.SGD.__dict__["step"]
rt = runtime("cpu")
fam = get_family("classification")
m = fam.ModelCfg(arch="resnet", depth=10, in_channels=1, cifar_stem=True)
torch.manual_seed(0)
backbone = fam.backbone(m)
model = TaskModel(*fam.task_model(backbone, m, HeadCfg(reinit_blocks=1), 3))
x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 0])

def train(steps):
    opt = sgd(model.parameters(), 0.1, 1e-4)
    sched = scheduler(opt, "cosine", steps)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        fam.loss(model(x), y, 0.9).backward()
        opt.step()
        sched.step()
    opt.load_state_dict(opt.state_dict()), sched.load_state_dict(sched.state_dict())
    return [p.detach().clone() for p in model.parameters()], torch.is_grad_enabled()

state = {k: v.clone() for k, v in model.state_dict().items()}
fast, grad_on = train(3)
print("imported:", sorted(n for n in ("torch._dynamo", "torch._inductor", "sympy", "torchvision") if n in sys.modules))
# The same run through torch's own step wrapper, which imports torch._dynamo:
torch.optim.SGD.step = torchs_step
model.load_state_dict(state)
slow, _ = train(3)
print("dynamo after:", "torch._dynamo" in sys.modules)
print("same:", grad_on and all(torch.equal(a, b) for a, b in zip(fast, slow)))
"""


def test_a_training_job_imports_no_torch_compiler_and_computes_the_same():
    out = python(JOB).stdout.splitlines()
    assert out == ["imported: []", "dynamo after: True", "same: True"]


def test_our_resnet_is_torchvisions():
    import torchvision.models.resnet as tv

    from pipeline.models.resnet import LAYOUTS, Bottleneck, ResNet
    from pipeline.runtime.speed import fast_paths

    for block, layers in (
        LAYOUTS[10],
        (Bottleneck, [1, 1, 1, 1]),
    ):  # ResNet50's blocks, fewer of them
        torch.manual_seed(1)
        ours, after_ours = ResNet(block, layers), torch.rand(3)
        torch.manual_seed(1)
        theirs, after_theirs = tv.ResNet(getattr(tv, block.__name__), layers), torch.rand(3)
        a, b = ours.state_dict(), theirs.state_dict()
        assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
        assert torch.equal(after_ours, after_theirs)  # the same random draws, in the same order
        x = torch.rand(2, 3, 32, 32)
        with fast_paths(False):  # layer4's 1x1 maps: the fast path sums in another order
            assert torch.equal(ours.train()(x), theirs.train()(x))


def test_our_atom_and_bond_encoders_are_ogbs():
    from ogb.graphproppred.mol_encoder import AtomEncoder as OgbAtoms
    from ogb.graphproppred.mol_encoder import BondEncoder as OgbBonds
    from ogb.utils.features import get_atom_feature_dims, get_bond_feature_dims

    from pipeline.models import gcn

    assert list(gcn.ATOM_FEATURE_DIMS) == get_atom_feature_dims()
    assert list(gcn.BOND_FEATURE_DIMS) == get_bond_feature_dims()
    for ours_cls, theirs_cls, dims in (
        (gcn.AtomEncoder, OgbAtoms, gcn.ATOM_FEATURE_DIMS),
        (gcn.BondEncoder, OgbBonds, gcn.BOND_FEATURE_DIMS),
    ):
        torch.manual_seed(2)
        ours = ours_cls(6)
        torch.manual_seed(2)
        theirs = theirs_cls(6)
        a, b = ours.state_dict(), theirs.state_dict()
        assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
        x = torch.stack([torch.randint(0, d, (5,)) for d in dims], 1)
        assert torch.equal(ours(x), theirs(x))


def test_a_molecules_job_leaves_nothing_in_tmpdir(tmp_path):
    code = (
        "import torch\n"
        "from pipeline.families.molecules import FAMILY\n"
        "g = FAMILY.backbone(FAMILY.ModelCfg(layers=2, hidden=8))\n"
        "import torch_geometric.data as D\n"
        "d = D.Data(x=torch.zeros(3, 9, dtype=torch.long), edge_index=torch.tensor([[0, 1], [1, 2]]),\n"
        "           edge_attr=torch.zeros(2, 3, dtype=torch.long))\n"
        "print(tuple(g(D.Batch.from_data_list([d])).shape))\n"
    )
    # torch._dynamo (imported by PyG) makes its compile cache folder torchinductor_USER there.
    out = python(code, env={"TMPDIR": str(tmp_path)}).stdout
    assert out.strip() == "(1, 8)"
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("torchinductor_")] == []


def test_exit_now_flushes_and_keeps_the_status():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom pipeline.runtime.startup import exit_now\n"
            "print('out', end='')\nprint('err', end='', file=sys.stderr)\nexit_now(3)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "out", "err")
