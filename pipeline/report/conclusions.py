"""results/conclusions.md: the study judged by its analysis plan (docs/analysis-plan.md). First
the primary claim, pooled over the settings; then the secondary claims (a)-(f) per setting,
Holm-adjusted over the settings; then the warnings a reader must know (also printed by the
aggregate stage). The tests are pipeline/report/decide.py's."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.params import AnalysisCfg
from pipeline.report import columns, convergence, decide, findings
from pipeline.report.stats import Interval, interval, paired
from pipeline.report.tables import (
    companion,
    n_seeds,
    pick,
    render,
    seed_table,
    still_improving,
    tau_stars,
)

HOLDS, FAILS, UNDECIDED, EQUIVALENT = (
    decide.HOLDS,
    decide.FAILS,
    decide.UNDECIDED,
    decide.EQUIVALENT,
)
MIN_SEEDS = 2  # a t-interval, and so a test, needs two seeds
# The TOST margin of the primary claim: differences within ±1 percentage point of score are
# as good as none. Also the advice's and the halving replay's margin.
MIN_SCORE = 0.01


def judged_by(analysis: AnalysisCfg) -> str:
    """The line that says how the study is judged: a preview, or the confirmatory study that
    answers, by the plan as committed at `analysis.plan`, at its look."""
    if analysis.role == "confirmatory":
        return (
            f"Confirmatory study, look {analysis.look}: judged by docs/analysis-plan.md as "
            f"committed at {analysis.plan}, each test at alpha "
            f"{analysis.alpha:g}. These verdicts are the project's answer."
        )
    return (
        f"Preview (alpha {analysis.alpha:g}): a quick look; the project's answer is the "
        "confirmatory study's (studies/cpu.yaml, results/cpu/conclusions.md), judged by the "
        "same plan (docs/analysis-plan.md) on fresh seeds."
    )


def trend_claim(col: columns.Column) -> str:
    """`(a) E_aie falls with tau`: the claim on a column with a trend."""
    return f"{col.trend.claim} {col.text} {col.trend.how} with tau"


TREND_CLAIMS = ", ".join(trend_claim(c) for c in columns.judged())
NAMES = {
    "(d)": "(d) HPtau*-FT beats HPmax-FT",
    "(e)": "(e) HPtau*-FT beats HP0-FT",
}

RULES = f"""\
The plan, with its reasons: docs/analysis-plan.md. In short:

- Primary: HPtau*-FT − HP0-FT on test, in percentage points, tau* chosen per seed on
  validation; per seed the mean over the settings with eta_HP = 1 (equal weights), then a
  t-interval and t-tests over seeds (n − 1 degrees of freedom). `holds` if the 100(1 − alpha)%
  CI lies above 0 (one-sided p < alpha / 2), `does not hold` if below, `equivalent` if the two one-sided
  tests within ±{100 * MIN_SCORE:g} pp give p < alpha, else `undecided`. HPtau*-FT − HPmax-FT
  beside it.
- {TREND_CLAIMS}: Page's L test over the setting's taus, seeds as blocks, exact p; effect
  size per seed: log(v(tau max) / v(tau 0)), for the cosine log((1 − cos max) / (1 − cos 0)),
  with its t-interval (below 0 when the paper's trend holds). z_T is read at `z_epoch`.
- (d) HPtau*-FT − HPmax-FT and (e) HPtau*-FT − HP0-FT on test, per setting: paired t-tests.
- (f) label-smoothed companion − baseline at tau max, E_aie and ‖z_T − z_0‖² at `z_epoch`:
  paired t-tests; holds if both halves hold, does not hold if either goes the other way.
- Each claim's p-values are Holm-adjusted over the settings (pairs for (f)), in each
  direction; every test is two-sided at alpha. `holds`: adjusted p in the paper's direction
  < alpha / 2; `does not hold`: adjusted p in the opposite direction < alpha / 2 (never for lack
  of an effect); else `undecided`. No minimum effect; fewer than {MIN_SEEDS} seeds: undecided.

Warnings:
- HP stayed near chance: HP-train fit at the largest tau gained less than a tenth of the
  headroom it had at the smallest tau.
- FT still improving at the epoch cap: runs whose best validation epoch is the last allowed,
  `ft_epochs` (FT runs through the last z epoch whatever its patience, so reaching the cap
  alone is no warning); the tables mark
  with † a cell whose FT runs mostly did.
- tau* at the edge: seeds whose tau* is the smallest or the largest tau of the grid.
- Missing scores: non-finite validation or test scores.
- FT not converged: FT at the smallest tau misses the plan's convergence rule (the section
  "FT's convergence" below).
