"""`kill -9` of a whole `make run` (launcher, Snakemake and its job) at several points, then a
rerun: the study completes, and its results equal, byte for byte, an uninterrupted run's."""
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
KILL_POINTS = ["runs/resume/pretrain/mlp/seed0/backbone.pt.resume", "runs/toy/hp/log.json",
               "runs/resume/toy/ft/seed0/tau1.pt.resume"]
UNTIMED = ("results/cost.md",)  # wall-clock seconds: the one result that may differ


def study() -> dict:
    s = tiny_study()
    del s["settings"]["toy_ls"]
    s.update(taus=[0, 1], exchange={})
    s["pretrain"]["mlp"].update(epochs=40, lr=0.05)
    s["settings"]["toy"]["ft"].update(epochs=40, patience=40, lr=0.01)
    return s


def launch(root: Path) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "TASKHEAD_SKIP_DVC_COMMIT": "1"}
    env.pop("TASKHEAD_PARAMS", None)
    return subprocess.Popen([sys.executable, "-m", "pipeline.launch", "--cores", "1", "--quiet"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def digests(root: Path) -> dict[str, str]:
    files = [p for d in ("runs", "results") for p in (root / d).rglob("*") if p.is_file()]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
            if not str(p.relative_to(root)).startswith(("runs/resume",) + UNTIMED)}


def test_killed_runs_resume_to_the_same_bytes(project):
    write_params(project / "params.yaml", study())
    assert launch(project).wait(timeout=300) == 0
    reference = digests(project)
    assert "results/table1.md" in reference and "runs/toy/ft/seed0/tau1.pt" in reference
    for d in ("runs", "results", ".snakemake", "benchmarks", "logs"):
        shutil.rmtree(project / d, ignore_errors=True)

    killed = []
    for point in KILL_POINTS:
        proc = launch(project)
        end = time.monotonic() + 120
        while not (project / point).exists() and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.01)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed.append(point)
        proc.wait(timeout=60)
    assert killed == KILL_POINTS, f"only {killed} were reached while a run was alive"
    final = launch(project)
    assert final.wait(timeout=300) == 0, final.stderr.read()
    assert digests(project) == reference
