"""The segmentation family: data, VOC loader, encoder transfer, void labels, HP freezing, CLI run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import run_cli, write_params
from PIL import Image
from voc_fixture import TRAIN, VAL, class_of, save_mask, write_voc

from pipeline.engine.setting import Setting
from pipeline.errors import PipelineError
from pipeline.families import get_family
from pipeline.families.classification import ModelCfg
from pipeline.io import paths
from pipeline.models.resnet import ResNetBackbone
from pipeline.params import HeadCfg, validate
from pipeline.runtime.device import Runtime
from pipeline.stages import prepare, probe

SEG = get_family("segmentation")
CPU = Runtime(torch.device("cpu"))
LN3 = math.log(3.0)

STUDY = {
    "seed": 0,
    "seeds": [0],
    "device": "cpu",
    "taus": [0, 1],
    "z_split": "train",
    "imports": {},
    "exchange": {},
    "datasets": {
        "tex": {
            "family": "classification",
            "dataset": "textures",
            "size": 32,
            "channels": 3,
            "classes": 3,
            "crop": 40,
            "n_per_class": 10,
        },
        "scenes": {
            "family": "segmentation",
            "dataset": "shapes",
            "size": 32,
            "classes": 3,
            "n_train": 6,
            "n_val": 3,
            "n_test": 3,
        },
    },
    "pretrain": {
        "enc": {
            "family": "classification",
            "model": {"arch": "resnet", "depth": 10, "in_channels": 3},
            "data": "tex",
            "epochs": 1,
            "lr": 0.05,
            "batch_size": 16,
        }
    },
    "settings": {
        "seg": {
            "pretrain": "enc",
            "data": "scenes",
            "head": {"hidden": 16},
            "hp": {"lr": 0.1, "batch_size": 4},
            "ft": {"lr": 0.01, "epochs": 1, "patience": 1, "batch_size": 4},
        }
    },
}


def random_backbone(depth: int = 10, seed: int = 0) -> dict:
    """A classification backbone's state dict with non-default BatchNorm statistics."""
    torch.manual_seed(seed)
    state = ResNetBackbone(depth, 3).state_dict()
    for key, value in state.items():
        if key.endswith(("running_mean", "running_var")):
            state[key] = torch.rand_like(value) + 0.5
    return state


@pytest.fixture
def study(in_tmp):
    """The tiny study in a scratch directory: scenes prepared, a pretrained backbone file written."""
    s = validate(STUDY)
    prepare.run(s, "scenes")
    paths.backbone("enc", 0).parent.mkdir(parents=True)
    torch.save({"state_dict": random_backbone()}, paths.backbone("enc", 0))
    return s


def parts(study, **kw):
    ctx = Setting(study, "seg", 0)
    return ctx.parts(ctx.splits(augment=False), CPU, **kw)


# ---- data ---------------------------------------------------------------------------


def test_shapes_are_deterministic_with_void_outlines():
    cfg = SEG.DataCfg(dataset="shapes", size=32, n_train=8, n_val=2, n_test=2)
    a, b, c = SEG.prepare(cfg, 0), SEG.prepare(cfg, 0), SEG.prepare(cfg, 1)
    assert all(torch.equal(a[k][i], b[k][i]) for k in a for i in (0, 1))
    assert not torch.equal(a["train"][0], c["train"][0])
    x, y = a["train"]
    assert x.shape == (8, 3, 32, 32) and x.dtype == torch.uint8 and y.shape == (8, 32, 32)
    assert set(y.unique().tolist()) <= {0, 1, 2, 3, 4, 255} and 255 in y and (y > 0).any()
    assert SEG.splits(a, cfg, augment=False).num_outputs == 5


