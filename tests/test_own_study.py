"""docs/your-own-study.md, run: every command of its `bash` blocks, in a scratch copy of the
workflow, on generated files of the layouts it describes (the whole study as a dry run).
The study writes results/study/ and runs/study/, and leaves the default study's files as
they were, byte for byte."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, sh
from own_data import own_files

DOC = ROOT / "docs" / "your-own-study.md"
FULL_RUN = "snakemake --cores 2 --configfile study.yaml"


def commands() -> list[str]:
    return [
        line
        for block in re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S)
        for line in block.splitlines()
        if line.strip()
    ]


def default_files(project) -> None:
    """Files of the default study where the own study would write, had it no folder of its
    own: the own study's outputs under results/ and runs/ (and a benchmark)."""
    from pipeline.io import paths
    from pipeline.params import load
    from pipeline.workflow.targets import final_targets

    paths.use("")
    study = load(project / "study.yaml", check_files=False)
    for target in [*final_targets(study), paths.dataset("own"), paths.bench("aggregate")]:
        file = project / target / "seed0.csv" if not Path(target).suffix else project / target
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(f"the default study's {target}\n")


def digests(project) -> dict[str, str]:
    """sha256 of every file under results/, runs/, logs/ and benchmarks/, but the own study's."""
    return {
        str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
        for root in ("results", "runs", "logs", "benchmarks")
        for p in sorted((project / root).rglob("*"))
        if p.is_file() and p.relative_to(project / root).parts[0] != "study"
    }


@pytest.mark.e2e
def test_the_walkthrough_runs_from_a_folder_of_images_to_table1(project):
    """...and writes results/study/ and runs/study/ only: the default study's files, where
    the own study's would go without a folder of its own, stay byte for byte."""
    own_files(project)
    cmds = commands()
    assert cmds[0].startswith("python -m pipeline init --data photos") and FULL_RUN in cmds
    before = None
    for cmd in cmds:
        out = sh(["bash", "-c", cmd + (" -n" if cmd == FULL_RUN else "")], project).stdout
        if cmd.startswith("python -m pipeline init --data photos"):
            assert "size: at most " in out and "use a GPU" in out, out
            default_files(project)
            before = digests(project)
        if cmd.startswith("cat results/"):
            assert "| HP0-FT" in out and "verdict" in out.lower(), out
    assert len(before) > 20 and digests(project) == before
    table1 = (project / "results" / "study" / "table1.md").read_text()
    assert "own" in table1 and "lsHP" in table1
    assert (project / "runs" / "study" / "data" / "own.pt").is_file()
    summary = pd.read_csv(project / "results" / "study" / "summary.csv")
    assert set(summary["setting"]) == {"own", "own_ls", "own_mlp"} and sorted(
        set(summary["tau"])
    ) == [0, 1]
    assert summary["test_score"].notna().all()
