"""Molecular graphs: a 5-layer GCN (OGB's, with bond features), multi-task binary heads.

z is the mean-pooled graph embedding after the last GCN layer. Targets y are (N, T)
floats, NaN where a label is missing; the loss, accuracy and energy only count labelled
entries. The score is ROC-AUC (scikit-learn) averaged over the tasks that have both
classes in the split, the OGB convention; a one-class task is reported once and left out.

PyG and scikit-learn are imported on first use, so that stages that need no graphs stay
cheap; OGB's encoders are rebuilt in pipeline/models/gcn.py (OGB's package would import
scikit-learn, pandas and an update check over the network).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.data import molecules as data
from pipeline.errors import PipelineError
from pipeline.families.base import Family, Splits
from pipeline.families.configs import MoleculeDataCfg as DataCfg
from pipeline.families.configs import MoleculeModelCfg as ModelCfg
from pipeline.metrics import energy_sigmoid
from pipeline.models.gcn import AtomEncoder, BondEncoder
from pipeline.models.heads import make_head


def _remove_generated_source(conv) -> None:
    """Delete the file PyG generated for this MessagePassing class's `propagate`.

    PyG renders `propagate` (and `edge_updater`) from a jinja template once per class and
    process, writes it with tempfile.NamedTemporaryFile(delete=False) into the system temp
    directory and imports it from there (torch_geometric/template.py, PyG 2.8: no option
    for where, and the file is never removed). The imported module needs no file, so a job
    leaves nothing in TMPDIR; only its tracebacks lose the source lines of that module."""
    prefix = f"{type(conv).__module__}_{type(conv).__name__}_"
    for kind in ("propagate", "edge_updater"):
        path = getattr(sys.modules.get(prefix + kind), "__file__", None)
        if (
            path
            and os.path.dirname(path) == tempfile.gettempdir()
            and os.path.basename(path).startswith(prefix)
        ):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


@cache
def _conv_class() -> type:
    """OGB's GCN layer with bond features (ogb examples/graphproppred/mol/conv.py):
    h_i' = sum_j n_ij relu(W h_j + e_ij) + relu(W h_i + r) / d_i, with n_ij = 1/sqrt(d_i d_j)."""
    from torch_geometric.nn import MessagePassing
    from torch_geometric.utils import degree

    class BondGCNConv(MessagePassing):
        def __init__(self, dim: int):
            super().__init__(aggr="add")
            _remove_generated_source(self)
            self.linear, self.root = nn.Linear(dim, dim), nn.Embedding(1, dim)
            self.bonds = BondEncoder(dim)

        def forward(self, x, edge_index, edge_attr):
            x = self.linear(x)
            row, col = edge_index
            deg = degree(row, x.size(0), dtype=x.dtype) + 1
            norm = deg.pow(-0.5)[row] * deg.pow(-0.5)[col]
            out = self.propagate(edge_index, x=x, edge_attr=self.bonds(edge_attr), norm=norm)
            return out + F.relu(x + self.root.weight) / deg.view(-1, 1)

        def message(self, x_j, edge_attr, norm):
            return norm.view(-1, 1) * F.relu(x_j + edge_attr)

    return BondGCNConv


class GCN(nn.Module):
    """OGB's GNN_node with GCN layers: AtomEncoder, then per layer conv -> BatchNorm ->
    ReLU (not after the last) -> dropout; z = global mean pool over each graph's atoms."""

    def __init__(self, m: ModelCfg):
        super().__init__()
        self.atoms = AtomEncoder(m.hidden)
        self.convs = nn.ModuleList(_conv_class()(m.hidden) for _ in range(m.layers))
        self.norms = nn.ModuleList(nn.BatchNorm1d(m.hidden) for _ in range(m.layers))
        self.dropout = m.dropout

    def forward(self, g) -> torch.Tensor:
        from torch_geometric.nn import global_mean_pool

        h = self.atoms(g.x)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            h = norm(conv(h, g.edge_index, g.edge_attr))
            h = F.dropout(h if i == len(self.convs) - 1 else F.relu(h), self.dropout, self.training)
        return global_mean_pool(h, g.batch, size=g.num_graphs)


_reported: set[str] = set()


def report_once(message: str) -> None:
    if message not in _reported:
        _reported.add(message)
        data.warn(message)


class RocAucScorer:
    """ROC-AUC (scikit-learn) per task over its labelled entries, averaged over the tasks
    that have both classes; the others are reported (once per process) and left out."""

    def __init__(self, tasks: list[str]):
        self.tasks, self.q, self.y = tasks, [], []

    def update(self, q, y):
        self.q.append(q.detach().float().cpu())
        self.y.append(y.detach().float().cpu())

    def compute(self) -> float:
        from sklearn.metrics import roc_auc_score

        q, y = torch.cat(self.q).numpy(), torch.cat(self.y).numpy()
        scores = []
        for t, name in enumerate(self.tasks):
            labelled = ~np.isnan(y[:, t])
            classes = sorted(set(y[labelled, t].astype(int).tolist()))
            if len(classes) < 2:
                report_once(
                    f"task {t} ({name}): expected both classes among its {int(labelled.sum())} labelled "
                    f"molecules in this split of {len(y)}, found classes {classes}; left out of ROC-AUC"
                )
                continue
            scores.append(roc_auc_score(y[labelled, t], q[labelled, t]))
        if not scores:
            raise PipelineError(
                f"ROC-AUC: expected a task with both classes among {len(self.tasks)} tasks, found "
                f"none in a split of {len(y)} molecules"
            )
        return float(sum(scores) / len(scores))


