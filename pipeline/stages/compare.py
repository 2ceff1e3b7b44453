"""Compare the Table 1 view of two revisions: any git revision, or the working tree."""
from __future__ import annotations

import io
import subprocess

import pandas as pd

from .. import paths, tables
from ..errors import PipelineError

WORKTREE = "WORKTREE"


def read_summary(rev: str) -> pd.DataFrame:
    if rev == WORKTREE:
        if not paths.SUMMARY.is_file():
            raise PipelineError(f"{paths.SUMMARY}: expected a results table in the working tree, found none")
        return pd.read_csv(paths.SUMMARY)
    proc = subprocess.run(["git", "show", f"{rev}:{paths.SUMMARY.as_posix()}"], capture_output=True, text=True)
    if proc.returncode:
        raise PipelineError(f"{rev}:{paths.SUMMARY}: expected a committed results table, found: "
                            f"{proc.stderr.strip()}")
    return pd.read_csv(io.StringIO(proc.stdout))


def run(rev_a: str = "HEAD", rev_b: str = WORKTREE) -> str:
    a, b = tables.table1(read_summary(rev_a)), tables.table1(read_summary(rev_b))
    delta = b.subtract(a, fill_value=float("nan"))
    text = "\n\n".join([f"## {rev_a}\n\n{a.to_markdown(floatfmt='.3f')}",
                        f"## {rev_b}\n\n{b.to_markdown(floatfmt='.3f')}",
                        f"## delta ({rev_b} - {rev_a})\n\n{delta.to_markdown(floatfmt='+.3f')}"])
    print(text)
    return text
