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


def molecules_csv(path) -> None:
    """60 of RDKit's shipped NCI molecules, labelled by whether they hold nitrogen or a ring."""
    from pipeline.data.molecules import _package_file, read_smiles_file

    smiles = read_smiles_file(_package_file("rdkit", "Data", "NCI", "first_5K.smi"))[:60]
    pd.DataFrame({"smiles": smiles, "nitrogen": [int("N" in s.upper()) for s in smiles],
                  "ring": [int(any(c.isdigit() for c in s)) for s in smiles]}).to_csv(path, index=False)


@pytest.mark.e2e
@pytest.mark.parametrize("kind, data, backbone, weights, shrink", [
    ("maskfolder", "scenes", "resnet18", "resnet18.pth", "datasets={own: {size: 16}}"),
    ("csv", "molecules.csv", "gcn", "gcn.pt", None),
], ids=["mask folder", "SMILES table"])
def test_the_other_data_kinds_run_through_snakemake(project, kind, data, backbone, weights, shrink):
    """`init`, then Snakemake on the study it wrote (shrunk: one seed, taus 0 and 1, one FT
    epoch), to Table 1, for the data kinds the walk-through only validates."""
    import yaml

    own_files(project)
    molecules_csv(project / "molecules.csv")
    sh(["python", "-m", "pipeline", "init", "--data", data, "--kind", kind, "--backbone", backbone,
        "--weights", weights, "--out", "own.yaml"], project)
    settings = yaml.safe_load((project / "own.yaml").read_text())["settings"]
    overrides = ["seeds=[0]", "taus=[0,1]", "settings={" + ", ".join(f"{s}: {{ft: {{epochs: 1}}}}" for s in settings)
                 + "}", *([shrink] if shrink else [])]
    sh(["snakemake", "--cores", "2", "--configfile", "own.yaml", "--config", *overrides], project)
    summary = pd.read_csv(project / "results" / "summary.csv")
    assert set(summary["setting"]) == set(settings) and summary["test_score"].notna().all()
    assert "own" in (project / "results" / "table1.md").read_text()
