"""results/conclusions.md: each of the paper's claims per setting (and per label-smoothing
pair), the statistics over seeds behind it, and a verdict by the rules in RULES; then the
warnings a reader must know (also printed by the aggregate stage)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report import columns, findings
from pipeline.report.stats import Interval, interval, mode_text, paired
from pipeline.report.tables import companion, n_seeds, pick, render, seed_table, tau_stars
from pipeline.report.trends import rho_text, rhos

HOLDS, FAILS, UNSURE = "holds", "does not hold", "inconclusive"
MIN_SEEDS = 3
# The smallest effect a definite verdict may rest on (see RULES).
MIN_RHO = 0.5  # mean Spearman rho of a trend
MIN_SCORE = 0.01  # a score difference: one percentage point
MIN_SHARE = 0.1  # (f): this share of the baseline's mean at its smallest tau
NEAR_CHANCE = 0.1  # HP gained less than this share of its headroom to a perfect fit


def trend_claim(col: columns.Column) -> str:
    """`(a) E_aie falls with tau`: the claim on a column with a trend."""
    return f"{col.trend.claim} {col.text} {col.trend.how} with tau"


TREND_CLAIMS = ", ".join(trend_claim(c) for c in columns.judged())

RULES = f"""\
A CI is the 95% t-interval over seeds (Student's t) of a mean, or of a difference paired by
seed. Every verdict asks on which side of 0 a CI lies, and whether the effect is large enough
to matter: `holds` if the CI lies entirely on the side the paper expects, `does not hold` if
it lies entirely on the other side, and `inconclusive` if it contains 0, if fewer than
{MIN_SEEDS} seeds give a value, or if the mean is smaller in size than the claim's minimum
effect below. A small perturbation of every number (another thread count, another GPU) can
thus move a verdict to or from `inconclusive`, but not straight between `holds` and `does
not hold`. The minimum effects keep a verdict off what three seeds cannot carry: with n = 3
the width of a t-interval is itself a matter of luck, and three seeds that land close
together give a narrow interval around a negligible mean.

- {TREND_CLAIMS}:
  per seed, Spearman's rho of the quantity against tau over the setting's grid; the CI of the
  mean rho must lie below 0 for "falls", above 0 for "rises". Minimum effect: |mean rho| >=
  {MIN_RHO:g}, a strong monotone trend (over 4 taus, one adjacent pair out of order gives 0.8,
  two give 0.6).
- (d) tau* is interior: the best interior tau is the one (neither the smallest nor the largest
  of the grid) with the highest mean validation score, ties to the smaller. Per seed, its
  validation score minus that at the smallest tau, and minus that at the largest tau. Holds if
  both CIs lie above 0; does not hold if either lies below 0; inconclusive otherwise, or with
  fewer than 3 taus. (The best interior tau is chosen on the same scores, which favours holds.)
  Minimum effect of each difference: {100 * MIN_SCORE:g} percentage point of score.
- (e) HPtau*-FT beats HP0-FT: per seed, the test score at that seed's tau* (chosen on
  validation) minus the test score at tau 0; the CI must lie above 0. Without tau 0 in the
  grid or a test split: inconclusive. Minimum effect: {100 * MIN_SCORE:g} percentage point.
- (f) label-smoothed HP keeps more energy and adapts the features more: for each setting with
  eta_HP = 1 and its companion (same family, pretrain, downstream, head, bn and eta_FT; eta_HP
  < 1), each at its largest tau, per seed: companion minus baseline E_aie, and companion minus
  baseline ‖z_T - z_0‖². Holds if both CIs lie above 0; does not hold if either lies below 0;
  inconclusive otherwise. Minimum effect of each difference: {MIN_SHARE:g} of the baseline's mean
  at its smallest tau (the energy, or the feature change, that FT has from a fresh head).

Warnings:
- HP stayed near chance: the mean HP-train fit (`hp_train_fit`) at the largest tau gained less
  than {NEAR_CHANCE:g} of the headroom it had at the smallest tau: fit(max) - fit(min) <
  {NEAR_CHANCE:g} × (1 - fit(min)). Then tau barely changes the head FT starts from.
- FT hit the epoch cap: runs that ran all `ft_epochs` (not `stopped_early`), as a share of the
  setting's runs; the tables mark with † a cell whose FT runs mostly (over half) did.
