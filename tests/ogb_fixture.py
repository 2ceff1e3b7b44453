"""Write a tiny OGB graph-property dataset in OGB's real on-disk layout, offline.

The layout is what the unzipped download holds, so that ogb's PygGraphPropPredDataset
runs its own reading and processing code on it:

    ROOT/ogbg_moltox21/RELEASE_v1.txt
                       mapping/mol.csv.gz            task columns, smiles, mol_id
                       raw/edge.csv.gz               one row per bond (add_inverse_edge)
                       raw/edge-feat.csv.gz, raw/node-feat.csv.gz
                       raw/num-node-list.csv.gz, raw/num-edge-list.csv.gz
                       raw/graph-label.csv.gz        empty cell = missing label
                       split/scaffold/{train,valid,test}.csv.gz
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from ogb.utils import smiles2graph

TASKS = {  # the real task columns of mapping/mol.csv.gz
    "ogbg-moltox21": [
        "NR-AR",
        "NR-AR-LBD",
        "NR-AhR",
        "NR-Aromatase",
        "NR-ER",
        "NR-ER-LBD",
        "NR-PPAR-gamma",
        "SR-ARE",
        "SR-ATAD5",
        "SR-HSE",
        "SR-MMP",
        "SR-p53",
    ],
    "ogbg-molhiv": ["HIV_active"],
    "ogbg-molpcba": [f"PCBA-{i}" for i in range(128)],
}
SMILES = [
    "CCO",
    "CCN",
    "CC(=O)O",
    "c1ccccc1",
    "c1ccccc1O",
    "c1ccncc1",
    "CCCl",
    "CC(C)O",
    "OCCO",
    "c1ccc2ccccc2c1",
    "CC#N",
    "C1CCCCC1",
    "CCOC(=O)C",
    "NC(=O)c1ccccc1",
    "Clc1ccccc1",
    "[Na+].[Cl-]",
]


def _write(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, header=False, index=False, compression="gzip")


def write_ogb_fixture(
    root: Path,
    name: str = "ogbg-moltox21",
    smiles: list[str] = SMILES,
    seed: int = 0,
    missing: float = 0.2,
    split: tuple[int, int] = (10, 3),
) -> Path:
    """A dataset folder for `name` under `root`, with the dataset's real task columns; labels
    are seeded 0/1 with a `missing` fraction left empty (the first task always labelled, with
    both classes), and the first split[0] molecules are train, the next split[1] valid."""
    tasks = TASKS[name]
    rng = np.random.default_rng(seed)
    folder = Path(root) / name.replace("-", "_")
    graphs = [smiles2graph(s) for s in smiles]
    labels = rng.integers(0, 2, size=(len(smiles), len(tasks))).astype(float)
    labels[:, 0] = np.arange(len(smiles)) % 2  # both classes in every split for the first task
    labels[rng.random(labels.shape) < missing] = np.nan
    labels[:, 0] = np.where(np.isnan(labels[:, 0]), np.arange(len(smiles)) % 2, labels[:, 0])
    (folder / "RELEASE_v1.txt").parent.mkdir(parents=True, exist_ok=True)
    (folder / "RELEASE_v1.txt").write_text("fixture written by tests/ogb_fixture.py\n")
    mapping = pd.DataFrame(labels, columns=tasks).assign(
        mol_id=[f"M{i}" for i in range(len(smiles))], smiles=smiles
    )
    (folder / "mapping").mkdir(exist_ok=True)
    mapping.to_csv(folder / "mapping" / "mol.csv.gz", index=False, compression="gzip")
    one_way = [g["edge_index"][:, ::2] for g in graphs]  # smiles2graph lists each bond both ways
    _write(folder / "raw" / "edge.csv.gz", np.concatenate(one_way, axis=1).T)
    _write(
        folder / "raw" / "edge-feat.csv.gz", np.concatenate([g["edge_feat"][::2] for g in graphs])
    )
    _write(folder / "raw" / "node-feat.csv.gz", np.concatenate([g["node_feat"] for g in graphs]))
    _write(folder / "raw" / "num-node-list.csv.gz", [g["num_nodes"] for g in graphs])
    _write(folder / "raw" / "num-edge-list.csv.gz", [e.shape[1] for e in one_way])
    _write(folder / "raw" / "graph-label.csv.gz", labels)
    order = np.arange(len(smiles))
    bounds = {
        "train": order[: split[0]],
        "valid": order[split[0] : sum(split)],
        "test": order[sum(split) :],
    }
    for part, idx in bounds.items():
        _write(folder / "split" / "scaffold" / f"{part}.csv.gz", idx)
    return folder
