"""docs/your-own-study.md, run: every command of its `bash` blocks, in a scratch copy of the
workflow, on generated files of the layouts it describes (the whole study as a dry run)."""

from __future__ import annotations

import re

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


@pytest.mark.e2e
def test_the_walkthrough_runs_from_a_folder_of_images_to_table1(project):
    own_files(project)
    cmds = commands()
    assert cmds[0].startswith("python -m pipeline init --data photos") and FULL_RUN in cmds
    for cmd in cmds:
        out = sh(["bash", "-c", cmd + (" -n" if cmd == FULL_RUN else "")], project).stdout
        if cmd.startswith("cat results/"):
            assert "| HP0-FT" in out and "verdict" in out.lower(), out
    table1 = (project / "results" / "table1.md").read_text()
    assert "own" in table1 and "lsHP" in table1
    summary = pd.read_csv(project / "results" / "summary.csv")
    assert set(summary["setting"]) == {"own", "own_ls", "own_mlp"} and sorted(
        set(summary["tau"])
    ) == [0, 1]
    assert summary["test_score"].notna().all()
