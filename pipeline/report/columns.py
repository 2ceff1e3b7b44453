"""The columns of results/summary.csv, one row per (setting, tau, seed), each declared once:
what it means, its unit, and what the report does with it. The order of COLUMNS is the
summary's column order.

`evaluate` builds its rows from COLUMNS (a column with a `metric` is that function of
pipeline/metrics.py over z_0 and z_T at one of FT's two z epochs), `aggregate` checks and
selects them, stats.csv holds the `aggregated` ones, the figures draw the `plot`ted ones
and the verdicts judge the ones with a `trend`. A new per-run metric: one function in pipeline/metrics.py and one
entry here. Everything reads COLUMNS when it runs, so that a test may replace it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

UNBOUNDED = (-math.inf, math.inf)
# The groups of quantities, in the order stats.csv lists them (columns in summary order
# within a group).
GROUPS = ("setting", "hp", "score", "features", "ft")


@dataclass(frozen=True)
class Plot:
    """Where a column is drawn against tau: `figure` (a key of plots.FIGURES), its axis
    `label` ({score}: the family's score, as `validation {score} (%)`), the `bounds` of the
    drawn values (the CI band is clipped to them) and the `scale` they are drawn at."""

    figure: str
    label: str
    bounds: tuple[float, float] = UNBOUNDED
    scale: float = 1.0


@dataclass(frozen=True)
class Trend:
    """A claim of the paper's section 4.2 on a column: it `how`s ("falls" or "rises") with
    tau. `claim` is its letter in conclusions.md, `grid` its name in the verdict grid,
    `sentence` the finding in plain words."""

    claim: str
    how: str
    grid: str
    sentence: str


@dataclass(frozen=True)
class Column:
    """One column of results/summary.csv. `unit` is "" for a label or a bare number; `group`
    one of GROUPS; `symbol` its name in the tables and text (default: `name`);
    `aggregated`: stats.csv gives its mean and 95% CI over seeds; `metric`: the function of
    pipeline.metrics, over (z_0, z_T), that evaluate computes it with (it returns the value,
    or a dict holding it under `key`, default the column's name; evaluate measures the
    others itself), z_T being the features after FT epoch `z_epoch` (`at` 1) or `z_epoch2`
    (`at` 2); `plot`: drawn against tau; `trend`: judged by a verdict."""

    name: str
    meaning: str
    unit: str
    group: str
    symbol: str = ""
    aggregated: bool = True
    metric: str = ""
    key: str = ""
    at: int = 1
    plot: Plot | None = None
    trend: Trend | None = None

    @property
    def text(self) -> str:
        """Its name in the tables and text: the symbol, else the column's name."""
        return self.symbol or self.name


def _label(name: str, meaning: str, unit: str = "") -> Column:
    return Column(name, meaning, unit, "setting", aggregated=False)


def at_epoch2(col: Column) -> Column:
    """A z metric read at z_epoch2 instead of z_epoch (z_dist_sq: z2_dist_sq): aggregated,
    neither drawn nor judged."""
    return replace(
        col,
        name=col.name.replace("z_", "z2_", 1),
        meaning=col.meaning.replace("z_epoch", "z_epoch2"),
        symbol="",
        key=col.name,
        at=2,
        plot=None,
        trend=None,
    )


SQ = "feature units squared"
# The feature change between z_0 and z_T, z_T read after FT epoch z_epoch.
Z_METRICS = [
    Column(
        "z_dist_sq",
        "||z_T - z_0||^2 per sample, averaged over z_split, z_T at z_epoch",
        SQ,
        "features",
        symbol="‖z_T - z_0‖²",
        metric="feature_adaptation",
        plot=Plot("z", r"$\|z_T - z_0\|_2^2$", (0.0, math.inf)),
        trend=Trend(
            "(b)",
            "falls",
            "‖z_T - z_0‖² falls",
            "The feature change ‖z_T - z_0‖² falls as tau grows",
        ),
    ),
    Column(
        "z_dot",
        "z_T . z_0 per sample, averaged over z_split, z_T at z_epoch",
        SQ,
        "features",
        metric="feature_adaptation",
        plot=Plot("z", r"$z_T \cdot z_0$"),
    ),
    Column(
        "z_norm_sq",
        "||z_T||^2 per sample, averaged over z_split, z_T at z_epoch",
        SQ,
        "features",
        metric="feature_adaptation",
        plot=Plot("z", r"$\|z_T\|_2^2$", (0.0, math.inf)),
    ),
    Column(
        "z_cos",
        "cos(z_T, z_0) per sample, averaged over z_split, z_T at z_epoch",
        "cosine",
        "features",
        symbol="cos(z_T, z_0)",
        metric="feature_adaptation",
        plot=Plot("z", r"$\cos(z_T, z_0)$", (-1.0, 1.0)),
        trend=Trend(
            "(c)", "rises", "cos rises", "cos(z_T, z_0) rises as tau grows (the features turn less)"
        ),
    ),
]
COLUMNS = [
    _label("family", "the task family: classification, molecules or segmentation"),
    _label("setting", "the setting's name in params.yaml"),
    _label("pretrain", "the backbone's pretraining"),
    _label("downstream", "the downstream dataset"),
    _label("head", "the task head (a partial backbone: -L4xK)"),
    _label("eta_hp", "HP's label-smoothing eta (1: none)"),
    _label("eta_ft", "FT's label-smoothing eta (1: none)"),
    _label("bn", "the backbone's BatchNorm statistics: source or target"),
    _label("tau", "HP's epochs before FT (0: FT from a fresh head)", "HP epochs"),
    _label("seed", "the replicate seed"),
    Column(
        "hp_train_acc", "accuracy of backbone + HP head on the training split", "fraction", "hp"
    ),
    Column(
        "hp_train_score",
        "the family's score of backbone + HP head on the training split",
        "fraction",
        "hp",
    ),
    Column(
        "hp_train_fit",
        "HP-train-acc: the family's hp_fit reading (acc, or score for multi-label molecules)",
        "fraction",
        "hp",
        symbol="HP-train-acc",
    ),
    Column(
        "energy",
        "E_aie: mean over training samples of ||e_y - p_0||_2 at the start of FT",
        "L2 norm",
        "hp",
        symbol="E_aie",
        # a softmax head's range; plots.energy_bounds widens it for sigmoid heads
        plot=Plot("energy", r"$E_{\mathrm{aie}}$", (0.0, math.sqrt(2))),
        trend=Trend("(a)", "falls", "E_aie falls", "The initial energy E_aie falls as tau grows"),
    ),
    Column("head_norm", "the L2 norm of all the head's parameters after HP(tau)", "L2 norm", "hp"),
    Column(
        "val_score",
        "the FT model's validation score (the family's metric)",
        "fraction",
        "score",
        symbol="FT-val",
        plot=Plot("val", "validation {score} (%)", (0.0, 100.0), 100.0),
    ),
    Column(
        "test_score", "the FT model's test score (NaN without a test split)", "fraction", "score"
    ),
    _label("metric", "the family's score: accuracy, roc_auc or miou"),
    Column(
        "z_epoch",
        "the FT epoch after which z_T is read (ft.z_epochs' first; the same at every tau)",
        "FT epochs",
        "ft",
        aggregated=False,
    ),
    *Z_METRICS,
    Column(
        "z_stats_dist_sq",
        "||z_0(target) - z_0(source)||^2: BatchNorm's statistics part (NaN without BatchNorm)",
        SQ,
        "features",
    ),
    Column(
        "z_weights_dist_sq",
        "||z_T - z_0(target)||^2, z_T at z_epoch: the weights part of the feature change (NaN "
        "without BatchNorm)",
        SQ,
        "features",
    ),
    Column(
        "z_epoch2",
        "the later FT epoch after which z_T is read (ft.z_epochs' second; the same at every tau)",
        "FT epochs",
        "ft",
        aggregated=False,
    ),
    *map(at_epoch2, Z_METRICS),
    Column(
        "best_epoch",
        "the FT epoch of the best validation score among the epochs run: the scored model",
        "FT epochs",
        "ft",
    ),
    Column("epochs_run", "the FT epochs run", "FT epochs", "ft"),
    Column("ft_epochs", "FT's epoch cap", "FT epochs", "ft", aggregated=False),
    Column(
        "stopped_early", "FT stopped before its cap (in stats: the share that did)", "bool", "ft"
    ),
    Column("val_acc", "the FT model's validation accuracy", "fraction", "score"),
    Column(
        "test_acc", "the FT model's test accuracy (NaN without a test split)", "fraction", "score"
    ),
]


def names() -> list[str]:
    """The summary's columns, in order."""
    return [c.name for c in COLUMNS]


def get(name: str) -> Column:
    """The column called `name`."""
    return {c.name: c for c in COLUMNS}[name]


def aggregated() -> list[str]:
    """The columns stats.csv describes, group by group (GROUPS order)."""
    return [c.name for c in sorted(COLUMNS, key=lambda c: GROUPS.index(c.group)) if c.aggregated]


def plotted(figure: str) -> list[Column]:
    """The columns drawn in `figure`, in summary order."""
    return [c for c in COLUMNS if c.plot and c.plot.figure == figure]


def judged() -> list[Column]:
    """The columns with a trend claim, by claim letter."""
    return sorted((c for c in COLUMNS if c.trend), key=lambda c: c.trend.claim)
