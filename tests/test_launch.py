"""pipeline.workflow.launch, `make run`'s way into Snakemake: one run per checkout, stale Snakemake locks
cleared, --rerun-incomplete always. A fake `snakemake` on PATH records what it was given."""

import os
import subprocess
import sys
import time

import pytest

FAKE = """#!/bin/sh
echo "$@" > args
ls .snakemake/locks > locks_seen 2>/dev/null || echo none > locks_seen
echo "$TASKHEAD_LAUNCH" > mark
echo started > started
i=0
while [ -n "$FAKE_WAIT" ] && [ ! -e release ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
exit ${FAKE_RC:-0}
"""


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "snakemake").write_text(FAKE)
    (fake_bin / "snakemake").chmod(0o755)
    work = tmp_path / "checkout"
    work.mkdir()
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("TASKHEAD_LAUNCH", raising=False)
    return work


def launcher(cwd, *args, wait=True, **env):
    cmd = [sys.executable, "-m", "pipeline.workflow.launch", *args]
    full_env = {**os.environ, **env}
    if wait:
        return subprocess.run(
            cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60
        )
    return subprocess.Popen(
        cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(path, timeout=30):
    end = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < end, f"{path} did not appear"
        time.sleep(0.05)


def stale_lock(checkout):
    locks = checkout / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("x\n")
    return locks


def test_a_stale_lock_is_cleared_and_the_arguments_forwarded(checkout):
    locks = stale_lock(checkout)
    proc = launcher(checkout, "--cores", "2", "--resources", "gpu=0", FAKE_RC="5")
    assert proc.returncode == 5, proc.stderr  # Snakemake's own exit status
    assert (checkout / "args").read_text().split() == [
        "--rerun-incomplete",
        "--cores",
        "2",
        "--resources",
        "gpu=0",
    ]
    assert (checkout / "locks_seen").read_text().strip() in ("", "none") and not locks.exists()
    assert "cleared Snakemake's lock" in proc.stderr
    assert (checkout / "mark").read_text().strip() == str(checkout.resolve())


def test_a_second_launcher_refuses_while_the_first_runs(checkout):
    first = launcher(checkout, "--cores", "1", wait=False, FAKE_WAIT="1")
    try:
        wait_for(checkout / "started")
        locks = stale_lock(checkout)  # the first run's, as far as the second can tell
        second = launcher(checkout, "--cores", "1")
        assert second.returncode != 0
        assert second.stderr == (
            f"error: another run is active in this checkout (pid {first.pid}); "
            "wait for it or stop it\n"
        )
        assert (locks / "0.input.lock").exists()
    finally:
        (checkout / "release").touch()
        assert first.wait(timeout=30) == 0


def test_a_live_snakemake_in_the_checkout_is_not_touched(checkout):
    locks = stale_lock(checkout)
    other = subprocess.Popen(
        ["snakemake", "--cores", "1"], cwd=checkout, env={**os.environ, "FAKE_WAIT": "1"}
    )
    try:
        wait_for(checkout / "started")
        (checkout / "started").unlink()
        proc = launcher(checkout, "--cores", "1")
        assert proc.returncode != 0 and not (checkout / "started").exists()
        assert proc.stderr.startswith(
            f"error: a snakemake process is still running in this checkout (pid {other.pid}:"
        )
        assert proc.stderr.endswith("wait for it or stop it\n") and proc.stderr.count("\n") == 1
        assert (locks / "0.input.lock").exists()
    finally:
        (checkout / "release").touch()
        other.wait(timeout=30)


def test_a_job_that_outlived_its_snakemake_is_waited_for(checkout):
    locks = stale_lock(checkout)
    orphan = subprocess.Popen(
        ["sleep", "60"], env={**os.environ, "TASKHEAD_LAUNCH": str(checkout.resolve())}
    )
    try:
        proc = launcher(checkout, "--cores", "1")
        assert proc.returncode != 0 and not (checkout / "started").exists()
        assert proc.stderr.startswith(
            f"error: a job of an interrupted run is still running in this checkout "
            f"(pid {orphan.pid}: sleep 60)"
        )
        assert locks.exists()
    finally:
        orphan.kill()
        orphan.wait()
    assert launcher(checkout, "--cores", "1").returncode == 0 and not locks.exists()


def test_a_bad_configfile_is_one_line(checkout):
    (checkout / "study.yaml").write_text("seed: 0\nseed: 1\n")
    proc = launcher(checkout, "--cores", "1", "--configfile", "study.yaml")
    assert proc.returncode == 2 and not (checkout / "started").exists()
    assert proc.stderr == "error: study.yaml:2:1: duplicate key seed (first at line 1)\n"


def test_a_target_after_configfile_is_named(checkout):
    """Snakemake's --configfile takes every argument up to the next option, so a target given
    after it is read as a study file: Snakemake's own message does not name it."""
    (checkout / "study.yaml").write_text("seed: 0\n")
    (checkout / "results").mkdir()
    (checkout / "results" / "seg.json").write_text("[1, 2]\n")
    proc = launcher(checkout, "--cores", "1", "--configfile", "study.yaml", "results/seg.json")
    assert proc.returncode == 2 and not (checkout / "started").exists()
    assert proc.stderr == (
        "error: results/seg.json: expected a study file (a mapping of keys at the top level), "
        "found a list; --configfile takes every argument up to the next option, so give "
        "targets before it\n"
    )
    assert (
        launcher(
            checkout, "results/seg.json", "--cores", "1", "--configfile", "study.yaml"
        ).returncode
        == 0
    )
