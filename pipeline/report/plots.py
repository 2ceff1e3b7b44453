"""The study's figures against tau, one panel per setting group (a baseline setting and its
label-smoothed companions: one backbone, downstream task, head and BatchNorm mode), so that
no panel mixes scales: figure 4 (validation score), the energy E_aie, and the z metrics of
figures 13-15. Each draws the columns whose `plot` names it (pipeline/report/columns.py),
with their labels and bounds. The verdict grid is pipeline/report/plot_verdicts.py; FT's
training loss per epoch, with the z epochs marked, is `ft_loss`."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from pipeline.report import columns, decide, plot_verdicts
from pipeline.report.plot_axes import COLORS, LEGEND_PT, save, settings, tau_axis
from pipeline.report.tables import GROUP

SCORES = {"accuracy": "accuracy", "roc_auc": "ROC-AUC", "miou": "mIoU"}
ENERGY_DEF = r"$E_{\mathrm{aie}} = \mathrm{mean}_n\, \|e_{y_n} - p_0^{(n)}\|_2$"


def groups(summary: pd.DataFrame) -> list[pd.DataFrame]:
    """The rows of each setting group, in the summary's order."""
    return [g for _, g in summary.groupby(GROUP, sort=False)]


def title(group: pd.DataFrame) -> str:
    first = group.iloc[0]
    return (
        f"{first['family']}: {first['downstream']}\nbackbone {first['pretrain']}\n"
        f"{first['head']} head, BN statistics: {first['bn']}"
    )


def energy_bounds(metric: str) -> tuple[float, float]:
    """E_aie's possible range: the declared [0, sqrt(2)] for a softmax head (the distance
    between two probability vectors); a multi-label head's K sigmoids reach sqrt(K), and the
    summary does not record K, so its band is only kept above 0."""
    (col,) = columns.plotted("energy")
    return (0.0, math.inf) if metric == "roc_auc" else col.plot.bounds


def _row(summary: pd.DataFrame, height: float = 4.2):
    parts = groups(summary)
    fig, axes = plt.subplots(
        1, len(parts), figsize=(3.4 * len(parts), height), squeeze=False, layout="constrained"
    )
    return fig, zip(axes[0], parts, strict=True)


def _suptitle(summary: pd.DataFrame, what: str) -> str:
    n = summary["seed"].nunique()
    return (
        f"{what}\nline: mean over n = {n} seeds; dots: each seed; "
        "band: 95% CI, clipped to the quantity's possible range"
    )


def figure4(summary: pd.DataFrame):
    """Figure 4 of the paper: validation score (%) against tau, HP0 the leftmost point."""
    (col,) = columns.plotted("val")
    fig, panels = _row(summary)
    for ax, group in panels:
        settings(ax, group, col.name, bounds=col.plot.bounds, scale=col.plot.scale)
        tau_axis(ax, group["tau"].unique(), hp0=True)
        ax.set_ylabel(col.plot.label.format(score=SCORES.get(group["metric"].iloc[0], "score")))
        ax.set_title(title(group), fontsize=9.5)
    fig.suptitle(_suptitle(summary, "Validation score against tau (figure 4)"), fontsize=9.5)
    return fig


def energy(summary: pd.DataFrame):
    """The average initial energy E_aie (at the start of FT) against tau."""
    (col,) = columns.plotted("energy")
    fig, panels = _row(summary)
    for ax, group in panels:
        settings(ax, group, col.name, bounds=energy_bounds(group["metric"].iloc[0]))
        tau_axis(ax, group["tau"].unique())
        ax.set_ylabel(col.plot.label)
        ax.set_title(title(group), fontsize=9.5)
    fig.suptitle(
        _suptitle(summary, f"Average initial energy {ENERGY_DEF} at the start of FT, against tau"),
        fontsize=9.5,
    )
    return fig


def z_metrics(summary: pd.DataFrame):
    """The z metrics against tau: one row each, one column per setting group."""
    parts, rows = groups(summary), columns.plotted("z")
    fig, axes = plt.subplots(
        len(rows),
        len(parts),
        figsize=(3.4 * len(parts), 2.6 * len(rows) + 1.2),
        squeeze=False,
        layout="constrained",
        sharex="col",
    )
    for j, group in enumerate(parts):
        for i, col in enumerate(rows):
            ax = axes[i, j]
            settings(ax, group, col.name, bounds=col.plot.bounds)
            tau_axis(ax, group["tau"].unique())
            ax.set_ylabel(col.plot.label)
            if i < len(rows) - 1:
                ax.set_xlabel("")
                ax.get_legend().remove()
        axes[0, j].set_title(title(group), fontsize=9.5)
    fig.suptitle(
        _suptitle(
            summary, "Feature adaptation against tau (z: the backbone's features, per sample)"
        ),
        fontsize=10,
    )
    return fig


def ft_loss(curves: pd.DataFrame, summary: pd.DataFrame):
    """FT's training loss per epoch, one panel per setting, at its smallest tau (0: FT from a
    fresh head) and its largest, each the mean over the seeds still training at that epoch;
    dashed and dotted, the two z epochs where z_T is read: has tau-0 FT flattened there?
    `curves`: the FT curves' rows (epoch, train_loss) with their setting, tau and seed."""
    names = list(dict.fromkeys(summary["setting"]))
    ncols = min(len(names), 4)
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 3.4 * nrows + 0.8), squeeze=False, layout="constrained"
    )
    for ax, name in zip(axes.flat, names, strict=False):
        own, rows = curves[curves["setting"] == name], summary[summary["setting"] == name]
        for color, tau in zip(COLORS, sorted({own["tau"].min(), own["tau"].max()}), strict=False):
            mean = own[own["tau"] == tau].groupby("epoch")["train_loss"].mean()
            ax.plot(mean.index, mean.values, color=color, marker="o", ms=3, label=f"tau {tau}")
        z1, z2 = rows[["z_epoch", "z_epoch2"]].iloc[0]
        ax.axvline(z1, color="0.3", ls="--", lw=1.2, label=f"z_epoch {z1}")
        if z2 != z1:
            ax.axvline(z2, color="0.3", ls=":", lw=1.2, label=f"z_epoch2 {z2}")
        ax.set_xlabel("FT epoch")
        ax.set_ylabel("FT training loss")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=LEGEND_PT, loc="upper center", bbox_to_anchor=(0.5, 0), frameon=False)
        ax.set_title(f"{name}\n{title(rows)}", fontsize=9)
    for ax in axes.flat[len(names) :]:
        ax.remove()
    n = summary["seed"].nunique()
    fig.suptitle(
        f"FT training loss per epoch, mean over n = {n} seeds (those still training); "
        "vertical lines: the z epochs where z_T is read",
        fontsize=9.5,
    )
    return fig


FIGURES = {"val": figure4, "energy": energy, "z": z_metrics}


def write(summary: pd.DataFrame, paths: dict, alpha: float = decide.ALPHA) -> None:
    """Each figure of FIGURES to its path in `paths` (same keys), and the verdict grid at the
    study's `alpha` to paths["verdicts"]."""
    for key, draw in FIGURES.items():
        save(draw(summary), paths[key])
    save(plot_verdicts.figure(summary, alpha), paths["verdicts"])
