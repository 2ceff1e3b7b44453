"""`python -m pipeline halving_replay`: what `hp.search: halving` would have spent and chosen
on a study whose full sweep has run, replayed from the sweep's FT curves.

A halving run's continued FT resumes its optimiser, schedule and early-stopping state, and a
resumed run saves the same bytes as an uninterrupted one (tests/test_interruption.py), so a
tau's run in the search is its sweep run cut at the search's budget. The replay therefore
reads, per (setting, seed, tau), the validation score per epoch of the sweep
(results/curves/SETTING/seedS_tauN.csv), runs pipeline.engine.halving.search on it, and reads the
test score of the search's tau* off summary.csv: that tau's run is complete in the search
(halving never picks a cut run: its best validation score was below a continued one's).

Per setting it prints: the FT epochs of the search as a share of the epochs the sweep ran,
how many seeds' tau* equal the sweep's, and the test score of the search's tau* minus the
sweep's (paired by seed, 95% t-interval); then the same pooled over settings (mean over the
settings within a seed, then the interval over seeds), for each first-rung length asked for.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from pipeline.engine.halving import replay, search
from pipeline.io.atomic import write_text
from pipeline.report.conclusions import MIN_SCORE
from pipeline.report.stats import interval, paired
from pipeline.report.tables import tau_stars


def curves_of(results: Path, setting: str, seed: int, taus: list[int]) -> dict[int, list[float]]:
    return {
        t: pd.read_csv(results / "curves" / setting / f"seed{seed}_tau{t}.csv")[
            "val_score"
        ].tolist()
        for t in taus
    }


def first_rung(cfg: dict, rule: str) -> int:
    """`patience`: ft.patience + 1 epochs (the default of hp.halving.first_rung: the longest a
    run may go without improving before early stopping ends it), or a number of epochs."""
    return cfg["ft"]["patience"] + 1 if rule == "patience" else int(rule)


def setting_rows(results: Path, study: dict, summary: pd.DataFrame, rule: str, factor: int):
    rows = []
    for setting, df in summary.groupby("setting", sort=False):
        cfg = study["settings"][setting]
        taus = sorted(int(t) for t in df["tau"].unique())
        sweep_star = tau_stars(df)
        first = first_rung(cfg, rule)
        test = df.set_index(["seed", "tau"])["test_score"]
        for seed in sorted(df["seed"].unique()):
            curves = curves_of(results, setting, int(seed), taus)
            spent, star = replay(curves, first, factor, cfg["ft"]["epochs"])
            rows.append(
                {
                    "setting": setting,
                    "seed": int(seed),
                    "first_rung": first,
                    "sweep_epochs": sum(len(c) for c in curves.values()),
                    "search_epochs": sum(spent.values()),
                    "sweep_star": int(sweep_star[seed]),
                    "search_star": star,
                    "diff": test[(seed, star)] - test[(seed, int(sweep_star[seed]))],
                }
            )
    return pd.DataFrame(rows)


def pooled(rows: pd.DataFrame) -> dict:
    """The search over every setting: its share of the sweep's FT epochs, the runs whose tau*
    is the sweep's, and the test difference (mean over settings within a seed, then the
    interval over seeds), inside the study's smallest difference that matters or not."""
    diff = interval(rows.groupby("seed")["diff"].mean())
    return {
        "share": rows["search_epochs"].sum() / rows["sweep_epochs"].sum(),
        "same": int((rows["search_star"] == rows["sweep_star"]).sum()),
        "runs": len(rows),
        "diff": diff,
        "inside": diff.low > -MIN_SCORE and diff.high < MIN_SCORE,
    }


def sentence(rows: pd.DataFrame, rule: str) -> str:
    p = pooled(rows)
    first = "ft.patience + 1 epochs" if rule == "patience" else f"{rule} epochs"
    return (
        f"With a first rung of {first}, the search spent {p['share']:.0%} of the FT epochs the "
        f"sweep ran, chose the sweep's tau* in {p['same']} of {p['runs']} (setting, seed) runs, "
        f"and its test score minus the sweep's was {p['diff'].text('.2f', 100, signed=True)} pp "
        f"pooled ({'inside' if p['inside'] else 'not inside'} ±{100 * MIN_SCORE:g} pp)."
    )


