"""Compare the Table 1 view of two revisions: any git revision, a DVC experiment's name
(as `dvc exp show` lists it), or the working tree."""
from __future__ import annotations

import io
import subprocess

import pandas as pd

from .. import paths, tables
from ..errors import PipelineError

WORKTREE = "WORKTREE"


def resolve(rev: str) -> str:
    """A git revision as given, or the ref of the DVC experiment of that name."""
    if subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                      capture_output=True).returncode == 0:
        return rev
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], capture_output=True,
                          text=True).stdout.split()
    hits = [r for r in refs if r.rsplit("/", 1)[-1] == rev]
    if len(hits) != 1:
        raise PipelineError(f"{rev}: expected a git revision or the name of one DVC experiment, found "
                            f"{'several experiments of that name' if hits else 'neither'}")
    return hits[0]


def read_summary(rev: str) -> pd.DataFrame:
    if rev == WORKTREE:
        if not paths.SUMMARY.is_file():
            raise PipelineError(f"{paths.SUMMARY}: expected a results table in the working tree, found none")
        return pd.read_csv(paths.SUMMARY)
    proc = subprocess.run(["git", "show", f"{resolve(rev)}:{paths.SUMMARY.as_posix()}"], capture_output=True,
                          text=True)
    if proc.returncode:
        raise PipelineError(f"{rev}:{paths.SUMMARY}: expected a committed results table, found: "
                            f"{proc.stderr.strip()}")
    return pd.read_csv(io.StringIO(proc.stdout))


def run(rev_a: str = "HEAD", rev_b: str = WORKTREE) -> str:
    a, b = tables.table1(read_summary(rev_a)), tables.table1(read_summary(rev_b))
    delta = b.subtract(a, fill_value=float("nan"))
    text = "\n\n".join([f"## {rev_a}\n\n{tables.body(a)}", f"## {rev_b}\n\n{tables.body(b)}",
                        f"## delta ({rev_b} - {rev_a})\n\n{tables.body(delta, signed=True)}"])
    print(text)
    return text
