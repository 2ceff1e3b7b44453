"""Figures: validation score against tau (figure 4) and the z metrics against tau (13-15)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .atomic import atomic_path  # noqa: E402

Z_METRICS = [("z_dist_sq", "||z_T - z_0||^2"), ("z_dot", "z_T . z_0"), ("z_norm_sq", "||z_T||^2"),
             ("z_cos", "cos(z_T, z_0)")]


def _save(fig, path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _lines(ax, summary: pd.DataFrame, col: str, ylabel: str) -> None:
    for setting, df in summary.groupby("setting", sort=False):
        df = df.sort_values("tau")
        ax.plot(df["tau"], df[col], marker="o", ms=3, label=setting)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("tau (HP epochs)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def val_vs_tau(summary: pd.DataFrame, path) -> None:
    families = list(dict.fromkeys(summary["family"]))
    fig, axes = plt.subplots(1, len(families), figsize=(5 * len(families), 3.6), squeeze=False)
    for ax, fam in zip(axes[0], families):
        sub = summary[summary["family"] == fam]
        _lines(ax, sub, "val_score", f"validation {sub['metric'].iloc[0]}")
        ax.set_title(fam)
        ax.legend(fontsize=7)
    _save(fig, path)


def z_vs_tau(summary: pd.DataFrame, path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, (col, label) in zip(axes.flat, Z_METRICS):
        _lines(ax, summary, col, label)
        ax.set_title(label)
    axes.flat[0].legend(fontsize=7)
    _save(fig, path)
