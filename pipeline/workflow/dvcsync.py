"""Keep DVC's lock in step with a Snakemake run, at the cost of what ran.

Under Snakemake, every successful job notes its DVC stage (e.g. `finetune@toy`) in a
ledger; the Snakefile's `onsuccess` then runs `python -m pipeline dvcsync`, which commits
only those stages to dvc.lock. `dvc commit` re-links cached file outputs (new mtimes),
which Snakemake would read as newer inputs: their mtimes are put back, so Snakemake's own
records stay as the run wrote them. A ledger left by an interrupted hook is committed by
the next one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LEDGER_ENV = "TASKHEAD_DVC_LEDGER"
LEDGER = Path(".snakemake") / "taskhead" / "dvc-stages"


def stage_name(stage: str, args) -> str | None:
    """The DVC stage a CLI call belongs to (dvc.yaml's names), None for CLI-only commands."""
    if stage == "pretrain":
        from pipeline.params import load

        return f"{'import' if args.name in load(args.params, check_files=False).imports else 'pretrain'}@{args.name}"
    for flag in ("setting", "dataset", "name"):
        if getattr(args, flag, None) is not None:
            return f"{stage}@{getattr(args, flag)}"
    return stage if stage in ("check", "aggregate", "advise") else None


def note(stage: str, args) -> None:
    """Append the job's DVC stage to the ledger named by $TASKHEAD_DVC_LEDGER, if set."""
    ledger = os.environ.get(LEDGER_ENV)
    name = stage_name(stage, args) if ledger else None
    if name:
        Path(ledger).parent.mkdir(parents=True, exist_ok=True)
        with open(ledger, "a") as f:  # one short O_APPEND write per job: no interleaving
            f.write(name + "\n")


def _mtimes(paths: list[Path]) -> dict[Path, int]:
    found = {}
    for p in paths:
        files = (
            [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()] if p.is_dir() else []
        )
        found.update({f: f.stat().st_mtime_ns for f in files})
    return found


def commit(ledger: Path = LEDGER) -> int:
    """Commit the ledger's stages; restore their outputs' mtimes; clear the ledger."""
    if not ledger.is_file():
        return 0
    stages = sorted(set(ledger.read_text().split()))
    from dvc.repo import Repo

    with Repo(".") as repo:
        known = {s.addressing: s for s in repo.index.stages}
        stages = [s for s in stages if s in known]
        outs = [Path(o.fs_path) for s in stages for o in known[s].outs]
    before = _mtimes(outs)
    # DVC commits target by target (about 1 s each here); when every stage ran, one commit of
    # the whole graph records the same and costs about as much as four targets.
    targets = [] if set(stages) == set(known) else stages
    proc = subprocess.run(["dvc", "commit", "--force", "--quiet", *targets])
    for f, mtime in before.items():
        if f.is_file():
            os.utime(f, ns=(mtime, mtime))
    if proc.returncode == 0:
        ledger.unlink()
        print(f"[dvcsync] committed {len(stages)} DVC stages", file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(commit())
