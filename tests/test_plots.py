"""The figures from a small hand-made summary: every one renders, the CI bands stay within
each quantity's possible range, the tau ticks are the grid's taus with HP0 leftmost, and no
panel mixes two setting groups."""

import math

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from pipeline.report import columns, conclusions, plot_verdicts, plots
from pipeline.report.plot_axes import LEGEND_PT, clip_band

TAUS = (0, 1, 4, 16)
# Per seed: seed 2 strays far from seeds 0 and 1, so that the 95% CI over 3 seeds (half-width
# 2.4841 * sd) runs past the range: cos above 1, squared distances below 0, scores above 1.
STRAY = {"z_cos": (0.99, 0.2), "z_dist_sq": (0.1, 30.0), "val_score": (0.99, 0.4)}


def _setting(name, pretrain="mlp", downstream="d3", eta_hp=1.0, metric="accuracy"):
    rows = []
    for seed in range(3):
        for i, tau in enumerate(TAUS):
            near = {col: (v[1] if seed == 2 else v[0]) for col, v in STRAY.items()}
            rows.append(
                {
                    "family": "classification",
                    "setting": name,
                    "pretrain": pretrain,
                    "downstream": downstream,
                    "head": "linear",
                    "eta_hp": eta_hp,
                    "eta_ft": 1.0,
                    "bn": "source",
                    "tau": tau,
                    "seed": seed,
                    "hp_train_fit": 0.5 + 0.1 * i,
                    "energy": 1.4 - 0.3 * i + (0.3 if seed == 2 else 0.0),
                    "test_score": near["val_score"],
                    "metric": metric,
                    "z_dot": 10.0 - i + seed,
                    "z_norm_sq": 20.0 + i,
                    "stopped_early": True,
                    "best_epoch": 3,
                    "ft_epochs": 10,
                    **near,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def summary():
    return pd.concat(
        [_setting("toy"), _setting("toy_ls", eta_hp=0.9), _setting("big", "resnet", "d10")],
        ignore_index=True,
    )


def _bands(ax) -> np.ndarray:
    """The y values of every CI band (fill_between polygon) on a panel."""
    ys = [
        p.vertices[:, 1]
        for c in ax.collections
        if isinstance(c, PolyCollection)
        for p in c.get_paths()
    ]
    return np.concatenate(ys) if ys else np.array([])


def test_clip_band_on_hand_made_numbers():
    low, high = clip_band([-1.3, 0.8, math.nan], [1.2, 0.95, math.nan], (-1.0, 1.0))
    assert list(low[:2]) == [-1.0, 0.8] and list(high[:2]) == [1.0, 0.95]
    assert math.isnan(low[2]) and math.isnan(high[2])  # no interval: no band
    low, high = clip_band([-10.0, 2.0], [5.0, 1e9], (0.0, math.inf))
    assert list(low) == [0.0, 2.0] and list(high) == [5.0, 1e9]
    low, high = clip_band([-20.0], [120.0], columns.get("val_score").plot.bounds)
    assert (low[0], high[0]) == (0.0, 100.0)


def test_every_figure_renders_to_a_png_that_is_not_blank(summary, tmp_path):
    out = {key: tmp_path / f"{key}.png" for key in [*plots.FIGURES, "verdicts"]}
    plots.write(summary, out)
    for key, path in out.items():
        pixels = matplotlib.image.imread(path)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 300, key
        assert pixels[..., :3].std() > 0.05, f"{key}: blank"


def test_bands_stay_within_each_quantity_range(summary):
    """The stray seed puts every raw interval past its range; the drawn band stops at it."""
    fig = plots.z_metrics(summary)  # a row per z metric, a column per setting group
    for i, col in enumerate(columns.plotted("z")):
        lo, hi = col.plot.bounds
        for ax in fig.axes[i * 2 : i * 2 + 2]:
            ys = _bands(ax)
            assert ax.get_ylabel() == col.plot.label and ys.min() >= lo and ys.max() <= hi, col
    cos_band = _bands(fig.axes[6])
    dist_band = _bands(fig.axes[0])
    assert cos_band.max() == 1.0 and dist_band.min() == 0.0  # clipped, not merely inside
    for ax in plots.figure4(summary).axes:
        ys = _bands(ax)
        assert ys.min() >= 0 and ys.max() == 100.0  # percent, cut at 100
    for ax in plots.energy(summary).axes:
        ys = _bands(ax)
        assert ys.min() >= 0 and ys.max() == pytest.approx(math.sqrt(2))
    assert plots.energy_bounds("roc_auc") == (0.0, math.inf)  # K sigmoids reach sqrt(K)
    one_seed = plots.figure4(summary[summary["seed"] == 0]).axes[0]
    assert not len(_bands(one_seed)) and one_seed.get_lines()  # no interval, no band


def test_ticks_are_the_taus_hp0_leftmost_and_legends_readable(summary):
    for fig in (plots.figure4(summary), plots.energy(summary), plots.z_metrics(summary)):
        for ax in fig.axes:
            assert ax.get_xscale() == "symlog"
            assert list(ax.get_xticks()) == list(TAUS)
            assert not len(ax.xaxis.get_minorticklocs())
            legend = ax.get_legend()
            assert legend is None or all(t.get_fontsize() >= LEGEND_PT for t in legend.get_texts())
            assert "$" in ax.get_ylabel() or "(%)" in ax.get_ylabel()
    ax = plots.figure4(summary).axes[0]
    assert "HP0" in ax.get_xticklabels()[0].get_text()
    (mean_line,) = [ln for ln in ax.get_lines() if ln.get_label() == "toy"]
    assert mean_line.get_xdata()[0] == min(mean_line.get_xdata())


def test_one_panel_per_setting_group_never_mixed(summary):
    """The 3-class toy (with its label-smoothed companion) and the 10-class ResNet get a
    panel each; each seed is a dot beside its setting's mean."""
    fig = plots.figure4(summary)
    labels = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes]
    assert labels == [["toy", "toy_ls"], ["big"]]
    dots = [c for c in fig.axes[1].collections if not isinstance(c, PolyCollection)]
    assert len(dots) == 1 and len(dots[0].get_offsets()) == 3 * len(TAUS)


def test_verdict_grid_figure_shows_the_conclusions_grid(summary):
    table = conclusions.glance(conclusions.claims(summary), conclusions.ls_claims(summary))
    fig = plot_verdicts.figure(summary)
    (ax,) = fig.axes
    cells = [t.get_text() for t in ax.texts]
    expected = [v or "n/a" for v in table.fillna("").to_numpy().ravel()]
    assert cells == expected
    assert [t.get_text() for t in ax.get_yticklabels()] == list(table.index)
    assert [t.get_text().replace("\n", " ") for t in ax.get_xticklabels()] == list(table.columns)
    # at the study's alpha, as conclusions.md judges: none holds at a tiny one
    assert (plot_verdicts.grid(summary) == conclusions.HOLDS).any().any()
    strict = plot_verdicts.figure(summary, alpha=1e-12)
    assert conclusions.HOLDS not in [t.get_text() for t in strict.axes[0].texts]
    assert "alpha 1e-12" in strict.axes[0].get_title()


def test_ft_loss_has_a_panel_per_setting_its_ends_of_the_tau_grid_and_the_z_epochs(summary):
    """Seeds 0-2 of each setting at taus 0 and 16, for 6 epochs (seed 2 stops after 4):
    train loss 1 / (epoch + seed) at tau 0; the mean is over the seeds still training."""
    rows = [
        {"setting": s, "tau": tau, "seed": seed, "epoch": e, "train_loss": 1 / (e + seed)}
        for s in ("toy", "toy_ls", "big")
        for tau in (0, 16)
        for seed in range(3)
        for e in range(1, 7 if seed < 2 else 5)
    ]
    z = summary.assign(z_epoch=3, z_epoch2=6)
    z.loc[z["setting"] == "big", "z_epoch2"] = 3  # one z epoch twice: one line
    fig = plots.ft_loss(pd.DataFrame(rows), z)
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["toy", "toy_ls", "big"]
    labels = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes]
    assert labels[0] == ["tau 0", "tau 16", "z_epoch 3", "z_epoch2 6"]
    assert labels[2] == ["tau 0", "tau 16", "z_epoch 3"]
    tau0 = fig.axes[0].get_lines()[0]
    # epoch 4: (1/4 + 1/5 + 1/6) / 3; epoch 5: seeds 0 and 1 only, (1/5 + 1/6) / 2
    assert list(tau0.get_xdata()) == [1, 2, 3, 4, 5, 6]
    assert tau0.get_ydata()[3] == pytest.approx((1 / 4 + 1 / 5 + 1 / 6) / 3)
    assert tau0.get_ydata()[4] == pytest.approx((1 / 5 + 1 / 6) / 2)
    assert [ln.get_xdata()[0] for ln in fig.axes[0].get_lines()[2:]] == [3, 6]
