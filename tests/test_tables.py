"""The tables from a hand-made summary of 3 seeds: tau* per seed by validation (never test),
mean ± CI half-width cells, paired differences, the ls companion matched on bn too.
t(0.975, 2) = 4.3027, so a half-width over 3 seeds is 4.3027 * sd / sqrt(3) = 2.4841 * sd."""

import math

import pandas as pd

from pipeline.report import tables
from pipeline.report.stats import interval

TAUS = (0, 4, 16)


def _rows(setting, by_seed, head="linear", eta_hp=1.0, bn="source", **const):
    """by_seed: seed -> {column: values over TAUS}; `const`: columns equal everywhere."""
    rows = []
    for seed, cols in by_seed.items():
        for i, tau in enumerate(TAUS):
            rows.append(
                {
                    "setting": setting,
                    "family": "classification",
                    "pretrain": "p",
                    "downstream": "d",
                    "head": head,
                    "eta_hp": eta_hp,
                    "eta_ft": 1.0,
                    "bn": bn,
                    "tau": tau,
                    "seed": seed,
                    "hp_train_fit": (0.5, 0.9, 0.95)[i],
                    "z_cos": 0.9,
                    "z_dist_sq": 1.0,
                    "stopped_early": True,
                    "best_epoch": 3,
                    "ft_epochs": 10,
                    **const,
                    **{c: v[i] for c, v in cols.items()},
                }
            )
    return rows


BASE = {  # seed 0: tau* 4; seed 1: tie of 4 and 16 on val -> 4 (test would pick 16); seed 2: tau* 16
    0: {
        "val_score": (0.80, 0.90, 0.85),
        "test_score": (0.70, 0.80, 0.75),
        "best_epoch": (10, 3, 3),  # at tau 0 still improving at the cap
    },
    1: {
        "val_score": (0.80, 0.90, 0.90),
        "test_score": (0.72, 0.78, 0.90),
        "best_epoch": (10, 3, 3),  # at tau 0 still improving at the cap
    },
    2: {"val_score": (0.80, 0.85, 0.90), "test_score": (0.68, 0.70, 0.82)},
}
LS = {
    s: {"val_score": (0.8, 0.8, 0.8), "test_score": (0.1, 0.2, t)}
    for s, t in zip((0, 1, 2), (0.74, 0.76, 0.78), strict=True)
}
SUMMARY = pd.DataFrame(
    _rows("base", BASE)
    + _rows(
        "base_ls_target",
        {s: {"test_score": (0.1, 0.1, 0.1)} for s in (0, 1, 2)},
        eta_hp=0.9,
        bn="target",
        val_score=0.5,
    )  # eta_HP < 1 but other BatchNorm statistics: not base's companion
    + _rows("base_ls", LS, eta_hp=0.9)
    + _rows(
        "base_mlp",
        {s: {"test_score": (0.1, 0.2, 0.3)} for s in (0, 1, 2)},
        head="mlp",
        val_score=0.8,
    )
)
COL = "d (p, linear, bn=source)"  # bn in the label: this study has both statistics


def test_tau_star_per_seed_never_looks_at_test():
    base = SUMMARY[SUMMARY.setting == "base"]
    assert tables.tau_stars(base).to_dict() == {0: 4, 1: 4, 2: 16}
    assert tables.pick(base, tables.tau_stars(base), "test_score").tolist() == [0.80, 0.78, 0.82]


def test_table1_cells_by_hand():
    t = tables.table1(SUMMARY)
    assert list(t.columns) == [COL]  # the ls, other-bn and MLP-head settings are no columns here
    col = t[COL]
    assert (
        col["HP0-FT"] == "70.00 ± 4.97†"
    )  # 0.70, 0.72, 0.68: sd 0.02; 2 of 3 improving at the cap
    assert col["HPtau*-FT"] == "80.00 ± 4.97"  # each seed at its own tau*: 0.80, 0.78, 0.82
    assert col["tau*"] == "4 (2/3)"
    assert col["HPtau*-FT − HP0-FT"] == "+10.00 ± 9.94"  # paired: 0.10, 0.06, 0.14, sd 0.04
    assert col["HPmax-FT"].startswith("82.33 ± ")  # 0.75, 0.90, 0.82
    assert col["HPmax-FT − HP0-FT"].startswith("+12.33 ± ")
    assert col["HP-train-acc (tau max)"] == "95.00 ± 0.00"
    # 0.9, 0.9, 0.95 at the seeds' own tau*: the median and the range, not a t-interval
    assert col["HP-train-acc (tau*)"] == "90.0 [90.0-95.0]"
    assert col["lsHPmax-FT"] == "76.00 ± 4.97"  # the source-statistics companion: 0.74, 0.76, 0.78
    assert col["lsHPmax-FT − HP0-FT"] == "+6.00 ± 8.61"  # 0.04, 0.04, 0.10: sd 0.034641


def test_cell_counts_fewer_seeds_and_marks_the_cap():
    assert tables.cell(interval([0.5, math.nan, 0.7]), 3) == "60.00 ± 127.06 (n=2)"
    assert tables.cell(interval([0.5, 0.6, 0.7]), 3, capped=True) == "60.00 ± 24.84†"
    assert (
        tables.mostly_capped([1, 1, 0])
        and not tables.mostly_capped([1, 0])
        and not tables.mostly_capped([])
    )


def test_table2_and_table3_cells():
    t2 = tables.table2(SUMMARY)
    base = t2["d (p, bn=source): linear head, eta_FT=1, eta_HP=1"]
    assert base["FT-val"] == "88.33 ± 7.17"  # at tau 16: 0.85, 0.90, 0.90; sd 0.028868
    assert base["‖z_T - z_0‖²"] == "1 ± 0" and base["HP-train-acc"] == "95.00 ± 0.00"
    l4 = pd.DataFrame(
        _rows(
            "base_L4x1",
            {
                s: {"val_score": (0.5, 0.6, v)}
                for s, v in zip((0, 1, 2), (0.7, 0.8, 0.9), strict=True)
            },
            head="linear-L4x1",
            test_score=0.5,
            best_epoch=10,
        )
    )
    t3 = tables.table3(pd.concat([SUMMARY, l4]))
    assert t3[COL.replace(", linear", "")]["FT-val [linear-L4x1]"] == "80.00 ± 24.84†"


def test_markdown_states_n_once_and_the_footnote():
    text = tables.markdown(tables.table1(SUMMARY), "T", "none", 3)
    assert text.count("n = 3 seeds") == 1 and "† most FT runs" in text and "| tau*" in text
    alone = tables.table1(SUMMARY[SUMMARY.setting == "base"])
    assert alone.loc["lsHPmax-FT"].iloc[0] == "n/a" and "bn=" not in alone.columns[0]
    assert tables.markdown(alone.iloc[:0], "T", "nothing here", 3) == "# T\n\n_nothing here_\n"
