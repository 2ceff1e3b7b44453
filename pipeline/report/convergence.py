"""FT's convergence rule (docs/analysis-plan.md): FT from the smallest tau (a fresh head at tau
0) has converged by its last epoch E when the mean over seeds of its training loss falls, over
the last quarter of the epochs (from epoch round(3E/4) to E), by less than 5% (`SHARE`) of its fall
from epoch 1 to E."""

import pandas as pd

SHARE = 0.05


def quarter(last: int) -> int:
    """The epoch where the last quarter of `last` epochs begins: round(3E/4)."""
    return round(3 * last / 4)


def last_quarter_share(loss: pd.Series) -> float:
    """The fall of `loss` (indexed by epoch 1..E) from epoch round(3E/4) to E, as a share of its
    fall from epoch 1 to E; NaN when it did not fall from epoch 1 to E."""
    last = int(loss.index.max())
    whole = loss.loc[1] - loss.loc[last]
    if not whole > 0:
        return float("nan")
    return float((loss.loc[quarter(last)] - loss.loc[last]) / whole)


def table(curves: pd.DataFrame) -> pd.DataFrame:
    """Per setting, at its smallest tau: E (the last epoch every seed ran), the mean training
    loss at epochs 1, round(3E/4) and E, the rule's share and whether FT converged.
    `curves`: FT curve rows (setting, tau, seed, epoch, train_loss)."""
    rows = {}
    for setting, own in curves.groupby("setting", sort=False):
        first = own[own["tau"] == own["tau"].min()]
        last = int(first.groupby("seed")["epoch"].max().min())
        loss = first[first["epoch"] <= last].groupby("epoch")["train_loss"].mean()
        share = last_quarter_share(loss)
        rows[setting] = {
            "tau": int(first["tau"].iloc[0]),
            "E": last,
            "loss at 1": loss.loc[1],
            "loss at round(3E/4)": loss.loc[quarter(last)],
            "loss at E": loss.loc[last],
            "share": share,
            "converged": "yes" if share < SHARE else "no",
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("setting")


def warnings(found: pd.DataFrame) -> list[str]:
    """A warning for each setting of `table`'s result whose FT misses the rule."""
    return [
        f"{setting}: FT at tau {row['tau']} has not converged by epoch {row['E']}: its training "
        f"loss fell {row['share']:.1%} of its whole fall in the last quarter (the rule: under {SHARE:.0%})"
        for setting, row in found.iterrows()
        if row["converged"] == "no"
    ]


def shown(found: pd.DataFrame) -> pd.DataFrame:
    """`table`'s result as text: losses to 4 decimals, the share in percent."""
    losses = [c for c in found.columns if c.startswith("loss")]
    return found.assign(
        **{c: found[c].map(lambda v: f"{v:.4f}") for c in losses},
        share=found["share"].map(lambda v: f"{v:.1%}"),
    ).rename(columns={"share": "last quarter's share of the fall"})