def test_voc_layout_loader(tmp_path):
    write_voc(tmp_path)
    cfg = SEG.DataCfg(dataset="voc2012", root=str(tmp_path), size=32, val_fraction=0.25)
    data = SEG.prepare(cfg, 0)
    assert [len(data[k][1]) for k in ("train", "val", "test")] == [3, 1, 2]
    x, y = data["test"]
    assert x.shape == (2, 3, 32, 32) and y.shape == (2, 32, 32)
    for mask, name in zip(
        y, VAL, strict=True
    ):  # nearest resizing keeps exactly the labels, void included
        assert set(mask.unique().tolist()) == {0, class_of(name), 255}
    train_labels = set(torch.cat([data["train"][1], data["val"][1]]).unique().tolist())
    assert train_labels == {0, 255} | {class_of(n) for n in TRAIN}
    assert SEG.splits(data, cfg, augment=False).num_outputs == 21


def test_voc_missing_tree_is_a_clear_error(tmp_path):
    with pytest.raises(PipelineError, match="VOCdevkit/VOC2012"):
        SEG.prepare(SEG.DataCfg(dataset="voc2012", root=str(tmp_path)), 0)


def test_voc_mask_values_outside_the_classes(tmp_path):
    base = write_voc(tmp_path)
    mask = np.zeros((40, 48), np.uint8)
    mask[:5, :5], mask[-5:, -5:] = 30, 42
    save_mask(base / "SegmentationClass" / f"{TRAIN[1]}.png", mask)
    with pytest.raises(
        PipelineError, match=rf"{TRAIN[1]}\.png: expected class indices 0..20 or 255.*\[30, 42\]"
    ):
        SEG.prepare(SEG.DataCfg(dataset="voc2012", root=str(tmp_path)), 0)


def test_voc_image_and_mask_of_different_sizes(tmp_path):
    base = write_voc(tmp_path)
    Image.new("RGB", (50, 40)).save(base / "JPEGImages" / f"{VAL[0]}.jpg")
    with pytest.raises(
        PipelineError,
        match=rf"{VAL[0]}\.jpg and .*{VAL[0]}\.png: expected .* same size, "
        r"found 50x40 and 48x40",
    ):
        SEG.prepare(SEG.DataCfg(dataset="voc2012", root=str(tmp_path)), 0)


# ---- model and encoder transfer -----------------------------------------------------


def test_model_is_smp_deeplabv3_at_output_stride_8():
    import segmentation_models_pytorch as smp

    m = ModelCfg(arch="resnet", depth=18)
    backbone, head = SEG.task_model(SEG.backbone(m), m, HeadCfg(hidden=32), 4)
    ref = smp.DeepLabV3(
        "resnet18", encoder_weights=None, encoder_output_stride=8, decoder_channels=32, classes=4
    )
    state = {**{f"encoder.{k}": v for k, v in backbone.state_dict().items()}, **head.state_dict()}
    ref.load_state_dict(state, strict=True)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        z = backbone.eval()(x)
        assert z.shape == (2, 512, 8, 8)
        assert torch.allclose(head.eval()(z), ref.eval()(x), atol=1e-5)


def test_setting_loads_the_pretrained_encoder_key_by_key(study):
    backbone, _ = parts(study)
    pretrained = torch.load(paths.backbone("enc", 0))["state_dict"]
    loaded = backbone.state_dict()
    assert set(loaded) == set(pretrained)
    for key, value in pretrained.items():
        assert torch.equal(loaded[key], value), key


def test_a_mismatched_encoder_checkpoint_is_a_clear_error(study):
    torch.save({"state_dict": random_backbone(depth=18)}, paths.backbone("enc", 0))
    with pytest.raises(PipelineError, match=r"unexpected keys: layer1\.1\.") as err:
        parts(study)
    assert str(paths.backbone("enc", 0)) in str(err.value)


# ---- void labels: loss, accuracy, energy, score --------------------------------------


def void_example():
    """One image of 1x3 pixels, 2 classes: labels 0, 255 (void), 1; logits (ln3, 0) at the
    labelled pixels (softmax 0.75, 0.25) and an extreme, wrong logit at the void one."""
    q = torch.tensor([[LN3, 0.0], [0.0, 100.0], [LN3, 0.0]]).T.reshape(1, 2, 1, 3)
    return q, torch.tensor([[[0, 255, 1]]])