class Molecules(Family):
    name, metric = "molecules", "roc_auc"
    hp_fit = "score"  # Table 1's HP-train-acc for multi-label tasks: the training ROC-AUC
    ModelCfg, DataCfg = ModelCfg, DataCfg

    def __init__(self):
        # The task names of the last splits() call, for the scorer's messages.
        self.tasks: list[str] = []

    def prepare(self, d: DataCfg, seed: int) -> dict:
        fractions = (d.val_fraction, d.test_fraction)
        if d.dataset == "fragments":
            out = data.fragments(d.sources, d.min_prevalence, fractions, d.limit, seed)
        elif d.dataset == "solubility":
            out = data.solubility(d.val_fraction, d.limit, seed)
        elif d.dataset == "csv":
            out = data.csv_dataset(
                d.path, d.smiles_column, d.label_columns, d.split, fractions, d.limit, seed
            )
        else:
            out = data.ogb_dataset(d.dataset, d.root, d.limit, seed, d.download)
        sizes = {k: len(v["y"]) if v else 0 for k, v in out["splits"].items()}
        # Printed, not saved: a timing would change the file's bytes.
        per_s = out.pop("molecules_per_s")
        rate = f", built from SMILES at {per_s:.0f} molecules/s" if per_s else ""
        data.warn(f"{d.dataset}: {len(out['tasks'])} tasks, molecules {sizes}{rate}")
        return out

    def synthetic(self, d: DataCfg, sizes: dict[str, int], num_outputs: int, seed: int) -> dict:
        """Chains of 18 atoms (Tox21's mean size) with random OGB features in every column's
        lowest two categories, and random labels with 20% missing."""
        rng = np.random.default_rng(seed)
        n = 18
        chain = np.stack(
            [np.r_[np.arange(n - 1), np.arange(1, n)], np.r_[np.arange(1, n), np.arange(n - 1)]]
        )

        def graph():
            return {
                "node_feat": rng.integers(0, 2, (n, 9)),
                "edge_index": chain,
                "edge_feat": rng.integers(0, 2, (chain.shape[1], 3)),
                "num_nodes": n,
            }

        def labels(m):
            y = rng.integers(0, 2, (m, num_outputs)).astype(np.float32)
            y[rng.random(y.shape) < 0.2] = np.nan
            return torch.from_numpy(y)

        return {
            "tasks": [f"task{t}" for t in range(num_outputs)],
            "splits": {
                k: data.pack([graph() for _ in range(m)], labels(m)) for k, m in sizes.items()
            },
        }

    def splits(self, prepared: dict, d: DataCfg, augment: bool) -> Splits:
        """Graphs are never augmented (params validation refuses `augment` for molecules)."""
        self.tasks = prepared["tasks"]
        parts = {k: data.unpack_graphs(v) if v else None for k, v in prepared["splits"].items()}
        return Splits(parts["train"], parts["train"], parts["val"], parts["test"], len(self.tasks))

    def loader(self, ds, batch_size, shuffle, seed, workers=0, pin_memory=False):
        from torch_geometric.loader import DataLoader

        from pipeline.runtime.seeding import generator, worker_init_fn

        return DataLoader(
            ds,
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator(seed),
            num_workers=workers,
            worker_init_fn=worker_init_fn,
            pin_memory=pin_memory,
        )

    def unpack(self, batch, device):
        batch = batch.to(device, non_blocking=True)
        return batch, batch.y

    def backbone(self, m: ModelCfg) -> nn.Module:
        return GCN(m)

    def pretrain_head(self, m: ModelCfg, num_outputs: int) -> nn.Module:
        return make_head("linear", m.hidden, num_outputs)

    def task_model(self, backbone, m: ModelCfg, head_cfg, num_outputs):
        return backbone, make_head(head_cfg.kind, m.hidden, num_outputs, head_cfg.hidden)

    def loss(self, q, y, eta):
        """Mean BCE over the labelled entries, targets eta * y + (1 - eta) / 2."""
        labelled = ~torch.isnan(y)
        if not labelled.any():
            return q.sum() * 0.0
        target = eta * y[labelled] + (1.0 - eta) * 0.5
        return F.binary_cross_entropy_with_logits(q.float()[labelled], target)

    def correct(self, q, y):
        labelled = ~torch.isnan(y)
        return ((q[labelled] > 0) == (y[labelled] > 0.5)).sum().item(), int(labelled.sum().item())

    def energy(self, q, y):
        e, has_label = energy_sigmoid(q, y)
        return e[has_label].sum().item(), int(has_label.sum().item())

    def scorer(self, num_outputs: int) -> RocAucScorer:
        names = (
            self.tasks
            if len(self.tasks) == num_outputs
            else [f"task{i}" for i in range(num_outputs)]
        )
        return RocAucScorer(names)


FAMILY = Molecules()
