"""FT's convergence rule (docs/analysis-plan.md) on curves worked out by hand."""

import math

import pandas as pd
import pytest
from test_conclusions import _setting

from pipeline.report import conclusions, convergence


def _curves(setting, tau, by_seed):
    """Curve rows of one setting and tau: {seed: [train_loss at epoch 1, 2, ...]}."""
    return pd.DataFrame(
        [
            {"setting": setting, "tau": tau, "seed": seed, "epoch": e, "train_loss": v}
            for seed, losses in by_seed.items()
            for e, v in enumerate(losses, start=1)
        ]
    )


def test_the_last_quarters_share_of_the_fall():
    # E = 4, round(3E/4) = 3: (0.40 - 0.35) / (1.00 - 0.35) = 0.05 / 0.65
    loss = pd.Series([1.0, 0.6, 0.4, 0.35], index=[1, 2, 3, 4])
    assert convergence.last_quarter_share(loss) == pytest.approx(0.05 / 0.65)
    # E = 8, round(6) = 6: (0.22 - 0.21) / (1.0 - 0.21) = 0.01 / 0.79
    loss = pd.Series([1.0, 0.6, 0.4, 0.3, 0.25, 0.22, 0.215, 0.21], index=range(1, 9))
    assert convergence.last_quarter_share(loss) == pytest.approx(0.01 / 0.79)
    # a loss that did not fall has no share
    assert math.isnan(
        convergence.last_quarter_share(pd.Series([0.5, 0.6, 0.5, 0.7], index=range(1, 5)))
    )


def test_the_table_means_over_seeds_at_the_smallest_tau_up_to_the_epoch_all_ran():
    curves = pd.concat(
        [
            # seed 1 ran a fifth epoch: cut, so that E = 4 for both seeds
            _curves("a", 0, {0: [1.2, 0.6, 0.5, 0.40], 1: [0.8, 0.6, 0.3, 0.30, 0.1]}),
            _curves("a", 64, {0: [9.0, 9.0, 9.0, 9.0], 1: [9.0, 9.0, 9.0, 9.0]}),  # ignored
            _curves("b", 1, {0: [1.0, 0.5, 0.20, 0.19], 1: [1.0, 0.5, 0.20, 0.19]}),
        ],
        ignore_index=True,
    )
    found = convergence.table(curves)
    a, b = found.loc["a"], found.loc["b"]
    # a: means 1.0, 0.6, 0.4, 0.35 over epochs 1-4 (the first test's curve): share 7.7%
    assert (a["tau"], a["E"]) == (0, 4)
    assert a["loss at 1"] == pytest.approx(1.0) and a["loss at E"] == pytest.approx(0.35)
    assert a["share"] == pytest.approx(0.05 / 0.65) and a["converged"] == "no"
    # b: (0.20 - 0.19) / (1.0 - 0.19) = 1.2%
    assert b["tau"] == 1 and b["share"] == pytest.approx(0.01 / 0.81) and b["converged"] == "yes"
    (warning,) = convergence.warnings(found)
    assert warning.startswith("a: FT at tau 0 has not converged by epoch 4") and "7.7%" in warning
    shown = convergence.shown(found)
    assert shown.loc["a", "last quarter's share of the fall"] == "7.7%"
    assert shown.loc["b", "loss at E"] == "0.1900"


def test_conclusions_show_the_check_and_warn_when_curves_are_given():
    summary = _setting("a")
    curves = _curves("a", 0, {s: [1.0, 0.6, 0.4, 0.35] for s in summary["seed"].unique()})
    text = conclusions.markdown(summary, converged=convergence.table(curves))
    assert "## FT's convergence at the smallest tau" in text
    assert "- a: FT at tau 0 has not converged by epoch 4" in text
    assert "## FT's convergence" not in conclusions.markdown(summary)
