"""Aggregate the per-(setting, tau) evaluations into the study's tables, metrics and plots."""
from __future__ import annotations

import json
import math

import pandas as pd

from .. import paths, plots, tables, trends
from ..atomic import atomic_path, write_json, write_text
from ..errors import PipelineError
from ..params import Study

COLUMNS = ["family", "setting", "pretrain", "downstream", "head", "eta_hp", "eta_ft", "tau", "hp_train_acc",
           "hp_train_score", "hp_train_fit", "energy", "val_score", "test_score", "metric", "z_dist_sq", "z_dot",
           "z_norm_sq", "z_cos", "seed",
           "best_epoch", "epochs_run", "val_acc", "test_acc"]


def collect(study: Study) -> pd.DataFrame:
    rows = []
    for setting in study.settings:
        path = paths.evaluation(setting)
        found = json.loads(path.read_text()) if path.is_file() else []
        taus = study.taus_of(setting)
        missing = sorted(set(taus) - {r["tau"] for r in found})
        if missing:
            raise PipelineError(f"{path}: expected evaluations of {setting} at taus {taus}, missing {missing}")
        rows += [r for r in found if r["tau"] in taus]
    return pd.DataFrame(rows)[COLUMNS]


def metrics(summary: pd.DataFrame) -> dict:
    """Per setting, the numbers `dvc metrics diff` compares across commits."""
    out = {}
    for setting, df in summary.groupby("setting", sort=False):
        ts = tables.tau_star(df)
        tmax = int(df["tau"].max())
        pick = lambda tau, col: float(df.loc[df["tau"] == tau, col].iloc[0])  # noqa: E731
        out[setting] = {"hp0_ft": pick(0, "test_score") if (df["tau"] == 0).any() else None,
                        "hpmax_ft": pick(tmax, "test_score"), "hp_tau_star_ft": pick(ts, "test_score"),
                        "tau_star": ts, "hp_train_fit_tau_star": pick(ts, "hp_train_fit"),
                        "hp_train_fit_max": pick(tmax, "hp_train_fit")}
    return json.loads(json.dumps(out), parse_constant=lambda c: None)


def run(study: Study) -> pd.DataFrame:
    summary = collect(study)
    bad = summary[~summary[["val_score", "test_score"]].map(lambda v: isinstance(v, float) and math.isfinite(v)).all(axis=1)]
    if len(bad):
        print(f"[aggregate] warning: non-finite scores for {sorted(set(bad['setting']))}")
    with atomic_path(paths.SUMMARY) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6g")
    write_text(paths.TABLE1, tables.markdown(tables.table1(summary), "Table 1: downstream test score (%)",
                                             "no baseline setting (eta_HP = eta_FT = 1) in this study"))
    write_text(paths.TABLE2, tables.markdown(tables.table2(summary), "Table 2: head capacity and label "
                                             "smoothing at max tau", "no setting for Table 2"))
    write_text(paths.TABLE3, tables.markdown(tables.table3(summary), "Table 3: partial backbone at max tau",
                                             "no partial-backbone setting in this study"))
    write_text(paths.TRENDS, trends.markdown(summary))
    write_json(paths.METRICS, metrics(summary))
    plots.val_vs_tau(summary, paths.FIG_VAL)
    plots.z_vs_tau(summary, paths.FIG_Z)
    print(tables.table1(summary).to_markdown(floatfmt=".2f"))
    return summary
