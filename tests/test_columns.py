"""The columns of results/summary.csv are declared once (pipeline/report/columns.py): the
committed summary has them in their order, and a metric added there alone reaches the
evaluation row, the summary, stats.csv and its figure."""

import csv
import inspect
import json
import math
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import pytest
import torch

from pipeline import metrics
from pipeline.io import paths
from pipeline.report import columns, plots, stats
from pipeline.stages import aggregate, evaluate

ROOT = Path(__file__).resolve().parents[1]
T2 = 4.302653  # t(0.975, 2 degrees of freedom)


def test_the_committed_summary_has_every_declared_column_in_order():
    with open(ROOT / paths.SUMMARY, newline="") as f:
        header = next(csv.reader(f))
    assert header == columns.names()


def test_every_declaration_points_at_something_that_exists():
    names = columns.names()
    assert len(set(names)) == len(names)
    assert {c.group for c in columns.COLUMNS} <= set(columns.GROUPS)
    for col in columns.COLUMNS:
        assert not col.metric or inspect.isfunction(getattr(metrics, col.metric)), col.name
        assert not col.plot or col.plot.figure in plots.FIGURES, col.name
    trends = [c.trend for c in columns.judged()]
    assert [t.claim for t in trends] == ["(a)", "(b)", "(c)"]
    assert {t.how for t in trends} <= {"falls", "rises"}


@pytest.fixture
def z_gap(monkeypatch):
    """A throw-away metric: the summed feature change, per sample, averaged over samples;
    declared in the column list alone (and drawn with the z metrics)."""
    gap = columns.Column(
        "z_gap",
        "sum of z_T - z_0 per sample",
        "feature units",
        "features",
        metric="z_gap",
        plot=columns.Plot("z", "gap", (0.0, math.inf)),
    )
    monkeypatch.setattr(columns, "COLUMNS", [*columns.COLUMNS, gap])
    monkeypatch.setattr(
        metrics, "z_gap", lambda z0, zT: (zT - z0).sum(1).mean().item(), raising=False
    )


def _measured(seed: int, tau: int) -> dict:
    """What evaluate measures itself, for one run (every column without a metric)."""
    labels = {
        "family": "classification",
        "setting": "s",
        "pretrain": "p",
        "downstream": "d",
        "head": "linear",
        "eta_hp": 1.0,
        "eta_ft": 1.0,
        "bn": "source",
        "metric": "accuracy",
        "tau": tau,
        "seed": seed,
    }
    return {**{c.name: 0.5 for c in columns.COLUMNS if not c.metric}, **labels}


def test_a_metric_declared_once_reaches_row_summary_stats_and_plot(z_gap, in_tmp):
    z0 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    rows = []
    for tau in (0, 4):
        for seed in (0, 1, 2):
            # z_T = z_0 + seed: the gap is 2 * seed (two features), ||z_T - z_0||^2 2 * seed^2
            rows.append(evaluate.summary_row(_measured(seed, tau), z0, {1: z0 + seed, 2: z0}))
    row = rows[2]
    assert list(row)[-1] == "z_gap" and list(row) == columns.names()
    assert row["z_gap"] == pytest.approx(4.0) and row["z_dist_sq"] == pytest.approx(8.0)
    assert row["z2_dist_sq"] == 0.0  # z_T at z_epoch2 is z_0 here

    paths.evaluation("s").parent.mkdir(parents=True)
    paths.evaluation("s").write_text(json.dumps(rows))
    study = SimpleNamespace(settings={"s": None}, seeds=[0, 1, 2], taus_of=lambda s: [0, 4])
    summary = aggregate.collect(study)
    assert list(summary.columns)[-1] == "z_gap"
    assert list(summary["z_gap"]) == [0.0, 2.0, 4.0] * 2

    described = stats.describe(summary)
    at0 = described[described["tau"] == 0]
    # in stats.csv's group order: after the other feature quantities
    quantities = list(at0["quantity"])
    assert quantities[quantities.index("z2_cos") + 1] == "z_gap"
    gap = at0[at0["quantity"] == "z_gap"].iloc[0]
    # 0, 2, 4: mean 2, sd 2, half-width t * 2 / sqrt(3)
    assert (gap["n"], gap["mean"], gap["sd"]) == (3, pytest.approx(2.0), pytest.approx(2.0))
    assert gap["ci_half"] == pytest.approx(T2 * 2 / math.sqrt(3), abs=1e-6)

    fig = plots.z_metrics(summary)  # one panel per z metric (one setting group)
    assert [ax.get_ylabel() for ax in fig.axes][-1] == "gap" and len(fig.axes) == 5
    plt.close(fig)


def test_z_metrics_at_each_z_epoch_and_nan_where_the_run_never_got_there():
    """z_0 = (3, 4) and (0, 1); z_T at z_epoch: (3, 4) and (0, 2); at z_epoch2: (0, 5), (0, 1).
    At z_epoch: distances 0 and 1 (mean 0.5), dots 25 and 2 (13.5), norms 25 and 4 (14.5),
    cosines 1 and 1. At z_epoch2: distances 9 + 1 = 10 and 0 (5), dots 20 and 1 (10.5), norms
    25 and 1 (13), cosines 0.8 and 1 (0.9)."""
    z0 = torch.tensor([[3.0, 4.0], [0.0, 1.0]])
    at1, at2 = torch.tensor([[3.0, 4.0], [0.0, 2.0]]), torch.tensor([[0.0, 5.0], [0.0, 1.0]])
    row = evaluate.summary_row(_measured(0, 0), z0, {1: at1, 2: at2})
    assert [row[f"z_{m}"] for m in ("dist_sq", "dot", "norm_sq", "cos")] == pytest.approx(
        [0.5, 13.5, 14.5, 1.0]
    )
    assert [row[f"z2_{m}"] for m in ("dist_sq", "dot", "norm_sq", "cos")] == pytest.approx(
        [5.0, 10.5, 13.0, 0.9]
    )
    cut = evaluate.summary_row(_measured(0, 0), z0, {1: at1, 2: None})
    assert cut["z_dist_sq"] == pytest.approx(0.5)
    assert all(math.isnan(cut[f"z2_{m}"]) for m in ("dist_sq", "dot", "norm_sq", "cos"))


def test_the_z_epoch2_columns_are_the_z_epoch_ones_aggregated_neither_drawn_nor_judged():
    for name in ("z_dist_sq", "z_dot", "z_norm_sq", "z_cos"):
        first, second = columns.get(name), columns.get(name.replace("z_", "z2_"))
        assert (first.at, second.at, second.key, second.metric) == (1, 2, name, first.metric)
        assert second.aggregated and not second.plot and not second.trend
    assert not columns.get("z_epoch").aggregated and not columns.get("z_epoch2").aggregated
    assert columns.get("head_norm").aggregated
