"""The paper's tables from results/summary.csv (pandas, pure functions), over replicate seeds.

A column of Table 1 is a baseline setting (eta_HP = eta_FT = 1, the family's plain head:
not the MLP head or partial backbone of Tables 2 and 3). Its lsHPmax-FT cell comes from the
label-smoothed companion: same family, pretrain, downstream, head, bn and eta_FT, with
eta_HP < 1. tau* is chosen per seed by validation score (ties: the smaller tau), and a
seed's HPtau*-FT is its FT score at its own tau*.

Every cell is mean ± 95% CI half-width over seeds (pipeline.report.stats), but HP-train-acc at
tau*, the median [range] over seeds whose tau* differ; a row `A − B` is the
difference paired by seed; a cell whose FT runs were mostly still improving at the epoch cap is marked †.
"""

from __future__ import annotations

import math

import pandas as pd

from pipeline.report import columns
from pipeline.report.stats import Interval, interval, mode_text, paired

GROUP = ["family", "pretrain", "downstream", "head", "bn"]
CAPPED = "†"
MINUS = " − "
FIT, VAL = columns.get("hp_train_fit").text, columns.get("val_score").text
ROWS1 = [
    f"{FIT} (tau*)",
    f"{FIT} (tau max)",
    "HP0-FT",
    "HPmax-FT",
    "HPtau*-FT",
    "tau*",
    "lsHPmax-FT",
    f"HPtau*-FT{MINUS}HP0-FT",
    f"HPmax-FT{MINUS}HP0-FT",
    f"lsHPmax-FT{MINUS}HP0-FT",
]
FT_SCORES = ["hp0_ft", "hpmax_ft", "hp_tau_star_ft"]


def tau_star(df: pd.DataFrame) -> int:
    """tau* of one seed's rows: the best validation score, ties to the smaller tau."""
    best = df.sort_values(["val_score", "tau"], ascending=[False, True])
    return int(best["tau"].iloc[0])


def tau_stars(df: pd.DataFrame) -> pd.Series:
    """tau* of each seed of one setting, by seed."""
    return pd.Series({seed: tau_star(g) for seed, g in df.groupby("seed")}, dtype=int)


def pick(df: pd.DataFrame, tau, col: str) -> pd.Series:
    """Per seed of one setting, `col` at `tau`: one tau for every seed, or a Series of taus by
    seed (NaN where that row is missing)."""
    taus = tau if isinstance(tau, pd.Series) else pd.Series(tau, index=sorted(df["seed"].unique()))
    values = df.set_index(["seed", "tau"])[col]
    return pd.Series(
        [values.get((s, t), math.nan) for s, t in taus.items()], index=taus.index, dtype=float
    )


def seed_table(df: pd.DataFrame) -> pd.DataFrame:
    """One setting -> one row per seed: tau*, the FT test score at tau 0, tau max and tau*
    (hp0_ft, hpmax_ft, hp_tau_star_ft, each with `_capped`: 1 if that FT run was still
    improving at its epoch cap, `still_improving`), and HP-train-acc (`hp_train_fit`) at tau* and tau max."""
    ts, tmax = tau_stars(df), int(df["tau"].max())
    marked = df.assign(at_cap=still_improving(df))
    out = {"tau_star": ts}
    for key, tau in zip(FT_SCORES, (0, tmax, ts), strict=True):
        out[key] = pick(df, tau, "test_score")
        out[f"{key}_capped"] = pick(marked, tau, "at_cap")
    out["hp_train_fit_tau_star"] = pick(df, ts, "hp_train_fit")
    out["hp_train_fit_max"] = pick(df, tmax, "hp_train_fit")
    return pd.DataFrame(out)


def is_trick(head: str) -> bool:
    """Section 5.3's heads: the 2-layer MLP, or a partial backbone (-L4xK)."""
    return head == "mlp" or "-L4x" in head


