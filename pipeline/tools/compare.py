"""Compare the per-setting metrics (results/metrics.json: means over seeds) of two revisions:
any git revision, a DVC experiment's name (as `dvc exp show` lists it), or the working tree."""

from __future__ import annotations

import json
import math
import subprocess

import pandas as pd

from pipeline.errors import PipelineError
from pipeline.io import paths

WORKTREE = "WORKTREE"
# row label -> metrics.json key; scores are fractions, shown in percent
ROWS = {
    "HP-train-acc (tau*)": "hp_train_fit_tau_star",
    "HP-train-acc (tau max)": "hp_train_fit_max",
    "HP0-FT": "hp0_ft",
    "HPmax-FT": "hpmax_ft",
    "HPtau*-FT": "hp_tau_star_ft",
    "tau*": "tau_star",
}


def resolve(rev: str) -> str:
    """A git revision as given, or the ref of the DVC experiment of that name."""
    if (
        subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], capture_output=True
        ).returncode
        == 0
    ):
        return rev
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/exps"], capture_output=True, text=True
    ).stdout.split()
    hits = [r for r in refs if r.rsplit("/", 1)[-1] == rev]
    if len(hits) != 1:
        raise PipelineError(
            f"{rev}: expected a git revision or the name of one DVC experiment, found "
            f"{'several experiments of that name' if hits else 'neither'}"
        )
    return hits[0]


def read_metrics(rev: str) -> dict:
    if rev == WORKTREE:
        if not paths.METRICS.is_file():
            raise PipelineError(
                f"{paths.METRICS}: expected the study's metrics in the working tree, found none"
            )
        return json.loads(paths.METRICS.read_text())
    proc = subprocess.run(
        ["git", "show", f"{resolve(rev)}:{paths.METRICS.as_posix()}"],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise PipelineError(
            f"{rev}:{paths.METRICS}: expected committed metrics, found: {proc.stderr.strip()}"
        )
    return json.loads(proc.stdout)


def view(metrics: dict) -> pd.DataFrame:
    """Rows ROWS, one column per setting: the means over seeds (scores in percent)."""
    df = pd.DataFrame(
        {setting: {row: m.get(key) for row, key in ROWS.items()} for setting, m in metrics.items()},
        index=list(ROWS),
        dtype=float,
    )
    df.loc[df.index != "tau*"] *= 100
    return df


def body(df: pd.DataFrame, signed: bool = False) -> str:
    """A Markdown table: scores to 3 decimals (with their sign for deltas), tau* whole, missing n/a."""
    sign = "+" if signed else ""

    def cell(row, v) -> str:
        return (
            "n/a" if math.isnan(v) else f"{round(v):{sign}d}" if row == "tau*" else f"{v:{sign}.3f}"
        )

    cells = pd.DataFrame(
        {c: [cell(r, v) for r, v in df[c].items()] for c in df.columns}, index=df.index
    )
    return cells.to_markdown(
        disable_numparse=True, colalign=("left",) + ("right",) * len(cells.columns)
    )


def run(rev_a: str = "HEAD", rev_b: str = WORKTREE) -> str:
    a, b = view(read_metrics(rev_a)), view(read_metrics(rev_b))
    delta = b.subtract(a, fill_value=float("nan"))
    text = "\n\n".join(
        [
            f"## {rev_a}\n\n{body(a)}",
            f"## {rev_b}\n\n{body(b)}",
            f"## delta ({rev_b} - {rev_a})\n\n{body(delta, signed=True)}",
            "Means over seeds (results/metrics.json); scores in percent, tau* the most-often-chosen.",
        ]
    )
    print(text)
    return text