def test_loss_accuracy_and_energy_ignore_void_pixels():
    q, y = void_example()
    assert SEG.loss(q, y, 1.0).item() == pytest.approx((-math.log(0.75) - math.log(0.25)) / 2)
    smoothed = -(0.95 * math.log(0.75) + 0.05 * math.log(0.25)) - (
        0.05 * math.log(0.75) + 0.95 * math.log(0.25)
    )
    assert SEG.loss(q, y, 0.9).item() == pytest.approx(smoothed / 2, rel=1e-6)
    assert SEG.correct(q, y) == (1, 2)
    total, count = SEG.energy(q, y)  # ||(0.25, -0.25)|| + ||(-0.75, 0.75)||
    assert count == 2 and total == pytest.approx(
        0.25 * math.sqrt(2) + 0.75 * math.sqrt(2), rel=1e-6
    )
    assert SEG.loss(q, torch.full_like(y, 255), 1.0).item() == 0.0


def test_miou_ignores_void_and_absent_classes():
    """Labels 0 0 0 1 255, predictions 0 0 1 1 1, 3 classes (class 2 absent):
    IoU_0 = 2/3, IoU_1 = 1/2 (the void pixel's prediction does not count) -> mIoU 7/12."""
    pred = torch.tensor([0, 0, 1, 1, 1])
    q = torch.nn.functional.one_hot(pred, 3).T.float().reshape(1, 3, 1, 5)
    scorer = SEG.scorer(3)
    scorer.update(q[..., :2], torch.tensor([[[0, 0]]]))  # streamed over two batches
    scorer.update(q[..., 2:], torch.tensor([[[0, 1, 255]]]))
    assert scorer.compute() == pytest.approx(7 / 12)


# ---- HP freezing and the command line -------------------------------------------------


@pytest.mark.parametrize("augment", [False, True])
def test_probe_keeps_the_encoder_frozen(study, monkeypatch, augment):
    raw = json.loads(json.dumps(STUDY))
    raw["settings"]["seg"]["hp"]["augment"] = augment
    s = validate(raw)
    made, original = [], Setting.parts

    def parts(self, *a, **k):
        made.append(original(self, *a, **k))
        return made[-1]

    monkeypatch.setattr(Setting, "parts", parts)
    probe.run(s, "seg", CPU)
    encoder = made[0][0]
    assert not encoder.training and not any(p.requires_grad for p in encoder.parameters())
    pretrained = torch.load(paths.backbone("enc", 0))["state_dict"]
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, pretrained[key]), key
    [run] = json.loads(paths.hp_log("seg").read_text())["runs"]
    assert run["seed"] == 0
    log = run["taus"]
    assert [r["tau"] for r in log] == [0, 1] and all(0 <= r["hp_train_acc"] <= 1 for r in log)


def test_command_line_chain(tmp_path):
    """prepare -> pretrain (a classifier) -> probe -> finetune -> evaluate, each `python -m pipeline`."""
    raw = json.loads(json.dumps(STUDY))
    raw["taus"] = [1]
    write_params(tmp_path / "params.yaml", raw)
    for args in (
        ["prepare", "--dataset", "tex"],
        ["prepare", "--dataset", "scenes"],
        ["pretrain", "--name", "enc"],
        ["probe", "--setting", "seg"],
        ["finetune", "--setting", "seg", "--tau", "1"],
        ["evaluate", "--setting", "seg"],
    ):
        run_cli(*args, cwd=tmp_path)
    [row] = json.loads((tmp_path / paths.evaluation("seg")).read_text())
    assert (row["family"], row["metric"], row["tau"]) == ("segmentation", "miou", 1)
    assert (row["seed"], row["bn"]) == (0, "source")
    assert (tmp_path / paths.ft_model("seg", 0, 1)).is_file() and (
        tmp_path / paths.backbone("enc", 0)
    ).is_file()
    for key in (
        "hp_train_acc",
        "energy",
        "val_score",
        "test_score",
        "z_dist_sq",
        "z_dot",
        "z_norm_sq",
        "z_cos",
        "z_stats_dist_sq",
        "z_weights_dist_sq",
    ):  # a ResNet encoder: BatchNorm statistics to split off
        assert math.isfinite(row[key]), key
    assert 0 <= row["test_score"] <= 1 and 0 <= row["hp_train_acc"] <= 1
