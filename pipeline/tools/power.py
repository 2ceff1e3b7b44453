"""`python -m pipeline power`: a power simulation of the trend claims (a)-(c): how often each
rule says `holds` for a true monotone trend of a given strength, and how often for none.

Each simulated setting is a seeds x taus matrix y = beta * j + e, j = 1..n the tau's rank in
the grid and e standard normal noise, independent over seeds and taus. beta is calibrated so
that the mean per-seed Spearman rho of y against j is the target. A simulated study has
SETTINGS settings with the same beta. Rules: the earlier one (before docs/analysis-plan.md: the
95% t-interval of the mean rho over seeds lies above 0, and the mean rho is at least MIN_RHO),
Page's exact trend test two-sided at ALPHA, as docs/analysis-plan.md judges (pipeline.report
.decide: one-sided p of an increasing trend below ALPHA / 2), and Page's test with Holm's
adjustment over the study's settings. numpy draws the noise from one seeded generator, so the page is the same on every run.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats

from pipeline.io.atomic import write_text
from pipeline.report import decide
from pipeline.report.decide import ALPHA
from pipeline.report.stats import LEVEL

SIZE = ALPHA / 2  # the nominal rate of `holds` in one direction: two-sided tests at ALPHA
SEEDS = (4, 5, 8)
TAUS = (4, 8)
RHOS = (0.0, 0.2, 0.44, 0.6, 0.8)  # target mean Spearman rho; 0 gives the false-positive rate
MODERATE = 0.44  # the trend the reading follows as seeds grow
SETTINGS = 7  # the settings Holm's adjustment runs over
STUDIES = 1000  # simulated studies per (seeds, taus, rho): SETTINGS x STUDIES settings
CALIBRATION_DRAWS = 20000
SEED = 23
EARLIER = "earlier rule"
# The earlier trend rule, replaced by the plan's (docs/analysis-plan.md): at least MIN_SEEDS seeds,
# the 95% t-interval of the mean Spearman rho on the expected side of 0, and |mean rho| >= MIN_RHO.
MIN_RHO, MIN_SEEDS = 0.5, 3
COLUMNS = ["taus", "seeds", "target rho", "beta", "mean rho", EARLIER, "Page", "Page + Holm"]


def spearman(y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row of y (last axis) against its position: the Pearson
    correlation of the ranks, ties averaged (pipeline.report.trends.spearman's scipy.stats
    .spearmanr, which has no row-wise form)."""
    ranks = stats.rankdata(y, axis=-1)
    position = np.broadcast_to(np.arange(1.0, y.shape[-1] + 1), y.shape)
    return stats.pearsonr(ranks, position, axis=-1).statistic


def calibrate(rho: float, n_taus: int, draws: int, rng: np.random.Generator) -> float:
    """The beta whose mean per-seed Spearman rho over `draws` noise rows is `rho` (common
    noise for every beta tried, so the mean is a smooth increasing function of beta)."""
    if rho == 0:
        return 0.0
    noise = rng.standard_normal((draws, n_taus))
    j = np.arange(1.0, n_taus + 1)
    return optimize.brentq(lambda b: spearman(b * j + noise).mean() - rho, 0.0, 100.0, xtol=1e-4)


def earlier_rule(rho: np.ndarray) -> np.ndarray:
    """The earlier rule's `holds` (a rising trend) for the per-seed rhos (last axis) of each
    setting: n >= MIN_SEEDS, the t-interval's low end above 0 (scipy.stats.ttest_1samp, as
    stats.interval computes it, for all settings at once), mean rho >= MIN_RHO."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical rhos: sd 0, exact CI
        ci = stats.ttest_1samp(rho, 0.0, axis=-1).confidence_interval(LEVEL)
    n = rho.shape[-1]
    return (n >= MIN_SEEDS) & (ci.low > 0) & (np.round(rho.mean(-1), 9) >= MIN_RHO)


def page_ps(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """decide.page_trend's one-sided p (increasing, decreasing) of every seeds x taus matrix
    in y (the last two axes). scipy's exact p depends on L (and the shape) alone, so
    page_trend runs once per distinct L (computed here only to group the matrices)."""
    flat = y.reshape(-1, *y.shape[-2:])
    L = (stats.rankdata(flat, axis=-1) * np.arange(1, flat.shape[-1] + 1)).sum(axis=(1, 2))
    _, first, back = np.unique(L, return_index=True, return_inverse=True)
    trends = [decide.page_trend(flat[i]) for i in first]
    up = np.array([t.p_increasing for t in trends])[back]
    down = np.array([t.p_decreasing for t in trends])[back]
    return up.reshape(y.shape[:-2]), down.reshape(y.shape[:-2])


def holds_share(p_up: np.ndarray, p_down: np.ndarray) -> float:
    """The share of settings where decide.verdict says holds."""
    cells = zip(p_up.ravel(), p_down.ravel(), strict=True)
    return float(np.mean([decide.verdict(u, d, SIZE) == decide.HOLDS for u, d in cells]))


def simulate(
    n_seeds: int, n_taus: int, beta: float, studies: int, rng: np.random.Generator
) -> dict:
    """One cell of the table: `studies` studies of SETTINGS settings, each a seeds x taus
    matrix; the mean rho and each rule's share of `holds` over the settings."""
    j = np.arange(1.0, n_taus + 1)
    y = beta * j + rng.standard_normal((studies, SETTINGS, n_seeds, n_taus))
    rho = spearman(y)
    up, down = page_ps(y)
    return {
        "mean rho": float(rho.mean()),
        EARLIER: float(np.mean(earlier_rule(rho))),
        "Page": holds_share(up, down),
        "Page + Holm": holds_share(
            np.apply_along_axis(decide.holm, 1, up), np.apply_along_axis(decide.holm, 1, down)
        ),
    }