- tau* at the edge: seeds whose tau* is the smallest or the largest tau of the grid.
- Missing scores: non-finite validation or test scores (a dataset without a test split has none).
"""


def verdict(iv: Interval, expected: int, smallest: float = 0.0) -> str:
    """By the side of 0 the CI lies on (`expected`: +1 above, -1 below); inconclusive with
    fewer than MIN_SEEDS values or a mean smaller in size than `smallest` (compared at 9
    decimals, so that a mean printed as the threshold meets it)."""
    if iv.n < MIN_SEEDS or not iv.side or round(abs(iv.mean), 9) < smallest:
        return UNSURE
    return HOLDS if iv.side == expected else FAILS


def both(*verdicts: str) -> str:
    """Holds if every part holds; does not hold if any part does not; else inconclusive."""
    return FAILS if FAILS in verdicts else HOLDS if all(v == HOLDS for v in verdicts) else UNSURE


def _pp(iv: Interval) -> str:
    return f"{iv.text('.2f', 100, signed=True)} pp (n={iv.n})"


def trend_claims(df: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The trend claims ((a)-(c): the columns with a trend) for one setting: (claim,
    statistics, verdict)."""
    out = []
    for col in columns.judged():
        rho, how = rhos(df, col.name), col.trend.how
        out.append(
            (
                trend_claim(col),
                f"rho {rho_text(rho, how)}",
                verdict(interval(rho), -1 if how == "falls" else 1, MIN_RHO),
            )
        )
    return out


def interior_claim(df: pd.DataFrame) -> tuple[str, str, str]:
    """(d) for one setting."""
    claim = "(d) tau* is interior"
    taus = sorted(df["tau"].unique())
    if len(taus) < 3:
        return claim, f"grid {taus} has no interior tau", UNSURE
    means = df[df["tau"].isin(taus[1:-1])].groupby("tau")["val_score"].mean()
    best = int(means[means == means.max()].index.min())
    lo, hi = (
        paired(pick(df, best, "val_score"), pick(df, edge, "val_score"))
        for edge in (taus[0], taus[-1])
    )
    stats = (
        f"best interior tau {best}: val − val at tau {taus[0]} {_pp(lo)}, val − val at tau {taus[-1]} "
        f"{_pp(hi)}; tau* {mode_text(tau_stars(df))}"
    )
    return claim, stats, both(verdict(lo, 1, MIN_SCORE), verdict(hi, 1, MIN_SCORE))


def ft_diff(df: pd.DataFrame) -> Interval:
    """(e)'s statistic for one setting: test HPtau*-FT - HP0-FT, paired by seed."""
    s = seed_table(df)
    return paired(s["hp_tau_star_ft"], s["hp0_ft"])


def ft_claim(df: pd.DataFrame) -> tuple[str, str, str]:
    """(e) for one setting."""
    diff = ft_diff(df)
    return (
        "(e) HPtau*-FT beats HP0-FT",
        f"test HPtau*-FT − HP0-FT {_pp(diff)}",
        verdict(diff, 1, MIN_SCORE),
    )


def ls_claim(base: pd.DataFrame, ls: pd.DataFrame) -> tuple[str, str]:
    """(f) for one (baseline, companion) pair: (statistics, verdict)."""
    at_max = [(d, int(d["tau"].max())) for d in (ls, base)]
    parts, verdicts = [], []
    for col in ("energy", "z_dist_sq"):
        diff, label = paired(*(pick(d, t, col) for d, t in at_max)), columns.get(col).text
        smallest = MIN_SHARE * abs(pick(base, int(base["tau"].min()), col).mean())
        parts.append(f"{label} {diff.text(signed=True)} (n={diff.n}; minimum {smallest:.3g})")
        verdicts.append(verdict(diff, 1, smallest))
    return f"companion − baseline at tau max: {', '.join(parts)}", both(*verdicts)


def claims(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, claim (a)-(e)): statistics and verdict."""
    rows = []
    for setting, df in summary.groupby("setting", sort=False):
        for claim, stats, v in trend_claims(df) + [interior_claim(df), ft_claim(df)]:
            rows.append({"setting": setting, "claim": claim, "statistics": stats, "verdict": v})
    return pd.DataFrame(rows, columns=["setting", "claim", "statistics", "verdict"])


def ls_claims(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per setting with eta_HP = 1 that has a label-smoothed companion: claim (f)."""
    rows = []
    for setting, df in summary.groupby("setting", sort=False):
        ls = companion(summary, setting)
        if df["eta_hp"].iloc[0] != 1 or ls.empty:
            continue
        stats, v = ls_claim(df, ls)
        rows.append(
            {
                "baseline": setting,
                "companion": ls["setting"].iloc[0],
                "statistics": stats,
                "verdict": v,
            }
        )
    return pd.DataFrame(rows, columns=["baseline", "companion", "statistics", "verdict"])


