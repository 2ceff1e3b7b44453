"""The paper's trends over tau, per setting, from results/summary.csv (pandas, scipy).

Section 4.2: as tau grows the energy E_aie falls, ||z_T - z_0||^2 falls and
cos(z_T, z_0) rises. Each is summarised by Spearman's rank correlation with tau over the
setting's grid (scipy.stats.spearmanr): -1 is a perfectly falling quantity, +1 a rising one.
"""
from __future__ import annotations

import pandas as pd

TRENDS = [("energy", "E_aie", "falls"), ("z_dist_sq", "‖z_T - z_0‖²", "falls"), ("z_cos", "cos(z_T, z_0)", "rises")]


def spearman(df: pd.DataFrame, col: str) -> float:
    """Spearman's rho of `col` against tau (NaN when either is constant)."""
    from scipy.stats import spearmanr

    df = df.sort_values("tau")
    return float(spearmanr(df["tau"], df[col]).statistic)


def table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per setting: the values over its tau grid and rho for each trend."""
    rows = {}
    for setting, df in summary.groupby("setting", sort=False):
        df = df.sort_values("tau")
        row = {"taus": ", ".join(str(int(t)) for t in df["tau"])}
        for col, label, _ in TRENDS:
            row[label] = ", ".join(f"{v:.3g}" for v in df[col])
            row[f"rho({label}, tau)"] = f"{spearman(df, col):+.2f}"
        rows[setting] = row
    return pd.DataFrame(rows).T


def markdown(summary: pd.DataFrame) -> str:
    expected = "; ".join(f"{label} {how}" for _, label, how in TRENDS)
    body = table(summary).to_markdown(disable_numparse=True)
    return (f"# Trends over tau\n\nThe paper (section 4.2) expects, as tau grows: {expected}, i.e. rho = -1, -1, +1. "
            f"Values per setting over its tau grid, from `results/summary.csv`; rho is Spearman's rank "
            f"correlation with tau. Every setting here is one seed: a single draw of a chaotic training run.\n\n"
            f"{body}\n")
