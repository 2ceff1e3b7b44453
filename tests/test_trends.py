"""Trends over tau: Spearman's rho per seed, and its summary over seeds, checked on sequences
worked out by hand."""

import math

import pandas as pd
import pytest

from pipeline.report import trends


def _summary(dist, cos, energy, taus=(0, 1, 4, 16), setting="s", **const):
    """One setting; each of dist, cos, energy is a list of values over `taus` per seed."""
    return pd.DataFrame(
        [
            {
                "setting": setting,
                "seed": seed,
                "tau": tau,
                "z_dist_sq": d[i],
                "z_cos": c[i],
                "energy": e[i],
                **const,
            }
            for seed, (d, c, e) in enumerate(zip(dist, cos, energy, strict=True))
            for i, tau in enumerate(taus)
        ]
    )


PERFECT = _summary(
    [[9.0, 5.0, 2.0, 1.0]] * 3, [[0.1, 0.5, 0.7, 0.9]] * 3, [[1.0, 0.8, 0.5, 0.2]] * 3
)


def test_a_perfect_paper_trend_is_minus_one_minus_one_plus_one():
    row = trends.table(PERFECT).loc["s"]
    assert row["rho(E_aie, tau)"] == "-1.00 [-1.00, -1.00], 3/3 negative"
    assert row["rho(‖z_T - z_0‖², tau)"] == "-1.00 [-1.00, -1.00], 3/3 negative"
    assert (
        row["rho(cos(z_T, z_0), tau)"] == "+1.00 [+1.00, +1.00], 3/3 positive"
        and row["taus"] == "0, 1, 4, 16"
    )


def test_spearman_by_hand():
    # ranks of the values 3, 1, 4, 2 against 1, 2, 3, 4: d = (2, -1, 1, -2), rho = 1 - 6 * 10 / (4 * 15) = 0
    df = _summary([[3.0, 1.0, 4.0, 2.0]], [[0] * 4], [[0] * 4])
    assert trends.spearman(df, "z_dist_sq") == pytest.approx(0.0)
    # one swap of neighbours, 1, 2, 4, 3: sum d^2 = 2, rho = 1 - 12 / 60 = 0.8
    assert trends.spearman(
        _summary([[1.0, 2.0, 4.0, 3.0]], [[0] * 4], [[0] * 4]), "z_dist_sq"
    ) == pytest.approx(0.8)


def test_rho_over_seeds_mean_ci_and_sign_agreement():
    # per seed -1, -0.8 (one swap), -0.8: mean -0.8667, sd 0.11547, half 4.3027 * 0.11547 / sqrt(3) = 0.2868
    df = _summary([[9, 5, 2, 1], [9, 5, 1, 2], [5, 9, 2, 1]], [[0] * 4] * 3, [[0] * 4] * 3)
    rho = trends.rhos(df, "z_dist_sq")
    assert rho.tolist() == pytest.approx([-1.0, -0.8, -0.8])
    # low -1.15 shown as -1
    assert trends.rho_text(rho, "falls") == "-0.87 [-1.00, -0.58], 3/3 negative"
    assert trends.rho_text(rho, "rises") == "-0.87 [-1.00, -0.58], 0/3 positive"
    assert trends.rho_text(rho.iloc[:1], "falls") == "-1.00, 1/1 negative"  # one seed: no interval


def test_values_are_means_over_seeds():
    df = _summary(
        [[9.0, 5.0, 2.0, 1.0], [7.0, 5.0, 2.0, 1.0], [8.0, 5.0, 2.0, 1.0]],
        [[0.1, 0.5, 0.7, 0.9]] * 3,
        [[1.0, 0.8, 0.5, 0.2]] * 3,
    )
    assert trends.table(df).loc["s", "‖z_T - z_0‖²"] == "8, 5, 2, 1"


def test_batchnorm_split_only_for_backbones_with_batchnorm():
    bn = PERFECT.assign(bn="target", z_stats_dist_sq=900.0, z_weights_dist_sq=PERFECT["z_dist_sq"])
    none = _summary(
        [[1] * 4] * 3,
        [[1] * 4] * 3,
        [[1] * 4] * 3,
        setting="mlp",
        bn="source",
        z_stats_dist_sq=math.nan,
        z_weights_dist_sq=math.nan,
    )
    split = trends.bn_split(pd.concat([bn, none]))
    assert list(split.index) == ["s"]
    assert split.loc["s", "statistics part"] == "900 ± 0"
    assert (
        split.loc["s", "weights part, tau min"] == "9 ± 0"
        and split.loc["s", "weights part, tau max"] == "1 ± 0"
    )
    assert "## BatchNorm" in trends.markdown(pd.concat([bn, none]))
    assert "## BatchNorm" not in trends.markdown(none)
