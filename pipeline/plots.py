"""Figures: validation score against tau (figure 4) and the z metrics against tau (13-15),
each setting a line of means over seeds in a shaded band of mean ± 95% CI half-width."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from .atomic import atomic_path
from .stats import interval

Z_METRICS = [
    ("z_dist_sq", "||z_T - z_0||^2"),
    ("z_dot", "z_T . z_0"),
    ("z_norm_sq", "||z_T||^2"),
    ("z_cos", "cos(z_T, z_0)"),
]


def _save(fig, path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _lines(ax, summary: pd.DataFrame, col: str, ylabel: str) -> None:
    """Per setting, the mean of `col` at each tau joined by straight lines, the CI shaded."""
    for setting, df in summary.groupby("setting", sort=False):
        ivs = {tau: interval(g[col]) for tau, g in df.groupby("tau")}
        taus = list(ivs)
        (line,) = ax.plot(taus, [iv.mean for iv in ivs.values()], marker="o", ms=3, label=setting)
        ax.fill_between(
            taus,
            [iv.low for iv in ivs.values()],
            [iv.high for iv in ivs.values()],
            color=line.get_color(),
            alpha=0.2,
            lw=0,
        )
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("tau (HP epochs)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _legend(ax) -> None:
    """Below the panel, outside the data (constrained layout makes room for it)."""
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)


def _n_line(summary: pd.DataFrame) -> str:
    return f"mean over n = {summary['seed'].nunique()} seeds, band: 95% CI"


def val_vs_tau(summary: pd.DataFrame, path) -> None:
    families = list(dict.fromkeys(summary["family"]))
    fig, axes = plt.subplots(
        1, len(families), figsize=(5 * len(families), 4.4), squeeze=False, layout="constrained"
    )
    for ax, fam in zip(axes[0], families, strict=True):
        sub = summary[summary["family"] == fam]
        _lines(ax, sub, "val_score", f"validation {sub['metric'].iloc[0]}")
        ax.set_title(fam)
        _legend(ax)
    fig.suptitle(f"Validation score against tau ({_n_line(summary)})")
    _save(fig, path)


def z_vs_tau(summary: pd.DataFrame, path) -> None:
    """One row per z metric, one column per backbone: each on its own scale (the ResNet's
    distances are hundreds of times the toy MLP's)."""
    backbones = list(dict.fromkeys(summary["pretrain"]))
    fig, axes = plt.subplots(
        len(Z_METRICS),
        len(backbones),
        figsize=(4.4 * len(backbones), 2.7 * len(Z_METRICS) + 1),
        squeeze=False,
        layout="constrained",
    )
    for j, backbone in enumerate(backbones):
        sub = summary[summary["pretrain"] == backbone]
        for i, (col, label) in enumerate(Z_METRICS):
            _lines(axes[i, j], sub, col, label)
            if i < len(Z_METRICS) - 1:
                axes[i, j].set_xlabel("")
        axes[0, j].set_title(f"{sub['family'].iloc[0]}: {backbone}")
        _legend(axes[-1, j])
    fig.suptitle(f"Feature adaptation against tau ({_n_line(summary)})")
    _save(fig, path)