def table(studies: int = STUDIES, seed: int = SEED, draws: int = CALIBRATION_DRAWS) -> pd.DataFrame:
    """One row per (taus, seeds, target rho), COLUMNS; every draw from one generator seeded
    with `seed`."""
    rng = np.random.default_rng(seed)
    betas = {(n, r): calibrate(r, n, draws, rng) for n in TAUS for r in RHOS}
    rows = [
        {
            "taus": n,
            "seeds": m,
            "target rho": r,
            "beta": betas[n, r],
            **simulate(m, n, betas[n, r], studies, rng),
        }
        for n in TAUS
        for m in SEEDS
        for r in RHOS
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _span(shares: pd.Series) -> str:
    return f"from {shares.min():.1%} to {shares.max():.1%}"


def reading(t: pd.DataFrame, studies: int) -> str:
    """Three sentences from the table: false positives, a moderate trend as seeds grow (over
    the most taus), a strong trend."""
    rules = {EARLIER: EARLIER, "Page": "Page's test", "Page + Holm": "Page with Holm"}
    at = t.set_index(["taus", "seeds", "target rho"])
    null, strong = t[t["target rho"] == 0], t[t["target rho"] == t["target rho"].max()]
    taus, few, many = t["taus"].max(), t["seeds"].min(), t["seeds"].max()
    above = (
        f" (its minimum mean rho, {MIN_RHO:g}, lies above the trend)" if MIN_RHO > MODERATE else ""
    )
    moves = ", ".join(
        f"{name} from {at.loc[(taus, few, MODERATE), c]:.0%} to "
        f"{at.loc[(taus, many, MODERATE), c]:.0%}{above if c == EARLIER else ''}"
        for c, name in rules.items()
    )
    sd = np.sqrt(SIZE * (1 - SIZE) / (studies * SETTINGS))
    return (
        "With no trend, the share of `holds` over the designs ranged "
        + ", ".join(f"{_span(null[c])} for {name}" for c, name in rules.items())
        + f" (Monte Carlo SD {sd:.1%} near {SIZE:.1%}; Page's exact p is discrete, which keeps "
        f"its true rate at or below the nominal {SIZE:.1%}). For a moderate "
        f"trend (rho about {MODERATE:g}) over {taus} taus, going from {few} to {many} seeds moved "
        f"{moves}. For a strong trend (rho about {strong['target rho'].iloc[0]:g}) every "
        f"rule said `holds` in at least {strong[list(rules)].min().min():.0%} of the settings."
    )


def markdown(t: pd.DataFrame, studies: int, seed: int, draws: int) -> str:
    formats = {"beta": "{:.3f}", "mean rho": "{:+.2f}", **dict.fromkeys(COLUMNS[-3:], "{:.1%}")}
    shown = t.assign(**{c: t[c].map(f.format) for c, f in formats.items()})
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(False)]
    n = studies * SETTINGS
    sd = np.sqrt(SIZE * (1 - SIZE) / n)
    return (
        "# Power of the trend rules: a simulation\n\n"
        f"Generated by `python -m pipeline power --out docs/power.md` (pipeline/tools/power.py; "
        f"numpy generator seed {seed}, {studies} studies per row).\n\n"
        "Each simulated setting is a seeds x taus matrix y = beta · j + e: j = 1..n the rank of "
        "tau in its grid, e standard normal noise, independent over seeds and taus. beta is "
        f"calibrated (over {draws} noise rows) so that the mean per-seed Spearman rho of y "
        f"against tau is the target rho; `mean rho` is the rho the simulation got. A study has "
        f"{SETTINGS} settings with the same beta, so each row has {n} settings: a share near "
        f"{SIZE:.1%} has a Monte Carlo SD of {sd:.1%}.\n\n"
        "The share of settings where each rule said `holds` (the trend rises):\n\n"
        f"- the earlier rule (before docs/analysis-plan.md): at least {MIN_SEEDS} seeds, the 95% "
        f"t-interval of the mean rho over seeds above 0 and the mean rho at least {MIN_RHO:g};\n"
        f"- Page: Page's L test over the seeds x taus matrix, exact one-sided p below {SIZE:g} "
        f"(two-sided at {ALPHA:g}, as the plan; pipeline/report/decide.py);\n"
        f"- Page + Holm: the same p after Holm's adjustment over the study's {SETTINGS} settings "
        "(all with the trend here; with fewer trending settings Holm's share would be lower, as "
        "its step-down gains from each setting it rejects).\n\n"
        "At target rho 0 a share is a false-positive rate.\n\n"
        + "\n".join(lines)
        + f"\n\n## Reading\n\n{reading(t, studies)}\n"
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write the page (Markdown) here; else print it")
    ap.add_argument("--studies", type=int, default=STUDIES, help="simulated studies per row")
    ap.add_argument("--seed", type=int, default=SEED, help="the numpy generator's seed")
    args = ap.parse_args(argv)
    text = markdown(table(args.studies, args.seed), args.studies, args.seed, CALIBRATION_DRAWS)
    if args.out:
        write_text(args.out, text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
