"""One lock for the checkout, shared by Snakemake and DVC (pipeline/workflow/driverlock.py), through the
real commands in a scratch repo of the tiny study: each driver refuses while the other works,
before any stage runs, and a lock whose holder was killed with -9 is taken over with one line.
And `dvc repro` stopped by validation deletes nothing (`persist` on the check stage)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from conftest import BIN, sh, tiny_study

DVC_REFUSAL = "ERROR: Unable to acquire lock"


def start(root: Path, cmd: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("TASKHEAD_PARAMS", None)
    return subprocess.Popen(
        cmd,
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_until(condition, what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"{what} did not happen"
        time.sleep(0.05)


def kill9(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def refused_by_dvc(root: Path, cmd: list[str], expected: str) -> None:
    """`cmd` fails with one line that starts with `expected`, having run and checked out
    nothing."""
    proc = sh(cmd, root, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and out.startswith(expected) and out.count("\n") == 1, out


def test_dvc_refuses_while_snakemake_works_and_a_killed_snakemake_is_taken_over(project):
    lock = project / ".dvc" / "tmp" / "lock"
    snakemake = start(project, ["snakemake", "--cores", "1"])
    try:
        wait_until(lambda: "snakemake" in (lock.read_text() if lock.exists() else ""), "the lock")
        assert lock.read_text() == f" {snakemake.pid} snakemake\n"
        ours = f"error: snakemake is running in this checkout (pid {snakemake.pid}); wait for it"
        cases = [  # the venv's start-up hook names Snakemake; without it, DVC's lock refuses
            (["dvc", "repro"], ours),
            (["dvc", "exp", "run"], ours),
            ([sys.executable, "-m", "dvc", "repro"], DVC_REFUSAL),  # not hooked: DVC tries 3 s
        ]
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda case: refused_by_dvc(project, *case), cases))
        assert snakemake.poll() is None, "Snakemake ended before DVC gave up"
    finally:
        kill9(snakemake)
    assert not (project / "dvc.lock").exists()  # DVC recorded no stage
    # A later run finds the lock free (the kernel dropped the flock), names the gone holder.
    again = sh(
        [sys.executable, "-m", "pipeline.workflow.launch", "--cores", "1", "results/params.json"],
        project,
        check=False,
    )
    took = [line for line in again.stderr.splitlines() if "took over" in line]
    assert again.returncode == 0, again.stderr
    assert took == [
        f"make run (snakemake): took over this checkout's lock from snakemake "
        f"(pid {snakemake.pid}), which is gone"
    ], again.stderr
    assert "snakemake" not in lock.read_text()  # released (then `dvc commit` took it)


def test_snakemake_refuses_while_dvc_repro_works_and_a_killed_dvc_is_taken_over(project):
    rwlock = project / ".dvc" / "tmp" / "rwlock"
    dvc = start(project, ["dvc", "repro"])
    try:
        # DVC lets go of its lock while a stage's command runs: Snakemake must look further.
        wait_until(lambda: rwlock.exists() and '"pid"' in rwlock.read_text(), "a DVC stage")
        for cmd, extra in (
            (["snakemake", "--cores", "1"], "error: "),
            ([sys.executable, "-m", "pipeline.workflow.launch", "--cores", "1"], "error: "),
        ):
            proc = sh(cmd, project, check=False)
            out = proc.stdout + proc.stderr
            expected = (
                f"{extra}dvc repro is running in this checkout (pid {dvc.pid}); "
                "wait for it or stop it"
            )
            assert proc.returncode != 0 and expected in out.splitlines(), out
            assert "rule " not in out and "Job " not in out, out
        assert dvc.poll() is None, "dvc repro ended before the refusals were checked"
    finally:
        kill9(dvc)
    proc = sh(["snakemake", "--cores", "1", "results/params.json"], project, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"snakemake: took over this checkout's lock from dvc repro (pid {dvc.pid})" in (
        proc.stderr
    ), proc.stderr


# ---- validation under `dvc repro` deletes nothing ----------------------------------------


def bad(mutate) -> bytes:
    s = {**tiny_study(), "seeds": [0, 1]}
    mutate(s)
    return yaml.safe_dump(s, sort_keys=False).encode()


def ft(s):
    return s["settings"]["toy"]["ft"]


# One bad value of each kind the check stage (pipeline.params.validate) catches: YAML, the
# schema (a value, a type, a missing key), a cross-reference, a file, a family's own check.
BAD = {
    "duplicate key": b"seed: 0\nseed: 1\n",
    "syntax error": b"seed: [0\n",
    "negative lr": bad(lambda s: ft(s).update(lr=-0.1)),
    "boolean lr": bad(lambda s: ft(s).update(lr=True)),
    "missing lr": bad(lambda s: ft(s).pop("lr")),
    "missing dataset": bad(lambda s: s["settings"]["toy"].update(data="nowhere")),
    "missing checkpoint": bad(
        lambda s: s["imports"].update(
            sup={"family": "classification", "model": {"arch": "mlp"}, "checkpoint": "no.pt"}
        )
    ),
    "MLP input size": bad(
        lambda s: (
            s["datasets"].update(d16={"family": "classification", "dataset": "digits", "size": 16}),
            s["settings"]["toy"].update(data="d16"),
        )
    ),
}


def test_dvc_repro_stopped_by_validation_leaves_git_clean(project):
    sh(["dvc", "repro", "check"], project)
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "check"], project)
    for kind, content in BAD.items():
        (project / "params.yaml").write_bytes(content)
        proc = sh(["dvc", "repro"], project, check=False)
        assert proc.returncode != 0, (kind, proc.stdout)
        assert "Running stage 'prepare" not in proc.stdout, kind
        status = sh(["git", "status", "--porcelain"], project).stdout
        assert status == " M params.yaml\n", (kind, status)
        sh(["git", "checkout", "params.yaml"], project)