def report(results: Path, rules: list[str], factor: int) -> str:
    """A Markdown page: one sentence per first rung (its first paragraph), then the tables."""
    study = json.loads((results / "params.json").read_text())
    summary = pd.read_csv(results / "summary.csv")
    seeds = summary["seed"].nunique()
    tables = {rule: setting_rows(results, study, summary, rule, factor) for rule in rules}
    head = " ".join(sentence(rows, rule) for rule, rows in tables.items())
    parts = [
        f"# hp.search: halving, replayed on {results}/ ({seeds} seeds, factor {factor})",
        f"Generated by `python -m pipeline halving_replay --results {results}` from the sweep's "
        "FT curves and summary.csv; how the replay works: [halving.md](halving.md).",
        f"## Summary\n\n{head}",
    ]
    for rule, rows in tables.items():
        parts += [f"## first rung: {rule}", markdown(rows)]
    return "\n\n".join(parts) + "\n"


def markdown(rows: pd.DataFrame) -> str:
    lines = [
        "| setting | first rung | FT epochs: search / sweep | share | tau* = sweep's | "
        "test search − sweep (pp) |",
        "|---|---|---|---|---|---|",
    ]
    for setting, g in rows.groupby("setting", sort=False):
        diff = paired(g["diff"], pd.Series(0.0, index=g.index))
        lines.append(
            f"| {setting} | {g['first_rung'].iloc[0]} | {g['search_epochs'].sum()} / "
            f"{g['sweep_epochs'].sum()} | {g['search_epochs'].sum() / g['sweep_epochs'].sum():.0%}"
            f" | {(g['search_star'] == g['sweep_star']).sum()}/{len(g)} | "
            f"{diff.text('.2f', 100, signed=True)} |"
        )
    p = pooled(rows)
    lines += [
        f"| **all** | | {rows['search_epochs'].sum()} / {rows['sweep_epochs'].sum()} | "
        f"**{p['share']:.0%}** | {p['same']}/{p['runs']} | "
        f"{p['diff'].text('.2f', 100, signed=True)} "
        f"(pooled; {'inside' if p['inside'] else 'not inside'} ±{100 * MIN_SCORE:g} pp) |",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default="results", help="a results folder of a full sweep")
    ap.add_argument("--factor", type=int, default=2, help="hp.halving.factor")
    ap.add_argument(
        "--first",
        action="append",
        help="first rung: `patience` (ft.patience + 1, the default) or epochs; repeatable",
    )
    ap.add_argument(
        "--gpu",
        nargs="+",
        metavar="REPORT",
        help="gpu_check's reports: print the "
        "GPU-hours of --params with the grid and with the search",
    )
    ap.add_argument("--out", help="write the replay's page (Markdown) to this file")
    ap.add_argument("--params", default="studies/paper.yaml")
    ap.add_argument("--name", action="append", default=[], metavar="LABEL=SETTING")
    args = ap.parse_args(argv)
    if args.gpu:
        names = dict(n.split("=", 1) for n in args.name)
        print(gpu_hours(args.params, args.gpu, names, args.factor))
        return
    text = report(Path(args.results), args.first or ["patience"], args.factor)
    if args.out:
        write_text(args.out, text)
    print(text, end="")


def capped_share(taus: list[int], first: int, factor: int, epochs: int) -> float:
    """The search's FT epochs as a share of the sweep's when every run goes to its cap (no
    early stopping: the same upper bound as pipeline.tools.gpu_hours counts)."""
    budgets = search(taus, lambda tau, budget: -tau, first, factor, epochs)
    return sum(budgets.values()) / (len(taus) * epochs)


def gpu_hours(params: str, reports: list[str], names: dict[str, str], factor: int) -> str:
    """The profile's calibrated GPU-hours (pipeline.tools.gpu_hours) with the grid and with the
    search, FT at its cap in both."""
    from pipeline.params import load
    from pipeline.tools import gpu_hours as g

    study = load(params, check_files=False)
    report = {"rates": {}, "epochs": {}}
    for path in reports:
        part = g.read_report(path, names)
        report = {
            **part,
            **report,
            "rates": {**report["rates"], **part["rates"]},
            "epochs": {**report["epochs"], **part["epochs"]},
        }
    secs = g.study_seconds(study, report["rates"], g.calibration(study, report))
    grid = sum(sum(v.values()) for v in secs.values()) / 3600
    saved = 0.0
    for name, s in study.settings.items():
        share = capped_share(
            study.taus_of(name), s.hp.halving.first_rung or s.ft.patience + 1, factor, s.ft.epochs
        )
        saved += (1 - share) * secs[name]["ft"] / 3600
    return (
        f"{params}: {grid:,.1f} GPU-hours with the grid, {grid - saved:,.1f} with `hp.search: "
        f"halving` (first rung ft.patience + 1, factor {factor}; FT at its epoch cap in both)"
    )


if __name__ == "__main__":
    main()