"""
NEAR_CHANCE = 0.1


@dataclass(frozen=True)
class Test:
    """One claim in one setting before the adjustment: what it measured, and the one-sided
    p-values in the paper's direction and in the opposite one."""

    statistics: str
    p_expected: float
    p_opposite: float


def _pp(iv: Interval) -> str:
    return f"{iv.text('.2f', 100, signed=True)} pp (n={iv.n})"


def _paired_test(diff: Interval) -> tuple[float, float]:
    """One-sided t-test p-values that the paired mean is above 0 and below 0."""
    if diff.n < MIN_SEEDS:
        return math.nan, math.nan
    return decide.t_test_p(diff, 0.0, 1), decide.t_test_p(diff, 0.0, -1)


def _effect(df: pd.DataFrame, col: columns.Column) -> str:
    """The trend's effect size per seed, tau max against the smallest tau, with its interval."""
    taus = sorted(df["tau"].unique())
    at_max, at_0 = pick(df, taus[-1], col.name), pick(df, taus[0], col.name)
    ratio = decide.log_one_minus_ratio if col.trend.how == "rises" else decide.log_ratio
    try:
        iv = interval(ratio(at_max, at_0))
    except ValueError:
        return "log ratio n/a (a value <= 0)"
    return f"log ratio tau {taus[-1]}/tau {taus[0]} {iv.text('.2f', signed=True)}"


def trend_test(df: pd.DataFrame, col: columns.Column) -> Test:
    """(a)-(c) in one setting: Page's test of the column against tau, seeds as blocks."""
    matrix = df.pivot_table(index="seed", columns="tau", values=col.name).sort_index(axis=1)
    matrix = matrix.dropna()
    if len(matrix) < MIN_SEEDS or matrix.shape[1] < 3:
        return Test(f"{len(matrix)} seeds, {matrix.shape[1]} taus: no test", math.nan, math.nan)
    page = decide.page_trend(matrix.to_numpy())
    down, up = page.p_decreasing, page.p_increasing
    text = f"Page L {page.L:.0f}, p falls {down:.3g}, p rises {up:.3g}; {_effect(df, col)}"
    return Test(text, *((down, up) if col.trend.how == "falls" else (up, down)))


def ft_diff(df: pd.DataFrame, against: str = "hp0_ft") -> Interval:
    """Test score at each seed's tau* minus that at tau 0 (`hp0_ft`) or tau max (`hpmax_ft`),
    paired by seed."""
    s = seed_table(df)
    return paired(s["hp_tau_star_ft"], s[against])


def ft_test(df: pd.DataFrame, against: str) -> Test:
    """(d) or (e) in one setting."""
    diff = ft_diff(df, against)
    name = "HPmax-FT" if against == "hpmax_ft" else "HP0-FT"
    return Test(f"test HPtau*-FT − {name} {_pp(diff)}", *_paired_test(diff))


def setting_tests(df: pd.DataFrame) -> dict[str, Test]:
    """Every per-setting claim's test, by claim name."""
    out = {trend_claim(c): trend_test(df, c) for c in columns.judged()}
    out[NAMES["(d)"]] = ft_test(df, "hpmax_ft")
    out[NAMES["(e)"]] = ft_test(df, "hp0_ft")
    return out


