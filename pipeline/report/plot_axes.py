"""One quantity against tau on one panel: the pieces the figures of pipeline/report/plots.py share.

The tau axis is symlog (linear on [0, 1], logarithmic above), so tau 0 (HP0, FT from a fresh
head) is the leftmost point, and its ticks are exactly the grid's taus. Each setting is a
line through its means over seeds, each seed a dot beside it, and a band of the 95% CI
clipped to the quantity's possible range: the band never claims a value the quantity
cannot take (a cosine above 1, a squared distance below 0).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.scale import SymmetricalLogTransform
from matplotlib.ticker import NullLocator
from matplotlib.transforms import ScaledTranslation

from pipeline.io.atomic import atomic_path
from pipeline.report.columns import UNBOUNDED
from pipeline.report.stats import interval

LINTHRESH = 1.0  # taus below this sit on the linear part of the axis (only tau 0 of a grid)
LEGEND_PT = 9
TICK_PT = 9
TAU_LABEL = r"$\tau$ (HP epochs)"
_SYMLOG = SymmetricalLogTransform(10, LINTHRESH, 1)
# Side by side at each tau, the settings of a panel sit DODGE of the axis's span apart, all
# of them within CROWD of the narrowest gap between two taus; each seed's dot sits BESIDE
# times that step right of its setting's mean.
DODGE = 0.045
CROWD = 0.6
BESIDE = 0.35
NARROW = 0.35  # tick labels stand upright when two taus are closer (symlog units)
# One colour per setting of a panel, by its place there (the first, usually the eta_HP = 1
# baseline, is blue, its label-smoothed companion orange); no grey, which reads as "absent".
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def clip_band(low, high, bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The band [low, high] cut to the quantity's possible range `bounds` (lo, hi); NaN (no
    interval: fewer than 2 seeds) stays NaN, so no band is drawn there."""
    lo, hi = bounds
    return np.clip(np.asarray(low, float), lo, hi), np.clip(np.asarray(high, float), lo, hi)


def shifted(taus, shift: float) -> np.ndarray:
    """`taus` moved by `shift` along the symlog axis (in its transformed units), so that
    settings and seeds at the same tau sit beside each other rather than on top."""
    return _SYMLOG.inverted().transform(_SYMLOG.transform(np.asarray(taus, float)) + shift)


def spacing(taus) -> tuple[float, float]:
    """The width of the grid `taus` on the symlog axis and its narrowest gap between two
    taus, in the axis's transformed units (1 for a grid of one tau)."""
    t = np.sort(_SYMLOG.transform(np.unique(np.asarray(taus, float))))
    return (float(t[-1] - t[0]), float(np.diff(t).min())) if len(t) > 1 else (1.0, 1.0)


def tau_axis(ax, taus, hp0: bool = False) -> None:
    """Symlog x axis with a tick at each of `taus` (`hp0`: tau 0's tick reads HP0); the
    labels stand upright on a dense grid (the paper's 0, 1, 2, ..., 128, 200)."""
    taus = sorted({int(t) for t in taus})
    upright = spacing(taus)[1] < NARROW
    ax.set_xscale("symlog", linthresh=LINTHRESH)
    hp0_label = "0 (HP0)" if upright else "0\n(HP0)"
    labels = [hp0_label if hp0 and t == 0 else str(t) for t in taus]
    ax.set_xticks(taus, labels, rotation=90 if upright else 0)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.tick_params(labelsize=TICK_PT)
    ax.set_xlabel(TAU_LABEL)
    ax.grid(alpha=0.3)


def series(
    ax,
    df: pd.DataFrame,
    col: str,
    *,
    label: str,
    color,
    bounds: tuple[float, float] = UNBOUNDED,
    shift: float = 0.0,
    beside: float = 0.0,
    scale: float = 1.0,
) -> None:
    """One setting's `col` (times `scale`) against tau: the mean over seeds a line, each seed
    a dot `beside` it, the 95% CI a band clipped to `bounds`. The setting sits `shift` off
    its taus (symlog units)."""
    values = df.assign(value=df[col].astype(float) * scale)
    ivs = [(tau, interval(g["value"])) for tau, g in values.groupby("tau")]
    taus = [tau for tau, _ in ivs]
    x = shifted(taus, shift)
    low, high = clip_band([iv.low for _, iv in ivs], [iv.high for _, iv in ivs], bounds)
    ax.fill_between(x, low, high, color=color, alpha=0.13, lw=0)
    ax.scatter(
        shifted(values["tau"], shift + beside),
        values["value"],
        s=11,
        color=color,
        alpha=0.6,
        lw=0,
        zorder=3,
    )
    ax.plot(x, [iv.mean for _, iv in ivs], color=color, marker="o", ms=4.5, lw=1.6, label=label)


def settings(ax, group: pd.DataFrame, col: str, **kw) -> None:
    """Every setting of `group` (one panel's rows) as a `series`, dodged apart, and their
    legend under the panel (`save` moves it below the axis label)."""
    names = list(dict.fromkeys(group["setting"]))
    width, gap = spacing(group["tau"].unique())
    step = min(DODGE * width, CROWD * gap / len(names))
    for i, name in enumerate(names):
        series(
            ax,
            group[group["setting"] == name],
            col,
            label=name,
            color=COLORS[i % len(COLORS)],
            shift=step * (i - (len(names) - 1) / 2),
            beside=BESIDE * step,
            **kw,
        )
    ax.legend(fontsize=LEGEND_PT, loc="upper center", bbox_to_anchor=(0.5, 0), frameon=False)


def legends_below(fig) -> None:
    """Hang each panel's legend just under its x axis (tick labels and label), whose height
    the tick labels set: measured on a first draw, in inches, so it holds after the layout."""
    fig.draw_without_rendering()
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        renderer = fig.canvas.get_renderer()
        drop = (ax.get_window_extent().y0 - ax.xaxis.get_tightbbox(renderer).y0) / fig.dpi
        legend.set_bbox_to_anchor(
            (0.5, 0), ax.transAxes + ScaledTranslation(0, -drop - 0.05, fig.dpi_scale_trans)
        )


def save(fig, path) -> None:
    legends_below(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