def warnings(summary: pd.DataFrame) -> list[str]:
    """What a reader must know before trusting the numbers, by the rules under RULES."""
    out = []
    for setting, df in summary.groupby("setting", sort=False):
        tmin, tmax = int(df["tau"].min()), int(df["tau"].max())
        fit0, fit1 = pick(df, tmin, "hp_train_fit").mean(), pick(df, tmax, "hp_train_fit").mean()
        if fit1 - fit0 < NEAR_CHANCE * (1 - fit0):
            out.append(
                f"{setting}: HP stayed near chance: mean HP-train fit {100 * fit0:.1f}% at tau {tmin}, "
                f"{100 * fit1:.1f}% at tau {tmax} (gain under {NEAR_CHANCE:g} of the headroom)"
            )
        capped = int((~df["stopped_early"].astype(bool)).sum())
        if capped:
            out.append(
                f"{setting}: {capped}/{len(df)} FT runs ({capped / len(df):.0%}) hit the epoch cap "
                f"({int(df['ft_epochs'].max())} epochs) without stopping early"
            )
        ts = tau_stars(df)
        edge = {t: int((ts == t).sum()) for t in dict.fromkeys((tmin, tmax))}
        if sum(edge.values()):
            counts = ", ".join(f"tau {t} in {k}" for t, k in edge.items() if k)
            out.append(
                f"{setting}: tau* at the edge of the grid in {sum(edge.values())}/{len(ts)} seeds ({counts})"
            )
        for col in ("val_score", "test_score"):
            bad = int((~np.isfinite(pd.to_numeric(df[col], errors="coerce"))).sum())
            if bad:
                out.append(f"{setting}: {bad}/{len(df)} runs have no finite {col}")
    return out


# The grid's column names: each claim in a few words, after its letter (those of the trend
# claims in their columns' `trend`).
CLAIM_NAMES = {
    "(d)": "(d) tau* interior",
    "(e)": "(e) HPtau* beats HP0",
    "(f)": "(f) lsHP keeps energy",
}


def glance(found: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Verdicts only: one row per setting, one column per claim ((f) on the baseline's row),
    each column named by its claim (CLAIM_NAMES, and a trend's `grid`)."""
    table = found.assign(claim=found["claim"].str[:3]).pivot(
        index="setting", columns="claim", values="verdict"
    )
    table = table.reindex(list(dict.fromkeys(found["setting"])))
    table["(f)"] = pairs.set_index("baseline")["verdict"].reindex(table.index).fillna("")
    trends = {c.trend.claim: f"{c.trend.claim} {c.trend.grid}" for c in columns.judged()}
    return table.rename(columns=trends | CLAIM_NAMES).rename_axis(columns=None)


def compact(cells: pd.DataFrame) -> str:
    """A Markdown table without padding: the verdict grid, quoted where space is short."""
    rows = [[cells.index.name or "setting", *cells.columns], ["---"] * (len(cells.columns) + 1)]
    rows += [[str(i), *(str(v) for v in r)] for i, r in zip(cells.index, cells.values, strict=True)]
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def _ft_diffs(summary: pd.DataFrame) -> dict[str, Interval]:
    return {setting: ft_diff(df) for setting, df in summary.groupby("setting", sort=False)}


def markdown(summary: pd.DataFrame) -> str:
    found = claims(summary)
    pairs = ls_claims(summary)
    verdicts = pd.concat([found["verdict"], pairs["verdict"]]).value_counts()
    count = ", ".join(f"{verdicts.get(v, 0)} {v}" for v in (HOLDS, FAILS, UNSURE))
    seeds = ", ".join(str(s) for s in sorted(summary["seed"].unique()))
    warned = "\n".join(f"- {w}" for w in warnings(summary)) or "_none_"
    text = (
        f"# Conclusions: the paper's claims\n\nn = {n_seeds(summary)} replicate seeds ({seeds}), from "
        f"`summary.csv` (beside this file). Verdicts: {count}.\n\n"
        f"## Findings\n\n{findings.plain(found, pairs, _ft_diffs(summary), MIN_SCORE)}\n\n"
        f"## Verdicts at a glance\n\n"
        f"n = {n_seeds(summary)} seeds; claims, statistics and rules: conclusions.md.\n\n"
        f"{compact(glance(found, pairs))}\n\n## Rules\n\n{RULES}\n## Warnings\n\n{warned}\n\n"
        f"## Claims (a)-(e), per setting\n\n{render(found.set_index('setting'), 'left')}\n"
    )
    if len(pairs):
        text += (
            f"\n## Claim (f): label-smoothed HP against its eta_HP = 1 baseline\n\n"
            f"{render(pairs.set_index('baseline'), 'left')}\n"
        )
    return text
