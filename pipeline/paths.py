"""Where every stage reads and writes. Snakemake rules, dvc.yaml and the stages agree on these.

Replicates live in `seedN` folders: a backbone under its pretraining seed (the study's
`seed`, or each replicate seed with `replicate_pretrain`), HP heads and FT models under
their replicate seed.
"""

from __future__ import annotations

from pathlib import Path

RUNS = Path("runs")
RESULTS = Path("results")
PARAMS_JSON = (
    RESULTS / "params.json"
)  # the validated study with its defaults: what DVC's stages read


def dataset(name: str) -> Path:
    return RUNS / "data" / f"{name}.pt"


def backbone(pretrain: str, seed: int) -> Path:
    return RUNS / "pretrain" / pretrain / f"seed{seed}" / "backbone.pt"


def hp_dir(setting: str) -> Path:
    return RUNS / setting / "hp"


def hp_head(setting: str, seed: int, tau: int) -> Path:
    return hp_dir(setting) / f"seed{seed}" / f"tau{tau}.pt"


def hp_log(setting: str) -> Path:
    """The HP log of every seed of a setting; written last, it stands for the heads."""
    return hp_dir(setting) / "log.json"


def ft_dir(setting: str) -> Path:
    return RUNS / setting / "ft"


def ft_seed_dir(setting: str, seed: int) -> Path:
    return ft_dir(setting) / f"seed{seed}"


def ft_model(setting: str, seed: int, tau: int) -> Path:
    return ft_seed_dir(setting, seed) / f"tau{tau}.pt"


def evaluation(setting: str) -> Path:
    return RESULTS / "evals" / f"{setting}.json"


def curves(setting: str) -> Path:
    """Per (seed, tau), the FT learning curve (epoch, train loss and accuracy, validation score)."""
    return RESULTS / "curves" / setting


def train_curves(setting: str) -> Path:
    """Per seed, the learning curves of HP (`hp_seedS.csv`: train loss and accuracy) and of
    the setting's backbone's pretraining (`pretrain_seedS.csv`, with its validation score)."""
    return RESULTS / "train_curves" / setting


def exchange(setting: str, suffix: str) -> Path:
    return RESULTS / "exchange" / f"{setting}.{suffix}"


def resume_of(out: Path) -> Path:
    """The per-epoch state an interrupted job restarts from. It lives outside every declared
    output (Snakemake and DVC delete a job's outputs before they rerun it)."""
    return RUNS / "resume" / out.parent.relative_to(RUNS) / (out.name + ".resume")


SUMMARY = RESULTS / "summary.csv"
STATS = RESULTS / "stats.csv"
TABLE1 = RESULTS / "table1.md"
TABLE2 = RESULTS / "table2.md"
TABLE3 = RESULTS / "table3.md"
TRENDS = RESULTS / "trend.md"
CONCLUSIONS = RESULTS / "conclusions.md"
COST = RESULTS / "cost.md"
METRICS = RESULTS / "metrics.json"
PLOTS = RESULTS / "plots"
FIG_VAL = PLOTS / "val_score_vs_tau.png"
FIG_ENERGY = PLOTS / "energy_vs_tau.png"
FIG_Z = PLOTS / "z_metrics_vs_tau.png"
FIG_VERDICTS = PLOTS / "verdicts.png"
AGGREGATE_OUTS = [
    SUMMARY,
    STATS,
    TABLE1,
    TABLE2,
    TABLE3,
    TRENDS,
    CONCLUSIONS,
    COST,
    METRICS,
    FIG_VAL,
    FIG_ENERGY,
    FIG_Z,
    FIG_VERDICTS,
]
