"""`bn: target`: BatchNorm statistics re-estimated on the downstream training split, worked
by hand on a tiny network, then through HP, FT and evaluation of a tiny ResNet setting."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pipeline.engine import loop
from pipeline.engine.batchnorm import batchnorms, reestimate_bn
from pipeline.engine.setting import Setting
from pipeline.families import get_family
from pipeline.io import paths
from pipeline.models.resnet import ResNetBackbone
from pipeline.params import validate
from pipeline.runtime.device import Runtime
from pipeline.stages import evaluate, finetune, prepare, pretrain, probe

CPU = Runtime(torch.device("cpu"))
FAMILY = get_family("classification")


def test_reestimate_bn_by_hand():
    """Linear (x0, x1 + x2), then dropout, then BatchNorm1d. Batch 1: h = (1, 0), (3, 2):
    means (2, 1), unbiased variances (2, 2). Batch 2: h = (0, 2), (2, 4), (4, 3): means
    (2, 3), variances (4, 1). Each batch counts once: mean (2, 2), variance (3, 1.5)
    (weighting by batch size would give a mean of 2.2 in the second feature)."""
    linear = nn.Linear(3, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1, 1]])), linear.bias.zero_()
    dropout, bn = nn.Dropout(0.5), nn.BatchNorm1d(2, momentum=0.3)
    bn.running_mean.fill_(5.0), bn.running_var.fill_(7.0)
    with torch.no_grad():
        bn.weight.fill_(1.5), bn.bias.fill_(-0.5)
    net = nn.Sequential(linear, dropout, bn).train()
    before = {k: v.clone() for k, v in net.named_parameters()}
    modes = []
    dropout.register_forward_hook(
        lambda m, i, o: modes.append(("dropout", m.training, torch.equal(i[0], o)))
    )
    bn.register_forward_hook(lambda m, i, o: modes.append(("bn", m.training)))
    batches = [
        torch.tensor([[1.0, 0, 0], [3, 0, 2]]),
        torch.tensor([[0.0, 1, 1], [2, 2, 2], [4, 0, 3]]),
    ]
    loader = [(x, torch.zeros(len(x), dtype=torch.long)) for x in batches]

    out = reestimate_bn(net, loader, FAMILY, torch.device("cpu"))

    assert out is net and not any(m.training for m in net.modules())
    assert torch.allclose(bn.running_mean, torch.tensor([2.0, 2.0]))
    assert torch.allclose(bn.running_var, torch.tensor([3.0, 1.5]))
    assert bn.num_batches_tracked.item() == 2 and bn.momentum == 0.3
    # dropout off, BatchNorm collecting
    assert modes == [("dropout", False, True), ("bn", True)] * 2
    assert all(torch.equal(before[k], v) for k, v in net.named_parameters())
    assert not any(p.grad is not None for p in net.parameters())


def test_a_network_without_batchnorm_is_left_as_it_is():
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    reestimate_bn(net, [(torch.ones(2, 3), torch.zeros(2))], FAMILY, torch.device("cpu"))
    assert batchnorms(net) == [] and all(
        torch.equal(before[k], v) for k, v in net.state_dict().items()
    )


# ---- a tiny ResNet setting -------------------------------------------------------------

CHECKPOINT = "res.pt"
STUDY = {
    "seed": 0,
    "seeds": [0],
    "device": "cpu",
    "taus": [0, 1],
    "z_split": "train",
    "exchange": {},
    "pretrain": {},
    "datasets": {
        "d012": {"family": "classification", "dataset": "digits012", "size": 8, "n_per_class": 30}
    },
    "imports": {
        "res": {
            "family": "classification",
            "model": {"arch": "resnet", "depth": 10, "in_channels": 1},
            "checkpoint": CHECKPOINT,
        }
    },
    "settings": {
        name: {
            "pretrain": "res",
            "data": "d012",
            "bn": bn,
            "hp": {"lr": 0.1, "batch_size": 32},
            "ft": {"lr": 0.01, "epochs": 1, "patience": 1, "batch_size": 32},
        }
        for name, bn in (("src", "source"), ("tgt", "target"))
    },
}


@pytest.fixture
def resnet_study(in_tmp):
    """A random ResNet10 whose BatchNorm statistics are far from the digits' (its source
    domain, as it were), imported as the backbone of `src` (bn: source) and `tgt` (target)."""
    torch.manual_seed(0)
    weights = ResNetBackbone(10, 1).state_dict()
    for key, value in weights.items():
        if key.endswith("running_mean"):
            weights[key] = 2 * torch.randn_like(value)
        elif key.endswith("running_var"):
            weights[key] = torch.rand_like(value) * 4 + 0.5
    torch.save(weights, CHECKPOINT)
    study = validate(STUDY)
    prepare.run(study, "d012")
    pretrain.run(study, "res", study.pretrain_seeds, CPU)
    return study


def features_with(study, stats: str) -> torch.Tensor:
    """z over the unaugmented training split, from the backbone file with its own BatchNorm
    statistics or with statistics re-estimated by hand (HP's batch size, file order)."""
    ctx = Setting(study, "tgt", 0)
    splits = ctx.splits(augment=False)
    backbone = ResNetBackbone(10, 1)
    backbone.load_state_dict(torch.load(paths.backbone("res", 0), weights_only=False)["state_dict"])
    if stats == "target":
        reestimate_bn(backbone, FAMILY.loader(splits.train_plain, 32, False, 0), FAMILY, CPU.device)
    return loop.features(backbone, FAMILY.loader(splits.train_plain, 32, False, 0), FAMILY, CPU)[0]


def test_hp_probes_the_features_of_re_estimated_statistics(resnet_study, monkeypatch):
    seen, real = {}, probe.features

    def spy(backbone, *a):
        z, y = real(backbone, *a)
        seen["z"], seen["backbone"] = z, backbone
        return z, y

    monkeypatch.setattr(probe, "features", spy)
    probe.run(resnet_study, "tgt", CPU)
    target, source = features_with(resnet_study, "target"), features_with(resnet_study, "source")
    assert torch.allclose(seen["z"], target, atol=1e-6)
    assert (seen["z"] - source).abs().max() > 0.1  # the statistics matter for this backbone
    pretrained = torch.load(paths.backbone("res", 0), weights_only=False)["state_dict"]
    probed = seen["backbone"].state_dict()
    statistics = ("running_mean", "running_var", "num_batches_tracked")
    for key, value in pretrained.items():  # statistics replaced, weights untouched
        assert torch.equal(probed[key], value) != key.endswith(statistics), key
    assert all(m.momentum == 0.1 and not m.training for m in batchnorms(seen["backbone"]))

    probe.run(resnet_study, "src", CPU)
    assert torch.allclose(seen["z"], source, atol=1e-6)  # bn: source keeps the file's statistics


def test_evaluation_splits_the_feature_change_into_statistics_and_weights(resnet_study):
    rows = {}
    for name in ("src", "tgt"):
        probe.run(resnet_study, name, CPU)
        finetune.run(resnet_study, name, [0], [0, 1], CPU)
        rows[name] = evaluate.run(resnet_study, name, CPU)
    for name, bn in (("src", "source"), ("tgt", "target")):
        assert [(r["seed"], r["tau"], r["bn"]) for r in rows[name]] == [(0, 0, bn), (0, 1, bn)]
        for r in rows[name]:
            assert math.isfinite(r["z_stats_dist_sq"]) and math.isfinite(r["z_weights_dist_sq"])
            assert r["z_stats_dist_sq"] > 0
    for r in rows["tgt"]:  # z_0 carries the target statistics: its change is the weights' part
        assert r["z_dist_sq"] == r["z_weights_dist_sq"]
    # the statistics part compares z_0 under both statistics: the same for either setting
    src, tgt = rows["src"][0], rows["tgt"][0]
    assert src["z_stats_dist_sq"] == pytest.approx(tgt["z_stats_dist_sq"], rel=1e-6)
    assert src["z_dist_sq"] != src["z_weights_dist_sq"]
    z_by_hand = (
        (
            features_with(resnet_study, "target").double()
            - features_with(resnet_study, "source").double()
        )
        .pow(2)
        .sum(1)
        .mean()
        .item()
    )
    assert src["z_stats_dist_sq"] == pytest.approx(z_by_hand, rel=1e-5)
