"""Statistics over replicate seeds (pandas, scipy): mean with its 95% t-interval, paired
differences by seed, and the most-often-chosen value. results/stats.csv is `describe`.

The interval of a mean over n values is mean ± t(0.975, n - 1) * sd / sqrt(n) (Student's t,
scipy.stats); the interval of a paired difference is that of the per-seed differences, the
same as scipy.stats.ttest_rel(a, b).confidence_interval(). NaN values are left out of n;
n = 1 has a mean but no interval (NaN bounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.report import columns

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    mean: float
    sd: float
    n: int
    low: float
    high: float

    @property
    def half(self) -> float:
        return (self.high - self.low) / 2

    def text(self, fmt: str = ".3g", scale: float = 1.0, signed: bool = False) -> str:
        """`86.67 ± 1.23`: the scaled mean ± half-width (the mean alone for n = 1; n/a for n = 0)."""
        if not self.n:
            return "n/a"
        mean = f"{scale * self.mean:{'+' if signed else ''}{fmt}}"
        return mean if math.isnan(self.half) else f"{mean} ± {scale * self.half:{fmt}}"

    @property
    def side(self) -> int:
        """+1 if the whole interval lies above 0, -1 if below, 0 if it holds 0 or is undefined."""
        return 1 if self.low > 0 else -1 if self.high < 0 else 0


def interval(values, level: float = LEVEL) -> Interval:
    """Mean, standard deviation (ddof 1), n and the `level` t-interval of the non-NaN values."""
    from scipy import stats

    x = np.asarray(pd.Series(values, dtype=float).dropna())
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return Interval(mean, math.nan, n, math.nan, math.nan)
    # No rounding noise for identical values.
    sd = 0.0 if (x == x[0]).all() else float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, sd, n, mean - half, mean + half)


def paired(a: pd.Series, b: pd.Series, level: float = LEVEL) -> Interval:
    """a - b paired by index (the seed): the interval of the per-seed differences, over the
    seeds where both are defined."""
    return interval((a - b).dropna(), level)


def mode(values) -> tuple[float, int, int]:
    """The most frequent non-NaN value (ties: the smallest), its count, and n."""
    counts = pd.Series(values, dtype=float).dropna().value_counts()
    if counts.empty:
        return math.nan, 0, 0
    best = counts[counts == counts.max()].index.min()
    return best, int(counts[best]), int(counts.sum())


def mode_text(values) -> str:
    """`16 (4/5)`: the mode, chosen in 4 of 5 seeds; n/a when there is none."""
    value, count, n = mode(values)
    return "n/a" if not n else f"{value:g} ({count}/{n})"


def describe(summary: pd.DataFrame) -> pd.DataFrame:
    """Long table, one row per (setting, tau, quantity): n, mean, sd and the 95% CI
    (low, high, half-width) over seeds. The quantities: the `aggregated` columns (stopped_early:
    the share of FT runs that stopped early)."""
    rows, quantities = [], columns.aggregated()
    for (setting, tau), df in summary.groupby(["setting", "tau"], sort=False):
        for q in quantities:
            iv = interval(df[q].astype(float))
            rows.append(
                {
                    "setting": setting,
                    "tau": tau,
                    "quantity": q,
                    "n": iv.n,
                    "mean": iv.mean,
                    "sd": iv.sd,
                    "ci_low": iv.low,
                    "ci_high": iv.high,
                    "ci_half": iv.half,
                }
            )
    return pd.DataFrame(
        rows,
        columns=["setting", "tau", "quantity", "n", "mean", "sd", "ci_low", "ci_high", "ci_half"],
    )


def seeds_to_decide(iv: Interval, smallest: float = 0.0, most: int = 10_000) -> int | None:
    """The fewest seeds whose 95% t-interval would exclude 0 if the mean and sd stayed as
    observed: the smallest n with t(0.975, n - 1) * sd / sqrt(n) < |mean| (which falls with n,
    so found by bisection). None when the sd is unknown, the mean is smaller in size than
    `smallest` (0 included), or more than `most` seeds would be needed; 2 or more otherwise."""
    from scipy import stats

    if iv.n < 2 or math.isnan(iv.sd) or round(abs(iv.mean), 9) <= smallest:
        return None

    def decides(n: int) -> bool:
        return stats.t.ppf(0.5 + LEVEL / 2, n - 1) * iv.sd / math.sqrt(n) < abs(iv.mean)

    if not decides(most):
        return None
    lo, hi = 1, most  # decides(hi); not decides(lo), as one seed has no interval
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decides(mid) else (mid, hi)
    return hi
