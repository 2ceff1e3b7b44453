"""Do two runs reach the same verdicts? Compares the "Verdicts at a glance" tables of two
runs (e.g. the default study at TASKHEAD_THREADS=1 and =2, a perturbation that changes every
number). A run is its summary.csv, judged by today's rules (pipeline/conclusions.py), or a
conclusions.md, whose verdicts are those of the rules it was written with.

    python -m pipeline.verdicts A/summary.csv B/summary.csv --labels "1 thread" "2 threads" [--out F.md]
    python -m pipeline.verdicts --all    # rewrite every comparison in COMPARISONS
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from . import conclusions
from .atomic import write_text
from .readme import section

FLIPS = {frozenset({"holds", "does not hold"})}
# The comparisons the README quotes: output -> (run A, run B, labels), each run a summary.csv.
COMPARISONS = {
    "docs/verdicts-threads.md": (
        "results/summary.csv",
        "docs/threads2/summary.csv",
        ("TASKHEAD_THREADS=1", "TASKHEAD_THREADS=2"),
    ),
    "docs/verdicts-cpu.md": (
        "results/summary.csv",
        "docs/cpu/summary.csv",
        ("the default study (3 seeds)", "studies/cpu.yaml (5 seeds)"),
    ),
    "docs/verdicts-cpu-seg-threads.md": (
        "docs/cpu/summary.csv",
        "docs/cpu-threads2/segmentation/summary.csv",
        ("TASKHEAD_THREADS=1 (5 seeds)", "TASKHEAD_THREADS=2 (5 seeds)"),
    ),
    "docs/verdicts-machines.md": (
        "docs/machine-a/summary.csv",
        "docs/machine-b/summary.csv",
        ("machine A", "machine B"),
    ),
}


def read(path: str) -> pd.DataFrame:
    """The verdict table of a run, settings x claims: from a summary.csv by today's rules, or
    from a conclusions.md as written."""
    if path.endswith(".csv"):
        summary = pd.read_csv(path)
        return conclusions.glance(conclusions.claims(summary), conclusions.ls_claims(summary))
    lines = [ln for ln in section(path, "Verdicts at a glance").splitlines() if ln.startswith("|")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    header, body = rows[0], rows[2:]
    return pd.DataFrame([r[1:] for r in body], index=[r[0] for r in body], columns=header[1:])


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


def comparison(out: str) -> str:
    """The text of one of the COMPARISONS, from its two summaries."""
    a, b, labels = COMPARISONS[out]
    return compare(read(a), read(b), labels)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pipeline.verdicts", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("a", nargs="?")
    ap.add_argument("b", nargs="?")
    ap.add_argument("--labels", nargs=2, default=("A", "B"))
    ap.add_argument("--out")
    ap.add_argument("--all", action="store_true", help="rewrite every comparison in COMPARISONS")
    args = ap.parse_args(argv)
    if args.all:
        for out in COMPARISONS:
            text = comparison(out)
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
