"""The package's layers: the order docs/architecture.md states is the one import-linter checks,
it holds, a violation of it is caught, and no two modules import each other."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def contract_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    return layers


def documented_layers() -> list[str]:
    """The layers of docs/architecture.md's drawing, top to bottom: its `pipeline.` names."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    drawing = re.search(r"<!-- layers: begin -->\n```\n(.*?)```\n<!-- layers: end -->", text, re.S)
    assert drawing, "docs/architecture.md: expected the layers drawing between its markers"
    rows = [re.findall(r"pipeline\.[\w.]+", line) for line in drawing[1].splitlines()]
    return [" | ".join(row) for row in rows if row]


def lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(cwd), "PATH": str(LINT.parent)},
    )


def test_the_contract_is_the_documented_order():
    assert contract_layers() == documented_layers()


def test_the_layers_hold():
    proc = lint(ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "1 kept, 0 broken" in proc.stdout


def test_an_import_against_the_order_is_caught(tmp_path):
    """The same package with one upward import (a data loader importing a report module)."""
    shutil.copytree(
        ROOT / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / "pipeline" / "data" / "layout.py", "a") as f:
        f.write("\nfrom pipeline.report import stats  # noqa: E402\n")
    proc = lint(tmp_path)
    assert proc.returncode == 1 and "BROKEN" in proc.stdout
    assert "pipeline.data.layout -> pipeline.report.stats" in proc.stdout


def test_no_two_modules_import_each_other():
    graph = grimp.build_graph("pipeline", cache_dir=None)
    both = {
        tuple(sorted((a, b)))
        for a in graph.modules
        for b in graph.find_modules_directly_imported_by(a)
        if a in graph.find_modules_directly_imported_by(b)
    }
    assert not both
