"""Imported backbones: the fetch stage (here from a file:// URL, offline) and the strict
import of a torchvision-style ResNet50 state dict."""

import pytest
import torch
from conftest import tiny_study
from torchvision.models import resnet50

from pipeline.errors import PipelineError
from pipeline.io import paths
from pipeline.io.provenance import digest
from pipeline.params import validate
from pipeline.runtime.device import Runtime
from pipeline.stages import fetch, pretrain

CPU = Runtime(torch.device("cpu"))


@pytest.fixture(scope="module")
def r50_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "resnet50.pth"
    torch.save(resnet50(weights=None).state_dict(), path)  # torchvision's own format, fc included
    return path


def _study(entry):
    raw = {**tiny_study(), "seeds": [0]}
    raw["imports"] = {
        "sup_in": {"family": "classification", "model": {"arch": "resnet", "depth": 50}, **entry}
    }
    return validate(raw)


def test_fetch_then_import_loads_every_key(in_tmp, r50_file):
    study = _study(
        {"checkpoint": "ckpt/r50.pth", "url": r50_file.as_uri(), "md5": digest(r50_file)}
    )
    fetch.run(study, "sup_in")
    pretrain.run(study, "sup_in", study.pretrain_seeds, CPU)
    saved = torch.load(paths.backbone("sup_in", study.seed))["state_dict"]
    source = torch.load(r50_file)
    assert set(saved) == set(source) - {"fc.weight", "fc.bias"}
    assert all(torch.equal(saved[k], source[k]) for k in saved)


def test_fetch_checks_the_md5(in_tmp, r50_file):
    study = _study({"checkpoint": "ckpt/r50.pth", "url": r50_file.as_uri(), "md5": "0" * 32})
    with pytest.raises(PipelineError, match="imports.sup_in.md5: expected 0000"):
        fetch.run(study, "sup_in")
    assert not (in_tmp / "ckpt" / "r50.pth").exists()  # nothing half-written


def test_a_wrong_architecture_is_refused_with_its_keys(in_tmp, r50_file):
    raw = {**tiny_study(), "seeds": [0]}
    raw["imports"] = {
        "r18": {
            "family": "classification",
            "model": {"arch": "resnet", "depth": 18},
            "checkpoint": str(r50_file),
        }
    }
    with pytest.raises(
        PipelineError, match=r"unexpected keys: layer1\.0\.bn3\.bias, .* \(198 in all\)"
    ):
        pretrain.run(validate(raw), "r18", [0], CPU)
