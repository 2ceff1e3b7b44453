"""docs/your-own-study.md's other data kinds, run: `init` on a mask folder and on a SMILES
table, then Snakemake to Table 1 (the walk-through itself is tests/test_own_study.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import sh
from own_data import own_files


def molecules_csv(path) -> None:
    """60 of RDKit's shipped NCI molecules, labelled by whether they hold nitrogen or a ring."""
    from pipeline.data.molecules import _package_file, read_smiles_file

    smiles = read_smiles_file(_package_file("rdkit", "Data", "NCI", "first_5K.smi"))[:60]
    pd.DataFrame(
        {
            "smiles": smiles,
            "nitrogen": [int("N" in s.upper()) for s in smiles],
            "ring": [int(any(c.isdigit() for c in s)) for s in smiles],
        }
    ).to_csv(path, index=False)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "kind, data, backbone, weights, shrink",
    [
        ("maskfolder", "scenes", "resnet18", "resnet18.pth", "datasets={own: {size: 16}}"),
        ("csv", "molecules.csv", "gcn", "gcn.pt", None),
    ],
    ids=["mask folder", "SMILES table"],
)
def test_the_other_data_kinds_run_through_snakemake(project, kind, data, backbone, weights, shrink):
    """`init`, then Snakemake on the study it wrote (shrunk: one seed, taus 0 and 1, one FT
    epoch), to Table 1, for the data kinds the walk-through only validates."""
    import yaml

    own_files(project)
    molecules_csv(project / "molecules.csv")
    sh(
        [
            "python",
            "-m",
            "pipeline",
            "init",
            "--data",
            data,
            "--kind",
            kind,
            "--backbone",
            backbone,
            "--weights",
            weights,
            "--out",
            "own.yaml",
        ],
        project,
    )
    settings = yaml.safe_load((project / "own.yaml").read_text())["settings"]
    overrides = [
        "seeds=[0]",
        "taus=[0,1]",
        "settings={" + ", ".join(f"{s}: {{ft: {{epochs: 1}}}}" for s in settings) + "}",
        *([shrink] if shrink else []),
    ]
    sh(["snakemake", "--cores", "2", "--configfile", "own.yaml", "--config", *overrides], project)
    summary = pd.read_csv(project / "results" / "own" / "summary.csv")  # own.yaml's folder
    assert set(summary["setting"]) == set(settings) and summary["test_score"].notna().all()
    assert "own" in (project / "results" / "own" / "table1.md").read_text()
