"""Do two runs reach the same verdicts? Compares the "Verdicts at a glance" tables of two
results/conclusions.md files (e.g. the default study at TASKHEAD_THREADS=1 and =2, a
perturbation that changes every number).

    python -m pipeline.verdicts A/conclusions.md B/conclusions.md --labels "1 thread" "2 threads" [--out F.md]
"""
from __future__ import annotations

import argparse
import sys

import pandas as pd

from .atomic import write_text
from .readme import section

FLIPS = {frozenset({"holds", "does not hold"})}


def read(path: str) -> pd.DataFrame:
    """The verdict table of a conclusions.md: settings x claims."""
    lines = [ln for ln in section(path, "Verdicts at a glance").splitlines() if ln.startswith("|")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    header, body = rows[0], [r for r in rows[2:]]
    return pd.DataFrame([r[1:] for r in body], index=[r[0] for r in body], columns=header[1:])


def compare(a: pd.DataFrame, b: pd.DataFrame, labels: tuple[str, str]) -> str:
    """Markdown: how many of the verdicts that both runs give agree, and every one that differs."""
    common = a.index.intersection(b.index)
    pairs = [(s, c, a.at[s, c], b.at[s, c]) for s in common for c in a.columns if c in b.columns
             and a.at[s, c] and b.at[s, c]]  # a claim that one run does not make (e.g. (f) without a companion)
    differ = [p for p in pairs if p[2] != p[3]]
    flips = [p for p in differ if frozenset(p[2:]) in FLIPS]
    lines = [f"{len(pairs) - len(differ)} of {len(pairs)} verdicts are the same with {labels[0]} and {labels[1]}; "
             f"{len(flips)} {'goes' if len(flips) == 1 else 'go'} straight between `holds` and `does not hold`."]
    if differ:
        lines += ["", f"| setting | claim | {labels[0]} | {labels[1]} |", "|---|---|---|---|"]
        lines += [f"| {s} | {c} | {x} | {y} |" for s, c, x, y in differ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.verdicts", description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--labels", nargs=2, default=("A", "B"))
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    text = compare(read(args.a), read(args.b), tuple(args.labels))
    if args.out:
        write_text(args.out, text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
