"""Aggregate the per-(setting, tau, seed) evaluations into the study's statistics, tables,
conclusions, metrics and plots (and FT's training loss per epoch from the FT curves)."""

from __future__ import annotations

import json
import sys
from itertools import product

import pandas as pd

from pipeline.errors import PipelineError, first_line
from pipeline.io import paths
from pipeline.io.artifacts import describe, fail, read_json
from pipeline.io.atomic import atomic_path, write_json, write_text
from pipeline.params import Study
from pipeline.report import columns, conclusions, convergence, plots, stats, tables, trends

METRICS = ["hp0_ft", "hpmax_ft", "hp_tau_star_ft", "hp_train_fit_tau_star", "hp_train_fit_max"]


def collect(study: Study) -> pd.DataFrame:
    """Every (setting, tau, seed) evaluation of the study, sorted by setting, tau and seed;
    rows of taus or seeds no longer in the study are left out. Its columns: those of
    pipeline/report/columns.py, in their order."""
    frames, names = [], columns.names()
    for setting in study.settings:
        path = paths.evaluation(setting)
        found = read_json(path, f"the evaluations of {setting}", "evaluate")
        if not (isinstance(found, list) and all(isinstance(r, dict) for r in found)):
            fail(path, f"the evaluations of {setting}: a list of rows", describe(found), "evaluate")
        taus = study.taus_of(setting)
        expected = set(product(taus, study.seeds))
        missing = sorted(expected - {(r.get("tau"), r.get("seed")) for r in found})
        if missing:
            raise PipelineError(
                f"{path}: expected evaluations of {setting} at every (tau, seed) of taus {taus} "
                f"x seeds {study.seeds}, missing (tau, seed) {missing}"
            )
        df = pd.DataFrame([r for r in found if (r.get("tau"), r.get("seed")) in expected])
        twice = sorted(
            set(
                df.loc[df.duplicated(["tau", "seed"]), ["tau", "seed"]].itertuples(
                    index=False, name=None
                )
            )
        )
        if twice:
            raise PipelineError(
                f"{path}: expected one evaluation per (tau, seed), found several of {twice}"
            )
        absent = [c for c in names if c not in df.columns]
        if absent:
            raise PipelineError(
                f"{path}: expected the columns {names}, missing {absent} (rerun evaluate)"
            )
        frames.append(df[names].sort_values(["tau", "seed"]))
    return pd.concat(frames, ignore_index=True)


def ft_curves(study: Study) -> pd.DataFrame:
    """The FT curves (epoch, train_loss, ...) at each setting's smallest and largest tau, every
    seed, with their setting, tau and seed: what plots.ft_loss draws."""
    frames = []
    for setting in study.settings:
        taus = study.taus_of(setting)
        for tau, seed in product(dict.fromkeys((taus[0], taus[-1])), study.seeds):
            path = paths.ft_curve(setting, seed, tau)
            what = f"the FT curve of {setting} at seed {seed}, tau {tau}, with epoch and train_loss"
            if not path.is_file():
                fail(path, what, "nothing at that path", "evaluate")
            try:
                curve = pd.read_csv(path)
            except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
                fail(path, what, f"no valid CSV ({first_line(err)})", "evaluate")
            if not {"epoch", "train_loss"} <= set(curve.columns):
                fail(path, what, f"the columns {list(curve.columns)}", "evaluate")
            frames.append(curve.assign(setting=setting, tau=tau, seed=seed))
    return pd.concat(frames, ignore_index=True)


def metrics(summary: pd.DataFrame) -> dict:
    """Per setting, the numbers `dvc metrics diff` compares across commits: the mean over seeds
    and CI half-width (`_ci`) of each of METRICS, the most-often-chosen tau* and its count."""
    out = {}
    for setting, df in summary.groupby("setting", sort=False):
        s = tables.seed_table(df)
        entry = {"n_seeds": len(s)}
        for key in METRICS:
            iv = stats.interval(s[key])
            entry[key], entry[f"{key}_ci"] = iv.mean, iv.half
        tau, count, _ = stats.mode(s["tau_star"])
        entry["tau_star"], entry["tau_star_count"] = int(tau), count
        out[setting] = entry
    return json.loads(json.dumps(out), parse_constant=lambda c: None)


def run(study: Study) -> pd.DataFrame:
    from pipeline.report import cost

    summary = collect(study)
    curves = ft_curves(study)
    converged = convergence.table(curves)
    for warning in conclusions.warnings(summary, converged):
        print(f"[aggregate] warning: {warning}", file=sys.stderr)
    with atomic_path(paths.SUMMARY) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(paths.STATS) as tmp:
        stats.describe(summary).to_csv(tmp, index=False, float_format="%.6g")
    n = tables.n_seeds(summary)
    table1 = tables.table1(summary)
    write_text(
        paths.TABLE1,
        tables.markdown(
            table1,
            "Table 1: downstream test score (%)",
            "no baseline setting (eta_HP = eta_FT = 1) in this study",
            n,
        ),
    )
    write_text(
        paths.TABLE2,
        tables.markdown(
            tables.table2(summary),
            "Table 2: head capacity and label smoothing at max tau",
            "no setting for Table 2",
            n,
        ),
    )
    write_text(
        paths.TABLE3,
        tables.markdown(
            tables.table3(summary),
            "Table 3: partial backbone at max tau",
            "no partial-backbone setting in this study",
            n,
        ),
    )
    write_text(paths.TRENDS, trends.markdown(summary))
    write_text(paths.CONCLUSIONS, conclusions.markdown(summary, study.analysis, converged))
    write_text(paths.COST, cost.markdown(paths.BENCHMARKS, study))
    write_json(paths.METRICS, metrics(summary))
    plots.write(
        summary,
        {
            "val": paths.FIG_VAL,
            "energy": paths.FIG_ENERGY,
            "z": paths.FIG_Z,
            "verdicts": paths.FIG_VERDICTS,
        },
        study.analysis.alpha,
    )
    plots.save(plots.ft_loss(curves, summary), paths.FIG_FT_LOSS)
    print(tables.render(table1))
    return summary