def companion(summary: pd.DataFrame, setting: str) -> pd.DataFrame:
    """The rows of a setting's label-smoothed companion (same GROUP and eta_FT, eta_HP < 1;
    the first such setting), or no rows."""
    first = summary[summary["setting"] == setting].iloc[0]
    hits = summary[
        (summary[GROUP] == first[GROUP]).all(axis=1)
        & (summary["eta_ft"] == first["eta_ft"])
        & (summary["eta_hp"] < 1)
    ]
    return hits[hits["setting"] == hits["setting"].iloc[0]] if len(hits) else hits


def still_improving(df: pd.DataFrame) -> pd.Series:
    """1 where FT's best validation epoch is its epoch cap (`best_epoch` = `ft_epochs`): FT was
    still improving on validation when the cap ended it; 0 elsewhere. (FT runs through the last
    z epoch whatever its patience, so running to the cap alone says nothing.)"""
    return (df["best_epoch"] >= df["ft_epochs"]).astype(int)


def mostly_capped(capped) -> bool:
    """More than half of the FT runs (1 = still improving at the epoch cap) were."""
    capped = pd.Series(capped, dtype=float).dropna()
    return len(capped) > 0 and capped.mean() > 0.5


def cell(
    iv: Interval,
    n: int,
    fmt: str = ".2f",
    scale: float = 100.0,
    signed: bool = False,
    capped: bool = False,
) -> str:
    """`iv` as `mean ± half`, `(n=2)` when fewer than the table's `n` seeds count, † when the
    FT runs behind it were mostly still improving at the epoch cap."""
    text = iv.text(fmt, scale, signed)
    if iv.n and iv.n != n:
        text += f" (n={iv.n})"
    return text + CAPPED if capped and iv.n else text


def spread_cell(values: pd.Series, scale: float = 100.0) -> str:
    """`94.1 [91.0-97.3]`: the median and the range over seeds, for a row whose seeds sit at
    different taus (HP-train-acc at tau*), where a t-interval would mix taus."""
    x = pd.Series(values, dtype=float).dropna() * scale
    if x.empty:
        return "n/a"
    return f"{x.median():.1f} [{x.min():.1f}-{x.max():.1f}]"


def n_seeds(summary: pd.DataFrame) -> int:
    return int(summary["seed"].nunique())


def _column_name(row, show_bn: bool) -> str:
    bn = f", bn={row['bn']}" if show_bn else ""
    return f"{row['downstream']} ({row['pretrain']}, {row['head']}{bn})"