def adjust(tests: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Holm over the rows of one claim, in each direction, then the verdict: two-sided at
    `alpha`, so each one-sided adjusted p is compared with alpha / 2."""
    up = decide.holm(tests["p_expected"].to_numpy())
    down = decide.holm(tests["p_opposite"].to_numpy())
    verdicts = [decide.verdict(a, b, alpha / 2) for a, b in zip(up, down, strict=True)]
    return tests.assign(p_holm=up, verdict=verdicts)


def claims(summary: pd.DataFrame, alpha: float = decide.ALPHA) -> pd.DataFrame:
    """One row per (setting, claim (a)-(e)): statistics, Holm-adjusted p and verdict."""
    rows = []
    for setting, df in summary.groupby("setting", sort=False):
        for claim, t in setting_tests(df).items():
            rows.append({"setting": setting, "claim": claim, **vars(t)})
    tests = pd.DataFrame(
        rows, columns=["setting", "claim", "statistics", "p_expected", "p_opposite"]
    )
    out = pd.concat([adjust(g, alpha) for _, g in tests.groupby("claim", sort=False)])
    out = out.loc[tests.index]  # the settings' order, claims within each
    return out[["setting", "claim", "statistics", "p_holm", "verdict"]]


def ls_test(base: pd.DataFrame, ls: pd.DataFrame) -> tuple[str, list[Test]]:
    """(f) for one (baseline, companion) pair: the statistics text and one test per half, at
    tau max; the same differences at the baseline's tau* are reported beside them."""
    tmax = int(base["tau"].max())
    stars = tau_stars(base)
    parts, tests = [], []
    for col in ("energy", "z_dist_sq"):
        diff = paired(pick(ls, tmax, col), pick(base, tmax, col))
        at_star = paired(pick(ls, stars, col), pick(base, stars, col))
        label = columns.get(col).text
        parts.append(
            f"{label} {diff.text(signed=True)} (n={diff.n}; at tau* {at_star.text(signed=True)})"
        )
        tests.append(Test(label, *_paired_test(diff)))
    return f"companion − baseline at tau {tmax}: {', '.join(parts)}", tests


def ls_claims(summary: pd.DataFrame, alpha: float = decide.ALPHA) -> pd.DataFrame:
    """One row per setting with eta_HP = 1 that has a label-smoothed companion: claim (f),
    each half Holm-adjusted over the pairs; both halves must hold."""
    rows, halves = [], []
    for setting, df in summary.groupby("setting", sort=False):
        ls = companion(summary, setting)
        if df["eta_hp"].iloc[0] != 1 or ls.empty:
            continue
        text, tests = ls_test(df, ls)
        rows.append({"baseline": setting, "companion": ls["setting"].iloc[0], "statistics": text})
        halves.append(tests)
    out = pd.DataFrame(rows, columns=["baseline", "companion", "statistics"])
    if not rows:
        return out.assign(verdict=[])
    per_half = []
    for i in range(2):
        frame = pd.DataFrame([vars(h[i]) for h in halves])
        per_half.append(adjust(frame, alpha)["verdict"].tolist())
    return out.assign(verdict=[both(*v) for v in zip(*per_half, strict=True)])


def both(*verdicts: str) -> str:
    """Holds if every part holds; does not hold if any part does not; else undecided."""
    return FAILS if FAILS in verdicts else HOLDS if all(v == HOLDS for v in verdicts) else UNDECIDED


def primary(summary: pd.DataFrame, alpha: float = decide.ALPHA) -> pd.DataFrame:
    """The primary claim and the contrast beside it, pooled over the settings with eta_HP = 1:
    mean, CI and p-values in pp over seeds, TOST within ±MIN_SCORE, verdict."""
    base = summary[summary["eta_hp"] == 1]
    rows = []
    for name, against in (("HPtau*-FT − HP0-FT", "hp0_ft"), ("HPtau*-FT − HPmax-FT", "hpmax_ft")):
        if base.empty:  # no setting with eta_HP = 1: nothing to pool
            rows.append(
                {"contrast (test, pp)": name, "seeds": 0, "settings": 0, "verdict": UNDECIDED}
            )
            continue
        frame = pd.concat(
            [
                seed_table(df)
                .assign(diff=lambda s, a=against: 100 * (s["hp_tau_star_ft"] - s[a]))
                .rename_axis("seed")
                .reset_index()
                .assign(setting=setting)
                for setting, df in base.groupby("setting", sort=False)
            ]
        )
        per_seed, _ = decide.per_seed_means(frame)
        c = decide.pooled_contrast(frame, level=1 - alpha)
        eq = decide.tost(per_seed, 100 * MIN_SCORE, alpha) if c.n >= MIN_SEEDS else None
        v = decide.verdict(c.p_greater, c.p_less, alpha / 2)
        if v == UNDECIDED and eq is not None and eq.verdict == EQUIVALENT:
            v = EQUIVALENT
        rows.append(
            {
                "contrast (test, pp)": name,
                "mean": f"{c.mean:+.2f}",
                f"{100 * (1 - alpha):g}% CI": (
                    f"[{c.low:+.2f}, {c.high:+.2f}]" if c.n >= MIN_SEEDS else "n/a"
                ),
                "seeds": c.n,
                "settings": c.settings,
                "p (> 0)": f"{c.p_greater:.3g}",
                "p (< 0)": f"{c.p_less:.3g}",
                f"TOST ±{100 * MIN_SCORE:g} pp": f"{eq.p_tost:.3g}" if eq else "n/a",
                "verdict": v,
            }
        )
    return pd.DataFrame(rows).set_index("contrast (test, pp)")


def per_setting_contrasts(summary: pd.DataFrame) -> pd.DataFrame:
    """Beside the primary claim: each eta_HP = 1 setting's two contrasts, in pp."""
    base = summary[summary["eta_hp"] == 1]
    return pd.DataFrame(
        {
            setting: {
                "HPtau*-FT − HP0-FT": _pp(ft_diff(df, "hp0_ft")),
                "HPtau*-FT − HPmax-FT": _pp(ft_diff(df, "hpmax_ft")),
            }
            for setting, df in base.groupby("setting", sort=False)
        }
    ).T.rename_axis("setting")


def warnings(summary: pd.DataFrame, converged: pd.DataFrame | None = None) -> list[str]:
    """What a reader must know before trusting the numbers, by the rules under RULES;
    `converged` (convergence.table) adds the settings whose FT misses the convergence rule."""
    out = []
    for setting, df in summary.groupby("setting", sort=False):
        tmin, tmax = int(df["tau"].min()), int(df["tau"].max())
        fit0, fit1 = pick(df, tmin, "hp_train_fit").mean(), pick(df, tmax, "hp_train_fit").mean()
        if fit1 - fit0 < NEAR_CHANCE * (1 - fit0):
            out.append(
                f"{setting}: HP stayed near chance: mean HP-train fit {100 * fit0:.1f}% at tau {tmin}, "
                f"{100 * fit1:.1f}% at tau {tmax} (gain under {NEAR_CHANCE:g} of the headroom)"
            )
        capped = int(still_improving(df).sum())
        if capped:
            out.append(
                f"{setting}: {capped}/{len(df)} FT runs ({capped / len(df):.0%}) were still "
                f"improving on validation at the epoch cap ({int(df['ft_epochs'].max())} epochs)"
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
    return out + (convergence.warnings(converged) if converged is not None else [])


def head_norms(summary: pd.DataFrame) -> pd.DataFrame:
    """The head's norm after HP, mean over seeds: one row per setting, one column per tau."""
    means = summary.groupby(["setting", "tau"], sort=False)["head_norm"].mean()
    table = means.unstack("tau")
    return table.reindex(list(dict.fromkeys(summary["setting"])))


def reversal(found: pd.DataFrame, norms: pd.DataFrame) -> str:
    """Where the feature-change trends (b)/(c) go the other way, and the head norm as a
    candidate cause: how much it grows from the smallest to the largest tau there, against
    the other settings."""
    letters = {c.trend.claim for c in columns.judged() if c.name != "energy"}
    feature = found[found["claim"].str[:3].isin(letters)]
    flipped = list(dict.fromkeys(feature.loc[feature["verdict"] == FAILS, "setting"]))
    growth = norms.apply(lambda r: r.dropna().iloc[-1] / r.dropna().iloc[0], axis=1)
    if not flipped:
        return (
            "No setting's feature change goes the other way ((b), (c)). The head's norm grows "
            f"{growth.min():.1f}- to {growth.max():.1f}-fold from the smallest to the largest tau."
        )
    others = growth.drop(flipped)
    each = ", ".join(f"{s} {growth[s]:.1f}-fold" for s in flipped)
    rest = (
        f"a median {others.median():.1f}-fold in the other settings"
        if len(others)
        else "no other setting"
    )
    return (
        f"The feature change goes the other way ((b) or (c) does not hold) in {', '.join(flipped)}. "
        f"A large head after HP is a candidate cause (a large head makes FT's first gradients "
        f"large): from the smallest to the largest tau its norm grows {each}, against {rest}."
    )


# The grid's column names: each claim in a few words, after its letter (those of the trend
# claims in their columns' `trend`).
CLAIM_NAMES = {
    "(d)": "(d) HPtau* beats HPmax",
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
    table["(f)"] = pairs.set_index("baseline")["verdict"].reindex(table.index).astype(object)
    table["(f)"] = table["(f)"].fillna("")
    trends = {c.trend.claim: f"{c.trend.claim} {c.trend.grid}" for c in columns.judged()}
    return table.rename(columns=trends | CLAIM_NAMES).rename_axis(columns=None)


def compact(cells: pd.DataFrame) -> str:
    """A Markdown table without padding: the verdict grid, quoted where space is short."""
    rows = [[cells.index.name or "setting", *cells.columns], ["---"] * (len(cells.columns) + 1)]
    rows += [[str(i), *(str(v) for v in r)] for i, r in zip(cells.index, cells.values, strict=True)]
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def markdown(
    summary: pd.DataFrame,
    analysis: AnalysisCfg | None = None,
    converged: pd.DataFrame | None = None,
) -> str:
    """conclusions.md; `converged` (convergence.table of FT's curves) adds the plan's
    convergence check."""
    analysis = analysis or AnalysisCfg()
    alpha = analysis.alpha
    found = claims(summary, alpha)
    pairs = ls_claims(summary, alpha)
    main = primary(summary, alpha)
    verdicts = pd.concat([found["verdict"], pairs["verdict"]]).value_counts()
    count = ", ".join(f"{verdicts.get(v, 0)} {v}" for v in (HOLDS, FAILS, UNDECIDED))
    seeds = ", ".join(str(s) for s in sorted(summary["seed"].unique()))
    warned = "\n".join(f"- {w}" for w in warnings(summary, converged)) or "_none_"
    diffs = {s: ft_diff(df) for s, df in summary[summary["eta_hp"] == 1].groupby("setting")}
    shown = found.assign(p_holm=found["p_holm"].map(lambda p: f"{p:.3g}"))
    text = (
        f"# Conclusions: the paper's claims\n\n{judged_by(analysis)}\n\n"
        f"n = {n_seeds(summary)} replicate seeds ({seeds}), from `summary.csv` (beside this "
        f"file). Secondary verdicts: {count}.\n\n"
        f"## Answer\n\n{findings.primary(main)}\n\n"
        f"## Primary claim\n\nHPtau*-FT beats HP0-FT on test, pooled over the settings with "
        f"eta_HP = 1 (for these settings: their scores mix accuracy, ROC-AUC and mIoU points); "
        f"HPtau*-FT − HPmax-FT beside it.\n\n{render(main, 'left')}\n\n"
        f"Per setting (mean ± 95% CI over seeds):\n\n{render(per_setting_contrasts(summary), 'left')}\n\n"
        f"## Findings\n\n{findings.plain(main, found, pairs, diffs)}\n\n"
        f"## Verdicts at a glance\n\n"
        f"n = {n_seeds(summary)} seeds; claims, statistics and rules: conclusions.md.\n\n"
        f"{compact(glance(found, pairs))}\n\n## Rules\n\n{RULES}\n## Warnings\n\n{warned}\n\n"
        f"## Claims (a)-(e), per setting\n\n{render(shown.set_index('setting'), 'left')}\n"
    )
    if converged is not None:
        text += (
            f"\n## FT's convergence at the smallest tau\n\n{convergence.__doc__.strip()}\n\n"
            f"{render(convergence.shown(converged), 'left')}\n"
        )
    if "head_norm" in summary:
        norms = head_norms(summary)
        shown_norms = norms.map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
        text += (
            f"\n## The head's norm after HP\n\n{reversal(found, norms)}\n\n"
            f"Mean over seeds of ‖v‖ after HP, by tau:\n\n{render(shown_norms, 'left')}\n"
        )
    if len(pairs):
        text += (
            f"\n## Claim (f): label-smoothed HP against its eta_HP = 1 baseline\n\n"
            f"{render(pairs.set_index('baseline'), 'left')}\n"
        )
    return text
