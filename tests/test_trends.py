"""Trends over tau: Spearman's rho per setting, checked on sequences worked out by hand."""
import pandas as pd
import pytest

from pipeline import trends


def _summary(dist, cos, energy, taus=(0, 1, 4, 16)):
    return pd.DataFrame({"setting": "s", "tau": list(taus), "z_dist_sq": dist, "z_cos": cos, "energy": energy})


def test_a_perfect_paper_trend_is_minus_one_minus_one_plus_one():
    row = trends.table(_summary([9.0, 5.0, 2.0, 1.0], [0.1, 0.5, 0.7, 0.9], [1.0, 0.8, 0.5, 0.2])).loc["s"]
    assert row["rho(E_aie, tau)"] == "-1.00" and row["rho(‖z_T - z_0‖², tau)"] == "-1.00"
    assert row["rho(cos(z_T, z_0), tau)"] == "+1.00" and row["taus"] == "0, 1, 4, 16"


def test_spearman_by_hand():
    # ranks of the values 3, 1, 4, 2 against 1, 2, 3, 4: d = (2, -1, 1, -2), rho = 1 - 6 * 10 / (4 * 15) = 0
    df = _summary([3.0, 1.0, 4.0, 2.0], [0, 0, 0, 0], [0, 0, 0, 0])
    assert trends.spearman(df, "z_dist_sq") == pytest.approx(0.0)
    # one swap of neighbours, 1, 2, 4, 3: sum d^2 = 2, rho = 1 - 12 / 60 = 0.8
    assert trends.spearman(_summary([1.0, 2.0, 4.0, 3.0], [0] * 4, [0] * 4), "z_dist_sq") == pytest.approx(0.8)
