"""requirements.txt (direct pins), constraints.txt (their closure) and the conda env agree."""

from __future__ import annotations

import pytest
from conftest import ROOT

from pipeline.errors import PipelineError
from pipeline.tools import envfile


def test_constraints_pin_exactly_the_closure_of_the_direct_pins():
    requirements = (ROOT / "requirements.txt").read_text()
    text = (ROOT / "constraints.txt").read_text()
    assert text == envfile.constraints(requirements)  # regenerate with `python -m pipeline envfile`
    pinned = envfile.pins(text)
    assert set(envfile.pins(requirements)) <= set(pinned)
    assert "torch==2.14.1" in pinned and "torchvision==0.29.1" in pinned
    assert not any(p.startswith("taskhead") for p in pinned)  # the project itself comes from `-e .`


def dist(root, name: str, version: str, *requires: str) -> None:
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *[f"Requires-Dist: {r}" for r in requires],
    ]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def test_the_closure_follows_extras_and_markers(tmp_path, monkeypatch):
    dist(tmp_path, "thfake-a", "1.0", "thfake-b>=1", "thfake-c[x]")
    dist(tmp_path, "thfake-b", "2.0", "thfake-e; extra == 'y'")
    dist(
        tmp_path,
        "thfake-c",
        "3.0",
        "thfake-d; extra == 'x'",
        "thfake-e; extra == 'y'",
        "thfake-f; python_version < '3'",
    )
    for name in "def":
        dist(tmp_path, f"thfake-{name}", "0.1")
    dist(tmp_path, "thfake-unrelated", "9.9")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert envfile.closure(["thfake-a==1.0"]) == [
        "thfake-a==1.0",
        "thfake-b==2.0",
        "thfake-c==3.0",
        "thfake-d==0.1",
    ]
    with pytest.raises(
        PipelineError, match="expected thfake-a==1.1 installed, found thfake-a==1.0"
    ):
        envfile.closure(["thfake-a==1.1"])


def test_pins_drop_comments():
    assert envfile.pins("# torch==1.0\nnumpy==2.0  # the arrays\n\n-c constraints.txt\n") == [
        "numpy==2.0"
    ]
