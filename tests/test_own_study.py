"""docs/your-own-study.md, run: every command of its `bash` blocks, in a scratch copy of the
workflow, on generated files of the layouts it describes (the whole study as a dry run)."""
from __future__ import annotations

import re

import pandas as pd
import pytest
import torch

from conftest import ROOT, sh
from own_data import digits_folder, mask_folder, timm_weights

DOC = ROOT / "docs" / "your-own-study.md"
FULL_RUN = "snakemake --cores 2 --configfile study.yaml"


def commands() -> list[str]:
    return [line for block in re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S)
            for line in block.splitlines() if line.strip()]


def own_files(root) -> None:
    """What the page's commands read: photos/, scenes/, molecules.csv and three weight files."""
    from pipeline.families import get_family
    from pipeline.models.resnet import ResNetBackbone

    digits_folder(root / "photos", per_class=12)
    mask_folder(root / "scenes", n=6)
    pd.DataFrame({"smiles": ["CCO", "c1ccccc1O"], "toxic": [1, 0]}).to_csv(root / "molecules.csv", index=False)
    timm_weights(root / "resnet10t.safetensors")
    torch.save(ResNetBackbone(18).state_dict(), root / "resnet18.pth")
    mol = get_family("molecules")
    torch.save(mol.backbone(mol.ModelCfg()).state_dict(), root / "gcn.pt")


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
    assert set(summary["setting"]) == {"own", "own_ls", "own_mlp"} and sorted(set(summary["tau"])) == [0, 1]
    assert summary["test_score"].notna().all()
