"""Decision statistics of the pre-registered analysis plan (numpy, pandas, scipy): Page's trend
test over ordered taus, Holm's adjustment over settings, the seed-clustered t-interval, the
pooled contrast of the primary claim, equivalence by two one-sided tests (TOST), the effect
sizes of the feature-change claims, and the verdict a pair of one-sided p-values gives.

Seeds are the independent replicates: every interval and t-test here has n - 1 degrees of
freedom for n seeds, whatever is averaged within a seed first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.report.stats import LEVEL, Interval, interval

ALPHA = 0.05
HOLDS, FAILS, UNDECIDED = "holds", "does not hold", "undecided"
EQUIVALENT = "equivalent"


@dataclass(frozen=True)
class Trend:
    """Page's L and its exact p-values: one-sided for an increasing and for a decreasing
    trend, and two-sided (twice the smaller, at most 1)."""

    L: float
    p_increasing: float
    p_decreasing: float
    p_two_sided: float


EXACT_TAUS = 9  # scipy's exact recursion: 0.4 s at 9 taus, out of memory (24 GB) at 12
DRAWS, DRAW_SEED = 100_000, 0  # the permutation p beyond EXACT_TAUS


def page_trend(matrix) -> Trend:
    """Page's L test of a monotone trend: rows are seeds (blocks), columns taus in increasing
    order. Up to EXACT_TAUS columns the p is scipy's exact one (scipy.stats.page_trend_test);
    beyond, a permutation p over DRAWS within-row shuffles of the ranks from a seeded
    generator, (1 + #{L* >= L}) / (1 + DRAWS), the same on every run. The decreasing p is the
    increasing one of the columns reversed. Ties within a row get average ranks; the p is then
    not adjusted for them (conservative). Needs finite values, 2 rows or more and 3 columns or
    more."""
    x = np.asarray(matrix, dtype=float)
    if not np.isfinite(x).all():
        raise ValueError("page_trend: the matrix has a missing or non-finite value")
    if x.shape[1] <= EXACT_TAUS:
        up = stats.page_trend_test(x, method="exact")
        down = stats.page_trend_test(x[:, ::-1], method="exact")
        L, p_up, p_down = float(up.statistic), float(up.pvalue), float(down.pvalue)
    else:
        L, p_up, p_down = _page_permutation(x)
    return Trend(L, p_up, p_down, min(1.0, 2 * min(p_up, p_down)))


def _page_permutation(x: np.ndarray) -> tuple[float, float, float]:
    """L and its permutation p-values, increasing and decreasing (see page_trend)."""
    ranks = stats.rankdata(x, axis=1)
    j = np.arange(1, x.shape[1] + 1)
    L, L_down = float((ranks * j).sum()), float((ranks[:, ::-1] * j).sum())
    rng = np.random.default_rng(DRAW_SEED)
    shuffled = rng.permuted(np.broadcast_to(ranks, (DRAWS, *ranks.shape)), axis=2)
    drawn = (shuffled * j).sum(axis=(1, 2))
    p_up = (1 + np.count_nonzero(drawn >= L - 1e-9)) / (1 + DRAWS)
    # reversing the columns of a uniform shuffle gives a uniform shuffle: the same draws serve
    p_down = (1 + np.count_nonzero(drawn >= L_down - 1e-9)) / (1 + DRAWS)
    return L, float(p_up), float(p_down)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input's order: the i-th smallest of m p-values
    becomes max over j <= i of min(1, (m - j + 1) p_(j)). NaN (no test) stays NaN and is not
    counted in m. Hand-written: scipy has no Holm (only false_discovery_control, BH/BY) and
    statsmodels (multipletests) is not installed."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = len(order)
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def seed_interval(per_seed_values, level: float = LEVEL) -> Interval:
    """Mean and `level` t-interval over seeds, n - 1 degrees of freedom (pipeline.report.stats
    .interval: NaN seeds left out; no bounds for n < 2). With few seeds the t quantile, not the
    normal one, keeps the coverage."""
    return interval(per_seed_values, level)


def t_test_p(iv: Interval, null: float, side: int) -> float:
    """One-sided t-test p that the mean lies above `null` (side +1) or below it (side -1), from
    the interval's mean, sd and n (scipy.stats.ttest_1samp needs the values, and tost also
    takes an Interval). sd 0 gives t = ±inf, so p 0 or 1; NaN for n < 2."""
    if iv.n < 2:
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        t = side * np.float64(iv.mean - null) / np.float64(iv.sd / math.sqrt(iv.n))
    return float(stats.t.sf(t, iv.n - 1))


@dataclass(frozen=True)
class Contrast:
    """A pooled contrast over seeds: mean, t-interval, n seeds, settings pooled, and the
    t-test p against 0 (one-sided above, one-sided below, two-sided)."""

    mean: float
    low: float
    high: float
    n: int
    settings: int
    p_greater: float
    p_less: float
    p_two_sided: float


def per_seed_means(
    frame: pd.DataFrame,
    value: str = "diff",
    setting: str = "setting",
    seed: str = "seed",
    weights: str = "equal",
) -> tuple[pd.Series, int]:
    """The per-seed means over settings that pooled_contrast tests (and tost can take), and how
    many settings they average: see pooled_contrast."""
    table = frame.pivot(index=seed, columns=setting, values=value).astype(float)
    table = table.dropna(axis=1, how="all").dropna(axis=0, how="any")
    if weights == "equal":
        w = pd.Series(1.0, index=table.columns)
    elif weights == "inverse_variance":
        var = table.var(ddof=1)
        if not (var > 0).all():
            raise ValueError(
                "pooled_contrast: inverse-variance weights need 2 seeds or more and a nonzero variance in every setting"
            )
        w = 1 / var
    else:
        raise ValueError(f"pooled_contrast: weights {weights!r}: equal or inverse_variance")
    per_seed = table.mul(w, axis=1).sum(axis=1) / w.sum()
    return per_seed, table.shape[1]


def pooled_contrast(
    frame: pd.DataFrame,
    value: str = "diff",
    setting: str = "setting",
    seed: str = "seed",
    weights: str = "equal",
    level: float = LEVEL,
) -> Contrast:
    """The primary claim's contrast: `frame` has one paired difference `value` per (setting,
    seed), e.g. test score of HPtau*-FT minus HP0-FT in pp. Within each seed the settings are
    averaged (`weights`: "equal", or "inverse_variance": each setting weighted by 1 / its
    variance over seeds), then the seed_interval and t-test run over seeds. A setting without
    any value is left out; then a seed missing a setting is left out, so every seed averages
    the same settings."""
    per_seed, settings = per_seed_means(frame, value, setting, seed, weights)
    iv = seed_interval(per_seed, level)
    up, down = t_test_p(iv, 0.0, 1), t_test_p(iv, 0.0, -1)
    return Contrast(iv.mean, iv.low, iv.high, iv.n, settings, up, down, min(1.0, 2 * min(up, down)))


@dataclass(frozen=True)
class Equivalence:
    """TOST: p of mean > -margin (p_lower), of mean < +margin (p_upper), their max, verdict."""

    p_lower: float
    p_upper: float
    p_tost: float
    verdict: str


def tost(values, margin: float, alpha: float = ALPHA) -> Equivalence:
    """Two one-sided t-tests for equivalence within ±margin, over per-seed values or an
    Interval of them (its mean, sd and n): `equivalent` if p_tost < alpha, else `undecided`.
    Equivalent to the (1 - 2 alpha) t-interval lying inside (-margin, +margin)."""
    if margin <= 0:
        raise ValueError(f"tost: margin {margin} must be positive")
    iv = values if isinstance(values, Interval) else seed_interval(values)
    lower, upper = t_test_p(iv, -margin, 1), t_test_p(iv, margin, -1)
    p = max(lower, upper)
    return Equivalence(lower, upper, p, EQUIVALENT if p < alpha else UNDECIDED)


def _values(x):
    """A Series as it is (aligned by seed), anything else as a float array."""
    return x if isinstance(x, pd.Series) else np.asarray(x, dtype=float)


def _log_ratio(num, den, what: str):
    """log(num / den) elementwise; NaN stays NaN; ValueError on a value <= 0."""
    for x in (num, den):
        bad = np.asarray(x) <= 0
        if bad.any():
            raise ValueError(f"{what} <= 0, so no log ratio: {np.asarray(x)[bad].tolist()}")
    return np.log(num / den)


def log_ratio(at_max, at_0):
    """log(v(tau max) / v(tau 0)) per seed (arrays, or Series aligned by seed): below 0 when v
    falls with tau. ValueError on a value <= 0."""
    return _log_ratio(_values(at_max), _values(at_0), "log_ratio: v")


def log_one_minus_ratio(cos_max, cos_0):
    """log((1 - cos(tau max)) / (1 - cos(tau 0))) per seed: below 0 when cos rises with tau.
    ValueError where a cosine is 1 or more (1 - cos <= 0)."""
    return _log_ratio(1 - _values(cos_max), 1 - _values(cos_0), "log_one_minus_ratio: 1 - cos")


def verdict(p_holds: float, p_opposite: float, alpha: float = ALPHA) -> str:
    """`holds` if p_holds < alpha, `does not hold` if p_opposite < alpha (significant the
    other way), else `undecided` (NaN included). Both below alpha is a contradiction for a
    pair of one-sided tests of one statistic: ValueError."""
    if p_holds < alpha and p_opposite < alpha:
        raise ValueError(f"verdict: both directions significant ({p_holds}, {p_opposite})")
    return HOLDS if p_holds < alpha else FAILS if p_opposite < alpha else UNDECIDED
