"""The paper's trends over tau, per setting and seed, from results/summary.csv (pandas, scipy).

Section 4.2: as tau grows the energy E_aie falls, ||z_T - z_0||^2 falls and
cos(z_T, z_0) rises. Each seed's run is summarised by Spearman's rank correlation with tau
over the setting's grid (scipy.stats.spearmanr): -1 is a perfectly falling quantity, +1 a
rising one. Over seeds: the mean rho, its 95% t-interval and how many seeds agree in sign.
The quantities: the columns with a `trend` (pipeline/report/columns.py).
"""

from __future__ import annotations

import math

import pandas as pd

from pipeline.report import columns
from pipeline.report.stats import interval
from pipeline.report.tables import n_seeds, pick, render


def spearman(df: pd.DataFrame, col: str) -> float:
    """Spearman's rho of `col` against tau (NaN when either is constant)."""
    from scipy.stats import spearmanr

    if df["tau"].nunique() < 2 or df[col].nunique() < 2:
        return math.nan
    return float(spearmanr(df["tau"], df[col]).statistic)


def rhos(df: pd.DataFrame, col: str) -> pd.Series:
    """Spearman's rho of `col` against tau for each seed of one setting, by seed."""
    return pd.Series({seed: spearman(g, col) for seed, g in df.groupby("seed")}, dtype=float)


def rho_text(rho: pd.Series, how: str) -> str:
    """`-0.90 [-1.00, -0.70], 3/3 negative`: mean rho, its 95% CI (within [-1, 1]) and the
    seeds whose rho has the sign the paper expects (`how`: falls or rises)."""
    iv = interval(rho)
    if not iv.n:
        return "n/a"
    sign, agree = ("negative", (rho < 0).sum()) if how == "falls" else ("positive", (rho > 0).sum())
    ci = "" if iv.n < 2 else f" [{max(iv.low, -1):+.2f}, {min(iv.high, 1):+.2f}]"
    return f"{iv.mean:+.2f}{ci}, {agree}/{iv.n} {sign}"


def table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per setting: the mean over seeds of each trend's quantity along the tau grid,
    and its rho summary."""
    rows, judged = {}, columns.judged()
    for setting, df in summary.groupby("setting", sort=False):
        means = df.groupby("tau")[[c.name for c in judged]].mean()
        row = {"taus": ", ".join(str(int(t)) for t in means.index)}
        for c in judged:
            row[c.text] = ", ".join(f"{v:.3g}" for v in means[c.name])
            row[f"rho({c.text}, tau)"] = rho_text(rhos(df, c.name), c.trend.how)
        rows[setting] = row
    return pd.DataFrame(rows).T


def bn_split(summary: pd.DataFrame) -> pd.DataFrame:
    """For backbones with BatchNorm: the statistics part ||z_0(target) - z_0(source)||^2 and the
    weights part ||z_T - z_0(target)||^2 of the feature change, at the smallest and largest
    tau, beside ||z_T - z_0||^2 measured from the setting's own z_0."""
    rows, dist = {}, columns.get("z_dist_sq").text
    for setting, df in summary.groupby("setting", sort=False):
        if df["z_stats_dist_sq"].isna().all():
            continue
        tmin, tmax = int(df["tau"].min()), int(df["tau"].max())
        rows[setting] = {
            "bn": df["bn"].iloc[0],
            "statistics part": interval(df.groupby("seed")["z_stats_dist_sq"].first()).text(),
            "weights part, tau min": interval(pick(df, tmin, "z_weights_dist_sq")).text(),
            "weights part, tau max": interval(pick(df, tmax, "z_weights_dist_sq")).text(),
            f"{dist}, tau max": interval(pick(df, tmax, "z_dist_sq")).text(),
        }
    return pd.DataFrame(rows).T


def markdown(summary: pd.DataFrame) -> str:
    judged = columns.judged()
    expected = "; ".join(f"{c.text} {c.trend.how}" for c in judged)
    signs = ", ".join("-1" if c.trend.how == "falls" else "+1" for c in judged)
    text = (
        f"# Trends over tau\n\nThe paper (section 4.2) expects, as tau grows: {expected}, i.e. rho = {signs}. "
        f"Values: the mean over n = {n_seeds(summary)} seeds at each tau of the setting's grid, from "
        f"`summary.csv` (beside this file). rho: Spearman's rank correlation with tau, per seed; shown as the mean rho, "
        f"its 95% CI over seeds (Student's t, within [-1, 1]) and the seeds whose rho has the expected sign.\n\n"
        f"{render(table(summary))}\n"
    )
    split = bn_split(summary)
    if len(split):
        text += (
            "\n## BatchNorm: statistics part and weights part of the feature change\n\n"
            "For backbones with BatchNorm, z_0 depends on which running statistics it is computed with. "
            "Statistics part: ‖z_0(target statistics) - z_0(source statistics)‖², the same for every tau. "
            "Weights part: ‖z_T - z_0(target statistics)‖², what FT changed. ‖z_T - z_0‖² uses the "
            "statistics of the setting's `bn`. Mean ± 95% CI half-width over seeds.\n\n"
            f"{render(split)}\n"
        )
    return text
