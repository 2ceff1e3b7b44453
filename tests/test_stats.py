"""Statistics over seeds, against values worked out by hand (t quantiles from a printed table:
t(0.975, 1) = 12.7062, t(0.975, 2) = 4.3027)."""

import math

import pandas as pd
import pytest
from scipy.stats import ttest_rel

from pipeline.report import columns, stats

T2 = 4.302653  # t(0.975, 2 degrees of freedom)


def test_interval_of_three_values_by_hand():
    # 1, 2, 4: mean 7/3, sd^2 = (16 + 1 + 25) / 9 / 2 = 7/3, half = t * sd / sqrt(3) = T2 * sqrt(7) / 3
    iv = stats.interval([1.0, 2.0, 4.0])
    assert (
        iv.n == 3 and iv.mean == pytest.approx(7 / 3) and iv.sd == pytest.approx(math.sqrt(7 / 3))
    )
    assert iv.half == pytest.approx(3.79458, abs=1e-4)
    assert (iv.low, iv.high) == pytest.approx((7 / 3 - 3.79458, 7 / 3 + 3.79458), abs=1e-4)
    assert iv.side == 0  # the interval holds 0


def test_nan_left_out_one_value_no_interval_none_no_mean():
    # n = 2, sd = sqrt(2), half = 12.7062 * sqrt(2) / sqrt(2)
    two = stats.interval([1.0, math.nan, 3.0])
    assert two.n == 2 and two.half == pytest.approx(12.7062, abs=1e-4)
    one = stats.interval([0.5])
    assert one.n == 1 and one.mean == 0.5 and math.isnan(one.half) and one.text() == "0.5"
    assert stats.interval([math.nan]).text() == "n/a"


def test_identical_values_give_a_zero_width_interval():
    iv = stats.interval([2.0, 2.0, 2.0])
    assert iv.half == 0 and iv.side == 1 and stats.interval([-2.0] * 3).side == -1


def test_paired_difference_by_seed():
    a = pd.Series({0: 0.80, 1: 0.85, 2: 0.90})
    b = pd.Series({2: 0.82, 0: 0.70, 1: 0.80})  # another order: paired by seed, not by position
    # differences 0.10, 0.05, 0.08: mean 0.07667, sd^2 = (0.0233^2 + 0.0267^2 + 0.0033^2) / 2 = 0.00063333
    iv = stats.paired(a, b)
    assert iv.mean == pytest.approx(0.076667, abs=1e-6)
    assert iv.half == pytest.approx(T2 * math.sqrt(0.00063333 / 3), abs=1e-5)  # 0.06252
    ci = ttest_rel(a.sort_index(), b.sort_index()).confidence_interval()
    assert (iv.low, iv.high) == pytest.approx((ci.low, ci.high))
    assert iv.text(".2f", 100, signed=True) == "+7.67 ± 6.25"
    assert stats.paired(a, b.drop(1)).n == 2  # only the seeds both have


def test_mode_ties_go_to_the_smaller_value():
    assert stats.mode([16, 16, 4, 64, 16]) == (16, 3, 5)
    assert stats.mode_text([16, 16, 4, 64, 16]) == "16 (3/5)"
    assert stats.mode_text([64, 16, 16, 64, 4]) == "16 (2/5)"
    assert stats.mode_text([4, math.nan, 4]) == "4 (2/2)" and stats.mode_text([]) == "n/a"


def test_describe_one_row_per_setting_tau_quantity():
    summary = pd.DataFrame(
        {
            "setting": "s",
            "tau": 0,
            "seed": [0, 1, 2],
            "val_score": [0.8, 0.9, 1.0],
            **{q: 0.0 for q in columns.aggregated() if q != "val_score"},
        }
    )
    out = stats.describe(summary)
    assert list(out["quantity"]) == columns.aggregated()
    row = out[out["quantity"] == "val_score"].iloc[0]
    assert (row["n"], row["mean"], row["sd"]) == (3, pytest.approx(0.9), pytest.approx(0.1))
    assert row["ci_half"] == pytest.approx(T2 * 0.1 / math.sqrt(3), abs=1e-6)  # 0.24841
    assert row["ci_low"] == pytest.approx(0.9 - row["ci_half"])
