"""Where every stage reads and writes. Snakemake rules, dvc.yaml and the stages agree on these."""
from __future__ import annotations

from pathlib import Path

RUNS = Path("runs")
RESULTS = Path("results")


def dataset(name: str) -> Path:
    return RUNS / "data" / f"{name}.pt"


def backbone(pretrain: str) -> Path:
    return RUNS / "pretrain" / pretrain / "backbone.pt"


def hp_dir(setting: str) -> Path:
    return RUNS / setting / "hp"


def hp_head(setting: str, tau: int) -> Path:
    return hp_dir(setting) / f"tau{tau}.pt"


def hp_log(setting: str) -> Path:
    return hp_dir(setting) / "log.json"


def ft_model(setting: str, tau: int) -> Path:
    return RUNS / setting / "ft" / f"tau{tau}.pt"


def evaluation(setting: str) -> Path:
    return RESULTS / "evals" / f"{setting}.json"


def curves(setting: str) -> Path:
    """Per tau, the FT learning curve (epoch, train loss and accuracy, validation score)."""
    return RESULTS / "curves" / setting


def exchange(setting: str, suffix: str) -> Path:
    return RESULTS / "exchange" / f"{setting}.{suffix}"


def resume_of(out: Path) -> Path:
    """The per-epoch state an interrupted job restarts from (never a declared output)."""
    return out.with_name(out.name + ".resume")


SUMMARY = RESULTS / "summary.csv"
TABLE1 = RESULTS / "table1.md"
TABLE2 = RESULTS / "table2.md"
TABLE3 = RESULTS / "table3.md"
TRENDS = RESULTS / "trend.md"
METRICS = RESULTS / "metrics.json"
PLOTS = RESULTS / "plots"
FIG_VAL = PLOTS / "val_score_vs_tau.png"
FIG_Z = PLOTS / "z_metrics_vs_tau.png"
AGGREGATE_OUTS = [SUMMARY, TABLE1, TABLE2, TABLE3, TRENDS, METRICS, FIG_VAL, FIG_Z]
