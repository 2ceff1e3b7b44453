"""The power simulation (pipeline.tools.power): its table's shape, its pieces against the
functions they stand for, and Page's false-positive rate against its exact size."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from pipeline.__main__ import COMMANDS
from pipeline.report import decide, trends
from pipeline.report.stats import interval
from pipeline.tools import power


def test_the_table_has_a_row_per_design_and_strength():
    t = power.table(studies=2, draws=500)
    assert list(t.columns) == power.COLUMNS
    assert len(t) == len(power.TAUS) * len(power.SEEDS) * len(power.RHOS)
    shares = t[[power.EARLIER, "Page", "Page + Holm"]]
    assert ((shares >= 0) & (shares <= 1)).all().all()
    for _, g in t.groupby(["taus", "seeds"]):
        assert g["beta"].iloc[0] == 0 and g["beta"].is_monotonic_increasing
    # Holm only ever raises a p-value: it never says holds more often than Page alone.
    assert (t["Page + Holm"] <= t["Page"]).all()


def test_spearman_is_trends_spearman_row_by_row():
    y = np.random.default_rng(1).normal(size=(5, 4))
    y[0] = [1.0, 1.0, 0.5, 2.0]  # a tie
    taus = [0, 1, 4, 16]
    for row, rho in zip(y, power.spearman(y), strict=True):
        df = pd.DataFrame({"tau": taus, "v": row})
        assert rho == pytest.approx(trends.spearman(df, "v"))


def test_the_earlier_rule_is_the_interval_rule_it_replaced():
    """Per setting: stats.interval of the rhos lies above 0 and the mean is at least 0.5."""
    rng = np.random.default_rng(0)
    rho = rng.choice([-0.4, 0.2, 0.4, 0.6, 0.8, 1.0], size=(300, 4))
    rho[:3] = [[1.0] * 4, [0.4] * 4, [0.6, 0.6, 0.6, 0.8]]  # identical: sd 0
    expected = [
        (iv := interval(r)).low > 0 and round(iv.mean, 9) >= power.MIN_RHO and iv.n >= 3
        for r in rho
    ]
    assert power.earlier_rule(rho).tolist() == expected
    assert set(expected) == {True, False}


def test_page_ps_are_page_trend_matrix_by_matrix():
    y = np.random.default_rng(3).normal(size=(2, 3, 4, 4))
    up, down = power.page_ps(y)
    for i, j in itertools.product(range(2), range(3)):
        t = decide.page_trend(y[i, j])
        assert (up[i, j], down[i, j]) == (t.p_increasing, t.p_decreasing)


def exact_size(seeds: int, taus: int, level: float = power.SIZE) -> float:
    """The largest P(L >= l) under the null that is below `level`: the rate at which an exact
    one-sided test at `level` rejects. L is the sum over seeds of sum_j j r_j, r a uniform permutation:
    the distribution of one seed's sum, convolved `seeds` times."""
    sums = [
        sum(j * r for j, r in enumerate(p, 1)) for p in itertools.permutations(range(1, taus + 1))
    ]
    one = np.bincount(np.array(sums) - min(sums)).astype(float)
    dist = np.array([1.0])
    for _ in range(seeds):
        dist = np.convolve(dist, one)
    sf = (dist[::-1].cumsum()[::-1]) / dist.sum()
    return float(sf[sf < level].max())


def test_pages_false_positive_rate_is_its_exact_size_near_alpha():
    # 5 seeds x 8 taus: the exact one-sided test at 0.025 (two-sided 0.05) has size 0.0246,
    # worked out here by enumerating the permutations (at 0.05 one-sided: 0.0493 for 8 x 4).
    assert exact_size(8, 4, 0.05) == pytest.approx(0.0493, abs=0.0001)
    size = exact_size(5, 8)
    assert size == pytest.approx(0.0246, abs=0.0001)
    studies = 300
    rate = power.simulate(5, 8, 0.0, studies, np.random.default_rng(4))["Page"]
    # 2100 independent settings: the rate is binomial with SD sqrt(size (1 - size) / 2100)
    # = 0.0034; 4 SD (0.014) leaves a false failure at under 1 in 10^4 for any seed.
    sd = math.sqrt(size * (1 - size) / (studies * power.SETTINGS))
    assert abs(rate - size) <= 4 * sd


def test_the_command_writes_its_page(tmp_path):
    assert COMMANDS["power"] == power.__name__
    out = tmp_path / "power.md"
    power.main(["--out", str(out), "--studies", "2"])
    text = out.read_text()
    assert text.startswith("# Power of the trend rules")
    assert text.count("\n| ") == 1 + len(power.TAUS) * len(power.SEEDS) * len(power.RHOS)
    assert "## Reading\n\nWith no trend" in text
