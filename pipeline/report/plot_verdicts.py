"""The verdict grid of results/conclusions.md as a figure: one row per setting, one column per
claim, each cell coloured by its verdict and labelled with it (conclusions.glance)."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

from pipeline.report import conclusions, decide
from pipeline.report.tables import n_seeds

# Verdict -> cell colour; an empty cell is a claim the setting does not make ((f) without a
# label-smoothed companion).
SHADES = {
    conclusions.HOLDS: "#7fc97f",
    conclusions.FAILS: "#f0836f",
    conclusions.UNDECIDED: "#e4e4e4",
    "": "#ffffff",
}


def grid(summary: pd.DataFrame, alpha: float = decide.ALPHA) -> pd.DataFrame:
    """Settings x claims, each cell a verdict at `alpha` ("" where the claim does not apply)."""
    found = conclusions.claims(summary, alpha)
    return conclusions.glance(found, conclusions.ls_claims(summary, alpha)).fillna("")


def figure(summary: pd.DataFrame, alpha: float = decide.ALPHA):
    """The grid at `alpha` (the study's, as in conclusions.md) as coloured cells, settings down,
    claims (named) across."""
    table = grid(summary, alpha)
    order = list(SHADES)
    codes = np.vectorize(order.index)(table.to_numpy())
    fig, ax = plt.subplots(
        figsize=(1.3 * table.shape[1] + 2.0, 0.34 * table.shape[0] + 1.3), layout="constrained"
    )
    ax.imshow(
        codes,
        cmap=ListedColormap(list(SHADES.values())),
        vmin=0,
        vmax=len(order) - 1,
        aspect="auto",
    )
    for (i, j), verdict in np.ndenumerate(table.to_numpy()):
        ax.text(
            j,
            i,
            verdict or "n/a",
            ha="center",
            va="center",
            fontsize=9,
            alpha=1 if verdict else 0.4,
        )
    heads = [textwrap.fill(str(c), 16) for c in table.columns]
    ax.set_xticks(range(table.shape[1]), heads, fontsize=9)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=9)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.set_xticks(np.arange(table.shape[1] + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(table.shape[0] + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=2)
    ax.tick_params(which="minor", length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(
        f"The paper's claims per setting (n = {n_seeds(summary)} seeds, alpha {alpha:g}; rules in "
        "conclusions.md)",
        fontsize=10,
    )
    return fig
