"""The paper's tables from results/summary.csv (pandas, pure functions).

A column of Table 1 is a baseline setting (eta_HP = eta_FT = 1, the family's plain head:
not the MLP head or partial backbone of Tables 2 and 3). Its lsHPmax-FT cell
comes from the label-smoothed companion: same family, pretrain, downstream, head and
eta_FT, with eta_HP < 1. tau* is chosen by validation score (ties: the smaller tau).
"""
from __future__ import annotations

import pandas as pd

GROUP = ["family", "pretrain", "downstream", "head"]
ROWS1 = ["HP-train-acc (tau*)", "HP-train-acc (tau max)", "HP0-FT", "HPmax-FT", "HPtau*-FT", "tau*", "lsHPmax-FT"]


def _at(df: pd.DataFrame, tau: int, col: str):
    hit = df.loc[df["tau"] == tau, col]
    return hit.iloc[0] if len(hit) else float("nan")


def tau_star(df: pd.DataFrame) -> int:
    best = df.sort_values(["val_score", "tau"], ascending=[False, True])
    return int(best["tau"].iloc[0])


def is_trick(head: str) -> bool:
    """Section 5.3's heads: the 2-layer MLP, or a partial backbone (-L4xK)."""
    return head == "mlp" or "-L4x" in head


def _column_name(row) -> str:
    return f"{row['downstream']} ({row['pretrain']}, {row['head']})"


def table1(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows HP-train-acc at tau* (the paper's row, section 5.2) and at tau max, HP0-FT,
    HPmax-FT, HPtau*-FT, tau*, lsHPmax-FT; one column per baseline setting; scores in
    percent. HP-train-acc is the family's `hp_fit` reading (`hp_train_fit`): accuracy, or
    the training ROC-AUC for multi-label molecules (docs/paper-conformance.md)."""
    cols = {}
    for setting, df in summary.groupby("setting", sort=False):
        first = df.iloc[0]
        if first["eta_hp"] != 1 or first["eta_ft"] != 1 or is_trick(first["head"]):
            continue
        tmax = int(df["tau"].max())
        ls = summary[(summary[GROUP] == first[GROUP]).all(axis=1) & (summary["eta_hp"] < 1)
                     & (summary["eta_ft"] == 1)]
        ts = tau_star(df)
        cols[_column_name(first)] = {
            "HP-train-acc (tau*)": 100 * _at(df, ts, "hp_train_fit"),
            "HP-train-acc (tau max)": 100 * _at(df, tmax, "hp_train_fit"),
            "HP0-FT": 100 * _at(df, 0, "test_score"),
            "HPmax-FT": 100 * _at(df, tmax, "test_score"),
            "HPtau*-FT": 100 * _at(df, ts, "test_score"),
            "tau*": ts,
            "lsHPmax-FT": 100 * _at(ls, int(ls["tau"].max()), "test_score") if len(ls) else float("nan"),
        }
    return pd.DataFrame(cols, index=ROWS1)


def table2(summary: pd.DataFrame) -> pd.DataFrame:
    """Table 2: per (family, pretrain, downstream) at max tau, the baseline, the MLP head and
    the (eta_FT, eta_HP) grid: HP-train-acc, 1 - cos, ||z_T - z_0||^2 and FT-val score."""
    cols = {}
    top = summary[summary["tau"] == summary.groupby("setting")["tau"].transform("max")]
    for _, r in top.iterrows():
        if r["head"] not in ("linear", "mlp"):
            continue
        variant = f"{r['head']} head, eta_FT={r['eta_ft']:g}, eta_HP={r['eta_hp']:g}"
        cols[f"{r['downstream']} ({r['pretrain']}): {variant}"] = {
            "HP-train-acc": 100 * r["hp_train_fit"], "1 - cos(z_T, z_0)": 1 - r["z_cos"],
            "‖z_T - z_0‖²": r["z_dist_sq"], "FT-val": 100 * r["val_score"]}
    return pd.DataFrame(cols)


def table3(summary: pd.DataFrame) -> pd.DataFrame:
    """Table 3: HP-train-acc and FT-val at max tau for linear-head settings, with 0..3 of the
    last layer4 blocks re-initialised into the head."""
    top = summary[(summary["tau"] == summary.groupby("setting")["tau"].transform("max"))
                  & summary["head"].str.startswith("linear") & (summary["eta_hp"] == 1) & (summary["eta_ft"] == 1)]
    cols = {}
    for key, df in top.groupby(["pretrain", "downstream"]):
        if not df["head"].str.contains("-L4x").any():
            continue
        for _, r in df.sort_values("head").iterrows():
            cols.setdefault(f"{key[1]} ({key[0]})", {})[f"HP-train-acc [{r['head']}]"] = 100 * r["hp_train_fit"]
            cols[f"{key[1]} ({key[0]})"][f"FT-val [{r['head']}]"] = 100 * r["val_score"]
    return pd.DataFrame(cols)


def body(df: pd.DataFrame, digits: int = 3, signed: bool = False) -> str:
    """A Markdown table: numbers to `digits` decimals (with their sign for deltas), the tau*
    row whole, missing cells n/a."""
    sign = "+" if signed else ""

    def cell(row, v) -> str:
        return "n/a" if pd.isna(v) else f"{int(v):{sign}d}" if row == "tau*" else f"{v:{sign}.{digits}f}"

    cells = pd.DataFrame({c: [cell(r, v) for r, v in df[c].items()] for c in df.columns}, index=df.index)
    return cells.to_markdown(disable_numparse=True, colalign=("left",) + ("right",) * len(cells.columns))


def markdown(df: pd.DataFrame, title: str, empty: str, digits: int = 3) -> str:
    """`body` under a title, or the `empty` line when there is nothing to show."""
    if df.empty:
        return f"# {title}\n\n_{empty}_\n"
    return f"# {title}\n\n{body(df, digits)}\n"
