"""`kill -9` of a whole `make run` (launcher, Snakemake and its job), or of `dvc repro`, at
several points, then a rerun: the study completes, and its results equal, byte for byte, an
uninterrupted run's."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import BIN, tiny_study, write_params

# Files whose appearance marks a kill point: mid-pretraining (its per-epoch resume file),
# after HP, and mid-FT; each one is killed as soon as it appears.
KILL_POINTS = [
    "runs/resume/pretrain/mlp/seed0/backbone.pt.resume",
    "runs/toy/hp/log.json",
    "runs/resume/toy/ft/seed0/tau1.pt.resume",
]
UNTIMED = ("results/cost.md",)  # wall-clock seconds: the one result that may differ
MARKER = ".snakemake_timestamp"  # Snakemake's mark in a directory output (DVC writes none)


def study() -> dict:
    s = tiny_study()
    del s["settings"]["toy_ls"]
    s.update(taus=[0, 1], exchange={})
    s["pretrain"]["mlp"].update(epochs=40, lr=0.05)
    s["settings"]["toy"]["ft"].update(epochs=40, patience=40, lr=0.01)
    return s


MAKE_RUN = [sys.executable, "-m", "pipeline.launch", "--cores", "1", "--quiet"]
DVC_REPRO = [str(BIN / "dvc"), "repro", "--quiet"]


def launch(root: Path, cmd: list[str] = MAKE_RUN) -> subprocess.Popen:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "TASKHEAD_SKIP_DVC_COMMIT": "1",
    }
    env.pop("TASKHEAD_PARAMS", None)
    return subprocess.Popen(
        cmd,
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def digests(root: Path) -> dict[str, str]:
    files = [p for d in ("runs", "results") for p in (root / d).rglob("*") if p.is_file()]
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files
        if not str(p.relative_to(root)).startswith(("runs/resume",) + UNTIMED) and p.name != MARKER
    }


def clean(root: Path) -> None:
    for d in ("runs", "results", ".snakemake", "benchmarks", "logs"):
        shutil.rmtree(root / d, ignore_errors=True)


def killed_then_finished(root: Path, cmd: list[str]) -> None:
    """Start `cmd` once per kill point, kill -9 its whole process group as soon as the point
    appears, then run it to the end."""
    killed = []
    for point in KILL_POINTS:
        proc = launch(root, cmd)
        end = time.monotonic() + 120
        while not (root / point).exists() and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.01)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed.append(point)
        proc.wait(timeout=60)
    assert killed == KILL_POINTS, f"only {killed} were reached while {cmd[-2]} was alive"
    final = launch(root, cmd)
    assert final.wait(timeout=300) == 0, final.stderr.read()


def test_killed_runs_resume_to_the_same_bytes(project):
    write_params(project / "params.yaml", study())
    assert launch(project).wait(timeout=300) == 0
    reference = digests(project)
    assert "results/table1.md" in reference and "runs/toy/ft/seed0/tau1.pt" in reference
    clean(project)
    killed_then_finished(project, MAKE_RUN)
    assert digests(project) == reference
    clean(project)
    killed_then_finished(project, DVC_REPRO)
    assert digests(project) == reference
