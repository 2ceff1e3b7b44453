"""The analysis plan's decision statistics (pipeline.report.decide), each checked against
numbers worked out by hand."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.report import decide
from pipeline.report.stats import interval

# A 3 x 3 matrix (seeds x taus), its values already ranks within each row. Column rank sums
# 1+1+2 = 4, 2+3+1 = 6, 3+2+3 = 8, so L = 1*4 + 2*6 + 3*8 = 40 (increasing) and, columns
# reversed, 3*4 + 2*6 + 1*8 = 32 (decreasing).
PAGE = [[1, 2, 3], [1, 3, 2], [2, 1, 3]]


def enumerated_sf(L: float, seeds: int, taus: int) -> float:
    """P(L' >= L) over all (taus!)^seeds equally likely rank permutations (the null)."""
    rows = [
        sum(j * r for j, r in enumerate(p, 1)) for p in itertools.permutations(range(1, taus + 1))
    ]
    totals = [sum(c) for c in itertools.product(rows, repeat=seeds)]
    return sum(t >= L for t in totals) / len(totals)


def test_page_l_and_its_exact_p_by_hand():
    # Per row, sum_j j * r_j over the 6 permutations of (1, 2, 3): 14, 13, 13, 11, 11, 10.
    # L >= 40 from three rows: 42 = 14+14+14 (1 way); 41 = 14+14+13 (3 places x 2 = 6 ways);
    # 40 = 14+13+13 (3 places x 2 x 2 = 12 ways): 19 of 6^3 = 216.
    t = decide.page_trend(PAGE)
    assert t.L == 40
    assert t.p_increasing == pytest.approx(19 / 216) == pytest.approx(enumerated_sf(40, 3, 3))
    # Decreasing: L' >= 32 is L <= 40 = 1 - P(L >= 41) = 1 - 7/216.
    assert t.p_decreasing == pytest.approx(209 / 216) == pytest.approx(enumerated_sf(32, 3, 3))
    assert t.p_two_sided == pytest.approx(38 / 216)


def test_page_exact_p_matches_the_enumeration_on_raw_values():
    """Raw values, 3 seeds x 4 taus: ranked within rows first."""
    x = np.array([[0.1, 0.5, 0.4, 0.9], [2.0, 3.0, 5.0, 4.0], [-1.0, -0.5, 0.0, 0.7]])
    # Ranks (1,3,2,4), (1,2,4,3), (1,2,3,4): column sums 3, 7, 9, 11; L = 3+14+27+44 = 88.
    t = decide.page_trend(x)
    assert t.L == 88
    assert t.p_increasing == pytest.approx(enumerated_sf(88, 3, 4))
    # Decreasing: 5 * (3+7+9+11) - 88 = 62.
    assert t.p_decreasing == pytest.approx(enumerated_sf(62, 3, 4))


def test_page_with_ties_and_constant_values():
    # Every row tied: ranks all 2, column sums 6, L = 6 * (1+2+3) = 36 = E0 = m n (n+1)^2 / 4.
    t = decide.page_trend(np.full((3, 3), 5.0))
    assert t.L == 36
    assert t.p_increasing == t.p_decreasing == pytest.approx(enumerated_sf(36, 3, 3))
    assert t.p_two_sided == 1.0  # 2 x 0.56, capped
    # One tied pair: row (1, 1, 2) ranks (1.5, 1.5, 3); with rows (1,2,3), (1,2,3):
    # column sums 3.5, 5.5, 9, L = 3.5 + 11 + 27 = 41.5.
    assert decide.page_trend([[1, 1, 2], [1, 2, 3], [1, 2, 3]]).L == 41.5


def test_page_with_two_seeds_and_bad_input():
    # 2 seeds, both (1, 2, 3): L = 2 * 14 = 28, the largest: 1 of 36 permutation pairs.
    assert decide.page_trend([[1, 2, 3], [4, 5, 6]]).p_increasing == pytest.approx(1 / 36)
    with pytest.raises(ValueError, match="non-finite"):
        decide.page_trend([[1, 2, np.nan], [1, 2, 3]])
    with pytest.raises(ValueError):
        decide.page_trend([[1, 2], [1, 2]])  # two taus: no trend test


def test_holm_by_hand():
    # Sorted: 0.005 (4th), 0.01 (1st), 0.03 (3rd), 0.04 (2nd); times 4, 3, 2, 1:
    # 0.02, 0.03, 0.06, 0.04; running maximum 0.02, 0.03, 0.06, 0.06.
    assert decide.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Capped at 1: 0.02 x 3 = 0.06, 0.5 x 2 = 1.0, 0.6 x 1 -> max(1.0, 0.6).
    assert decide.holm([0.5, 0.6, 0.02]) == pytest.approx([1.0, 1.0, 0.06])
    # Ties: 0.02 x 3 = 0.06, 0.02 x 2 = 0.04 -> 0.06; 0.5.
    assert decide.holm([0.02, 0.02, 0.5]) == pytest.approx([0.06, 0.06, 0.5])


def test_holm_leaves_nan_out_of_the_family():
    # m = 2: 0.01 x 2 = 0.02, 0.04 x 1 = 0.04.
    out = decide.holm([0.01, np.nan, 0.04])
    assert out[[0, 2]] == pytest.approx([0.02, 0.04]) and np.isnan(out[1])
    assert decide.holm([]).shape == (0,)


def test_seed_interval_by_hand():
    # [1, 2, 3, 4]: mean 2.5, sd sqrt(5/3) = 1.29099, se 0.645497, t(0.975, 3) = 3.182446,
    # half-width 2.054260.
    iv = decide.seed_interval([1, 2, 3, 4])
    assert (iv.mean, iv.n) == (2.5, 4)
    assert (iv.low, iv.high) == pytest.approx((0.445740, 4.554260), abs=1e-6)
    # n = 2, [1, 3]: sd sqrt(2), se 1, t(0.975, 1) = 12.706205.
    iv = decide.seed_interval([1, 3])
    assert (iv.low, iv.high) == pytest.approx((2 - 12.706205, 2 + 12.706205), abs=1e-6)
    iv = decide.seed_interval([2.0, 2.0, 2.0])
    assert (iv.sd, iv.low, iv.high) == (0.0, 2.0, 2.0)


def _diffs(rows):
    return pd.DataFrame(rows, columns=["setting", "seed", "diff"])


# Settings A and B over seeds 0, 1, 2.
A = [("A", 0, 1.0), ("A", 1, 2.0), ("A", 2, 3.0)]
B = [("B", 0, 3.0), ("B", 1, 2.0), ("B", 2, 5.0)]


def test_pooled_contrast_with_equal_weights_by_hand():
    # Per seed (a + b) / 2: 2, 2, 4. Mean 8/3; sd sqrt((4/9 + 4/9 + 16/9) / 2) = 1.154701;
    # se 0.666667; t = 4 with 2 df. For 2 df, P(T > t) = 1/2 - t / (2 sqrt(t^2 + 2)) =
    # 0.5 - 4 / (2 sqrt 18) = 0.028595; t(0.975, 2) = 0.95 / sqrt(2 x 0.975 x 0.025) = 4.302653.
    c = decide.pooled_contrast(_diffs(A + B))
    assert (c.n, c.settings) == (3, 2)
    assert c.mean == pytest.approx(8 / 3)
    assert (c.low, c.high) == pytest.approx((8 / 3 - 4.302653 * 2 / 3, 8 / 3 + 4.302653 * 2 / 3))
    assert c.p_greater == pytest.approx(0.5 - 4 / (2 * math.sqrt(18)))
    assert c.p_less == pytest.approx(1 - c.p_greater)
    assert c.p_two_sided == pytest.approx(2 * c.p_greater)
    assert c.p_greater == pytest.approx(
        stats.ttest_1samp([2, 2, 4], 0, alternative="greater").pvalue
    )


def test_pooled_contrast_with_inverse_variance_weights_by_hand():
    # var A = 1, var B = ((1/3)^2 + (4/3)^2 + (5/3)^2) / 2 = 7/3: weights 1 and 3/7, so per seed
    # (7a + 3b) / 10: 1.6, 2.0, 3.6; mean 2.4, sd^2 = (0.64 + 0.16 + 1.44) / 2 = 1.12.
    c = decide.pooled_contrast(_diffs(A + B), weights="inverse_variance")
    assert c.mean == pytest.approx(2.4)
    assert c.high - c.mean == pytest.approx(4.302653 * math.sqrt(1.12 / 3))


def test_pooled_contrast_leaves_out_empty_settings_and_incomplete_seeds():
    rows = A + B + [("C", s, np.nan) for s in range(3)] + [("A", 3, 100.0)]
    c = decide.pooled_contrast(_diffs(rows))
    assert (c.n, c.settings, c.mean) == (3, 2, pytest.approx(8 / 3))


def test_pooled_contrast_edge_cases():
    # Constant per-seed values above 0: sd 0, t = +inf.
    c = decide.pooled_contrast(_diffs([("A", s, 0.5) for s in range(3)]))
    assert (c.p_greater, c.p_less, c.p_two_sided) == (0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="nonzero variance"):
        decide.pooled_contrast(
            _diffs(A + [("B", s, 1.0) for s in range(3)]), weights="inverse_variance"
        )
    with pytest.raises(ValueError, match="equal or inverse_variance"):
        decide.pooled_contrast(_diffs(A), weights="median")
    with pytest.raises(ValueError):  # a (setting, seed) twice
        decide.pooled_contrast(_diffs(A + [("A", 0, 9.0)]))


# Four per-seed differences (pp): mean 0.1; deviations 0.1, -0.4, 0.4, -0.1, sum of squares
# 0.34, sd^2 = 0.34 / 3, se = sqrt(0.34 / 3) / 2 = 0.168325.
TOST = [0.2, -0.3, 0.5, 0.0]
SE = math.sqrt(0.34 / 3) / 2


def test_tost_by_hand():
    # Margin 1: t_lower = (0.1 + 1) / se = 6.53498, t_upper = (0.1 - 1) / se = -5.34680,
    # 3 df. The 90% t-interval 0.1 ± t(0.95, 3) se = 0.1 ± 2.353363 x 0.168325 = [-0.296130, 0.496130]
    # lies inside ±1: equivalent.
    e = decide.tost(TOST, 1.0)
    assert e.p_lower == pytest.approx(stats.t.sf(1.1 / SE, 3))
    assert e.p_upper == pytest.approx(stats.t.cdf(-0.9 / SE, 3))
    assert e.p_tost == e.p_upper and e.verdict == decide.EQUIVALENT
    ninety = decide.seed_interval(TOST, level=0.90)
    assert (ninety.low, ninety.high) == pytest.approx((-0.296130, 0.496130), abs=1e-6)
    # Margin 0.3: t_upper = -0.2 / se = -1.18818, p = 0.16 > 0.05 (the interval's 0.496 > 0.3).
    e = decide.tost(TOST, 0.3)
    assert e.p_tost == pytest.approx(stats.t.sf(0.2 / SE, 3)) == pytest.approx(0.16, abs=0.01)
    assert e.verdict == decide.UNDECIDED


def test_tost_takes_an_interval_and_checks_its_margin():
    assert decide.tost(interval(TOST), 1.0) == decide.tost(TOST, 1.0)
    assert decide.tost([0.2, 0.2], 1.0).verdict == decide.EQUIVALENT  # n = 2, sd 0
    assert math.isnan(decide.tost([0.2], 1.0).p_tost)  # n = 1: no test
    with pytest.raises(ValueError, match="positive"):
        decide.tost(TOST, 0.0)


def test_log_ratios_by_hand():
    assert decide.log_ratio([2.0, 1.0], [1.0, 4.0]) == pytest.approx([math.log(2), math.log(0.25)])
    # Series align by seed: seed 0 is 2/1, seed 1 is 1/4.
    r = decide.log_ratio(pd.Series([1.0, 2.0], index=[1, 0]), pd.Series([1.0, 4.0], index=[0, 1]))
    assert r[0] == pytest.approx(math.log(2)) and r[1] == pytest.approx(math.log(0.25))
    # (1 - 0.9) / (1 - 0.6) = 0.25.
    assert decide.log_one_minus_ratio([0.9], [0.6]) == pytest.approx([math.log(0.25)])
    assert np.isnan(decide.log_ratio([np.nan], [1.0])[0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: decide.log_ratio([1.0, 0.0], [1.0, 1.0]),
        lambda: decide.log_ratio([1.0], [-2.0]),
        lambda: decide.log_one_minus_ratio([1.0], [0.5]),
        lambda: decide.log_one_minus_ratio([0.5], [1.2]),
    ],
)
def test_log_ratios_refuse_non_positive_values(call):
    with pytest.raises(ValueError, match="<= 0"):
        call()


def test_verdict():
    assert decide.verdict(0.01, 0.99) == decide.HOLDS
    assert decide.verdict(0.99, 0.01) == decide.FAILS
    assert decide.verdict(0.2, 0.8) == decide.UNDECIDED
    assert decide.verdict(0.05, 0.95) == decide.UNDECIDED  # strictly below alpha
    assert decide.verdict(0.04, 0.96, alpha=0.01) == decide.UNDECIDED
    assert decide.verdict(math.nan, math.nan) == decide.UNDECIDED
    with pytest.raises(ValueError, match="both"):
        decide.verdict(0.01, 0.02)


def test_page_beyond_the_exact_range_is_a_seeded_permutation_p():
    # 3 seeds x 12 taus, increasing in every seed: L is the largest, 3 x sum j^2 = 3 x 650 =
    # 1950, reached by 1 of 12! orders per seed: no draw of 100,000 reaches it, p = 1/100,001
    up = np.tile(np.arange(12.0), (3, 1))
    t = decide.page_trend(up)
    assert t.L == 1950 and t.p_increasing == pytest.approx(1 / 100_001)
    assert t.p_decreasing == pytest.approx(1.0)
    assert decide.page_trend(up) == t  # seeded: the same on every call
    # at 9 taus the exact p of the largest L is (1/9!)^3; the permutation p agrees in order
    noisy = np.random.default_rng(1).standard_normal((4, 12)) + np.arange(12) * 0.3
    p = decide.page_trend(noisy).p_increasing
    exact_9 = decide.page_trend(noisy[:, :9]).p_increasing
    assert p < 0.05 and exact_9 < 0.05
