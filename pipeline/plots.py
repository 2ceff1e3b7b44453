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
    fig, axes = plt.subplots(1, len(families), figsize=(5 * len(families), 3.8), squeeze=False, layout="constrained")
    for ax, fam in zip(axes[0], families):
        sub = summary[summary["family"] == fam]
        _lines(ax, sub, "val_score", f"validation {sub['metric'].iloc[0]}")
        ax.set_title(fam)
        ax.legend(fontsize=7)
    _save(fig, path)


def z_vs_tau(summary: pd.DataFrame, path) -> None:
    """One row per z metric, one column per backbone: each on its own scale (the ResNet's
    distances are hundreds of times the toy MLP's)."""
    backbones = list(dict.fromkeys(summary["pretrain"]))
    fig, axes = plt.subplots(len(Z_METRICS), len(backbones), figsize=(4.2 * len(backbones), 2.6 * len(Z_METRICS)),
                             squeeze=False, layout="constrained")
    for j, backbone in enumerate(backbones):
        sub = summary[summary["pretrain"] == backbone]
        for i, (col, label) in enumerate(Z_METRICS):
            _lines(axes[i, j], sub, col, label)
            if i == 0:
                axes[i, j].set_title(f"{sub['family'].iloc[0]}: {backbone}")
                axes[i, j].legend(fontsize=6)
    _save(fig, path)
