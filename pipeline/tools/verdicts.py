"""Do two runs reach the same verdicts? Compares the "Verdicts at a glance" tables of two
runs (e.g. the default study at TASKHEAD_THREADS=1 and =2, a perturbation that changes every
number). A run is its summary.csv, judged by today's rules (pipeline/report/conclusions.py), or a
conclusions.md, whose verdicts are those of the rules it was written with.

    python -m pipeline verdicts A/summary.csv B/summary.csv --labels "1 thread" "2 threads" [--out F.md]
    python -m pipeline verdicts --all docs/lab/comparisons.yaml   # rewrite every comparison it names
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from pipeline.errors import PipelineError
from pipeline.io import yamlfile
from pipeline.io.atomic import write_text
from pipeline.report import conclusions
from pipeline.tools.readme import section

FLIPS = {frozenset({"holds", "does not hold"})}


def manifest(path: str) -> dict[str, tuple[str, str, tuple[str, str]]]:
    """The comparisons a manifest names: output -> (run A, run B, labels), each path taken
    relative to the manifest's folder. The package names no run of its own."""
    where = Path(path)
    raw = yamlfile.read(where, "comparison manifest")
    out = {}
    for name, entry in (raw or {}).items():
        if not (isinstance(entry, dict) and len(entry.get("runs", [])) == 2):
            raise PipelineError(
                f"{path}: {name}: expected runs: [A, B] and labels: [A, B], found {entry!r}"
            )
        a, b = (str(where.parent / run) for run in entry["runs"])
        out[str(where.parent / name)] = (a, b, tuple(entry.get("labels", ("A", "B"))))
    return out


def read(path: str) -> pd.DataFrame:
    """The verdict table of a run, settings x claims: from a summary.csv by today's rules, or
    from a conclusions.md as written."""
    if path.endswith(".csv"):
        summary = pd.read_csv(path)
        table = conclusions.glance(conclusions.claims(summary), conclusions.ls_claims(summary))
        return table.rename(columns=lambda c: c[:3])
    lines = [ln for ln in section(path, "Verdicts at a glance").splitlines() if ln.startswith("|")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    header, body = rows[0], rows[2:]
    # a column is its claim's letter, "(a)", whatever words a run's table gave it
    columns = [h[:3] for h in header[1:]]
    return pd.DataFrame([r[1:] for r in body], index=[r[0] for r in body], columns=columns)


def compare(a: pd.DataFrame, b: pd.DataFrame, labels: tuple[str, str]) -> str:
    """Markdown: how many of the verdicts that both runs give agree, and every one that differs."""
    common = a.index.intersection(b.index)
    pairs = [
        (s, c, a.at[s, c], b.at[s, c])
        for s in common
        for c in a.columns
        if c in b.columns and a.at[s, c] and b.at[s, c]
    ]  # a claim that one run does not make (e.g. (f) without a companion)
    differ = [p for p in pairs if p[2] != p[3]]
    flips = [p for p in differ if frozenset(p[2:]) in FLIPS]
    lines = [
        f"{len(pairs) - len(differ)} of {len(pairs)} verdicts are the same with {labels[0]} and {labels[1]}; "
        f"{len(flips)} {'goes' if len(flips) == 1 else 'go'} straight between `holds` and `does not hold`."
    ]
    if differ:
        lines += ["", f"| setting | claim | {labels[0]} | {labels[1]} |", "|---|---|---|---|"]
        lines += [f"| {s} | {c} | {x} | {y} |" for s, c, x, y in differ]
    return "\n".join(lines) + "\n"


def comparison(a: str, b: str, labels: tuple[str, str]) -> str:
    """The text of one comparison of a manifest, from its two runs."""
    return compare(read(a), read(b), labels)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pipeline verdicts", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("a", nargs="?")
    ap.add_argument("b", nargs="?")
    ap.add_argument("--labels", nargs=2, default=("A", "B"))
    ap.add_argument("--out")
    ap.add_argument("--all", metavar="MANIFEST", help="rewrite every comparison a manifest names")
    args = ap.parse_args(argv)
    if args.all:
        for out, (a, b, labels) in manifest(args.all).items():
            text = comparison(a, b, labels)
            write_text(out, text)
            print(f"{out}: {text.splitlines()[0]}")
        return 0
    if not (args.a and args.b):
        ap.error("give two runs (summary.csv or conclusions.md), or --all")
    text = compare(read(args.a), read(args.b), tuple(args.labels))
    if args.out:
        write_text(args.out, text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
