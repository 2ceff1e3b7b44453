"""Strict checkpoint import: every key must match, or the error lists them."""

import pytest
import torch

from pipeline.errors import PipelineError
from pipeline.io.checkpoints import load_strict, read_state
from pipeline.models.resnet import ResNetBackbone


def test_torchvision_style_state_dict_loads_and_fc_is_dropped(tmp_path):
    from torchvision.models import resnet18

    full = resnet18(weights=None).state_dict()
    torch.save(full, tmp_path / "r18.pth")
    backbone = ResNetBackbone(18)
    load_strict(backbone, read_state(tmp_path / "r18.pth"), "r18.pth")
    assert torch.equal(
        backbone.state_dict()["layer4.1.conv2.weight"], full["layer4.1.conv2.weight"]
    )


def test_moco_style_prefix_is_mapped(tmp_path):
    src = ResNetBackbone(10).state_dict()
    torch.save(
        {"state_dict": {f"module.encoder_q.{k}": v for k, v in src.items()}}, tmp_path / "moco.pth"
    )
    backbone = ResNetBackbone(10)
    load_strict(backbone, read_state(tmp_path / "moco.pth"), "moco.pth")
    assert torch.equal(backbone.state_dict()["conv1.weight"], src["conv1.weight"])


def test_mismatch_lists_missing_and_unexpected_keys(tmp_path):
    state = ResNetBackbone(10).state_dict()
    state.pop("layer1.0.bn1.weight")
    state["extra.weight"] = torch.zeros(1)
    state["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    with pytest.raises(PipelineError) as err:
        load_strict(ResNetBackbone(10), state, "ckpt.pt")
    text = str(err.value)
    assert "ckpt.pt" in text and "missing keys: layer1.0.bn1.weight" in text
    assert (
        "unexpected keys: extra.weight" in text and "conv1.weight: expected (64, 3, 7, 7)" in text
    )
    assert len(text.splitlines()) == 1


def test_unreadable_or_missing_file(tmp_path):
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    with pytest.raises(PipelineError, match="bad.pt: expected a torch checkpoint"):
        read_state(tmp_path / "bad.pt")
    with pytest.raises(PipelineError, match="nothing at that path"):
        read_state(tmp_path / "none.pt")