def table1(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows HP-train-acc at tau* (the paper's row, section 5.2: median [range] over seeds, as
    the seeds' tau* differ) and at tau max, HP0-FT,
    HPmax-FT, HPtau*-FT, tau* (mode and frequency), lsHPmax-FT, and the paired differences
    with HP0-FT; one column per baseline setting; scores in percent. HP-train-acc is the
    family's `hp_fit` reading (`hp_train_fit`): accuracy, or the training ROC-AUC for
    multi-label molecules (docs/paper-conformance.md)."""
    n, show_bn, cols = n_seeds(summary), summary["bn"].nunique() > 1, {}
    for setting, df in summary.groupby("setting", sort=False):
        first = df.iloc[0]
        if first["eta_hp"] != 1 or first["eta_ft"] != 1 or is_trick(first["head"]):
            continue
        s = seed_table(df)
        ls = companion(summary, setting)
        ls_s = seed_table(ls) if len(ls) else pd.DataFrame({"hpmax_ft": [], "hpmax_ft_capped": []})
        ft = {
            key: cell(interval(s[key]), n, capped=mostly_capped(s[f"{key}_capped"]))
            for key in FT_SCORES
        }
        cols[_column_name(first, show_bn)] = dict(
            zip(
                ROWS1,
                [
                    spread_cell(s["hp_train_fit_tau_star"]),
                    cell(interval(s["hp_train_fit_max"]), n),
                    ft["hp0_ft"],
                    ft["hpmax_ft"],
                    ft["hp_tau_star_ft"],
                    mode_text(s["tau_star"]),
                    cell(
                        interval(ls_s["hpmax_ft"]), n, capped=mostly_capped(ls_s["hpmax_ft_capped"])
                    ),
                    cell(paired(s["hp_tau_star_ft"], s["hp0_ft"]), n, signed=True),
                    cell(paired(s["hpmax_ft"], s["hp0_ft"]), n, signed=True),
                    cell(paired(ls_s["hpmax_ft"], s["hp0_ft"]), n, signed=True),
                ],
                strict=True,
            )
        )
    return pd.DataFrame(cols, index=ROWS1)


def _top(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["tau"] == df["tau"].max()]


def table2(summary: pd.DataFrame) -> pd.DataFrame:
    """Table 2: per (family, pretrain, downstream, bn) at max tau, the baseline, the MLP head
    and the (eta_FT, eta_HP) grid: HP-train-acc, 1 - cos, ||z_T - z_0||^2 and FT-val score."""
    n, show_bn, cols = n_seeds(summary), summary["bn"].nunique() > 1, {}
    for _, df in summary.groupby("setting", sort=False):
        r, top = df.iloc[0], _top(df)
        if r["head"] not in ("linear", "mlp"):
            continue
        variant = f"{r['head']} head, eta_FT={r['eta_ft']:g}, eta_HP={r['eta_hp']:g}"
        bn = f", bn={r['bn']}" if show_bn else ""
        cols[f"{r['downstream']} ({r['pretrain']}{bn}): {variant}"] = {
            FIT: cell(interval(top["hp_train_fit"]), n),
            f"1 - {columns.get('z_cos').text}": cell(interval(1 - top["z_cos"]), n, ".3g", 1),
            columns.get("z_dist_sq").text: cell(interval(top["z_dist_sq"]), n, ".3g", 1),
            VAL: cell(
                interval(top["val_score"]),
                n,
                capped=mostly_capped(still_improving(top)),
            ),
        }
    return pd.DataFrame(cols)


def table3(summary: pd.DataFrame) -> pd.DataFrame:
    """Table 3: HP-train-acc and FT-val at max tau for linear-head settings, with 0..3 of the
    last layer4 blocks re-initialised into the head."""
    n, show_bn = n_seeds(summary), summary["bn"].nunique() > 1
    base = summary[
        summary["head"].str.startswith("linear")
        & (summary["eta_hp"] == 1)
        & (summary["eta_ft"] == 1)
    ]
    cols = {}
    for (pretrain, downstream, bn), group in base.groupby(
        ["pretrain", "downstream", "bn"], sort=False
    ):
        if not group["head"].str.contains("-L4x").any():
            continue
        col = cols.setdefault(f"{downstream} ({pretrain}{f', bn={bn}' if show_bn else ''})", {})
        for head, df in sorted(group.groupby("head"), key=lambda kv: kv[0]):
            top = _top(df)
            col[f"{FIT} [{head}]"] = cell(interval(top["hp_train_fit"]), n)
            col[f"{VAL} [{head}]"] = cell(
                interval(top["val_score"]),
                n,
                capped=mostly_capped(still_improving(top)),
            )
    return pd.DataFrame(cols)


def render(cells: pd.DataFrame, align: str = "right") -> str:
    """A Markdown table of text cells (the index left-aligned, the rest `align`), missing cells n/a."""
    return cells.fillna("n/a").to_markdown(
        disable_numparse=True, colalign=("left",) + (align,) * len(cells.columns)
    )


def markdown(cells: pd.DataFrame, title: str, empty: str, n: int) -> str:
    """`render` under a title and the line that states n, or the `empty` line."""
    if cells.empty:
        return f"# {title}\n\n_{empty}_\n"
    notes = [
        f"Mean ± 95% CI half-width (Student's t) over n = {n} seeds; a cell over fewer seeds says so. "
        f"A row `A{MINUS}B` is the difference paired by seed."
    ]
    if "tau*" in cells.index:
        notes.append(
            "tau* is chosen per seed on validation; its row gives the most-often-chosen tau* "
            "(seeds that chose it / seeds); HPtau*-FT uses each seed's own tau*."
        )
    if cells.map(lambda v: isinstance(v, str) and v.endswith(CAPPED)).any().any():
        notes.append(
            f"{CAPPED} most FT runs behind the cell were still improving on validation at the epoch "
            f"cap (their best epoch the last): more FT epochs may score higher."
        )
    return f"# {title}\n\n" + "\n".join(notes) + f"\n\n{render(cells)}\n"
