"""The study through Snakemake's SLURM executor, against a real single-node SLURM cluster.

tests/slurm_cluster.py starts munged, slurmctld and slurmd (Debian's packages) on
localhost with two simulated GPUs, and stops them afterwards, even when a test fails.
The workflow runs as `snakemake --profile profiles/slurm` (README: Running on a SLURM cluster), always under
`timeout -k`: a plugin that cannot see its jobs waits forever and ignores SIGTERM.

Where SLURM is missing and cannot be installed (not root, no apt-get), the tests skip with
a one-line reason, unless TASKHEAD_REQUIRE_SLURM=1 (set by .ci/run) turns that into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import BIN, ROOT, sh, tiny_study, write_params
from slurm_cluster import SlurmCluster, ensure_installed

pytestmark = pytest.mark.e2e

REQUIRE = "TASKHEAD_REQUIRE_SLURM"
COMMAND = [
    "snakemake",
    "--profile",
    "profiles/slurm",
]  # README: Running on a SLURM cluster, word for word
TRAINING = ("pretrain", "probe", "finetune", "evaluate")  # rules with `resources: gpu=GPU`
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")
DEVICE = re.compile(r"\[device\] SLURM job (\d+): CUDA_VISIBLE_DEVICES=(\S*) SLURM_JOB_GPUS=(\S*)")


@pytest.fixture(scope="module")
def slurm():
    reason = ensure_installed()
    if reason:
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{REQUIRE}=1, but {reason}", pytrace=False)
        pytest.skip(reason)
    cluster = SlurmCluster(gpus=2)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def cluster_study() -> dict:
    """The tiny study, thinner still: one dataset, one setting, taus 0 and 1, two seeds (two
    FT jobs, which may run at once on two GPUs)."""
    study = tiny_study()
    study["taus"] = [0, 1]
    study["seeds"] = [0, 1]
    del study["datasets"]["d012"]
    study["settings"] = {"toy": {**study["settings"]["toy"], "data": "digits8"}}
    study["exchange"] = {}
    return study


def broken_study() -> dict:
    """A backbone imported from a file that is no checkpoint: its job fails on the node."""
    study = cluster_study()
    mlp = study["pretrain"].pop("mlp")
    study["imports"] = {
        "broken": {
            "family": "classification",
            "model": mlp["model"],
            "checkpoint": "ckpt/broken.pt",
        }
    }
    study["settings"]["toy"]["pretrain"] = "broken"
    return study


def add_profile(project: Path) -> None:
    """What a scratch project lacks of the repo: the profile and the conda env file."""
    shutil.copytree(ROOT / "profiles" / "slurm", project / "profiles" / "slurm")
    if (ROOT / "envs").is_dir() and not (project / "envs").exists():
        shutil.copytree(ROOT / "envs", project / "envs")


def client_env(cluster: SlurmCluster) -> dict:
    env = {**cluster.env, "PATH": f"{BIN}{os.pathsep}{cluster.env['PATH']}"}
    env.pop("CUDA_VISIBLE_DEVICES", None)  # a device id the job sees can only come from SLURM
    return env


def kill(proc: subprocess.Popen) -> None:
    """End a run started with start_new_session=True: `timeout` and all under it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


class Workflow:
    """`snakemake --profile profiles/slurm [extra]` under `timeout -k`, in the background."""

    def __init__(self, project: Path, env: dict, *extra: str, limit: int = 240):
        self.project, self.env, self.extra, self.limit = project, env, extra, limit
        self.proc = None

    def start(self) -> Workflow:
        if self.proc is None:
            self.t0 = time.monotonic()
            self.log = open(self.project / "snakemake-slurm.out", "w+")  # noqa: SIM115 (read back in result())
            self.proc = subprocess.Popen(
                ["timeout", "-k", "10", str(self.limit), *COMMAND, *self.extra],
                cwd=self.project,
                env=self.env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def result(self) -> tuple[int, str, float]:
        """(exit status, output, seconds); waits for the run, starting it if need be."""
        self.start()
        try:
            rc = self.proc.wait(timeout=self.limit + 30)
        finally:
            kill(self.proc)
        self.log.seek(0)
        out = self.log.read()
        self.log.close()
        return rc, out, time.monotonic() - self.t0


@pytest.fixture(scope="module")
def broken_run(slurm, tmp_path_factory):
    """A project with two bad jobs, run once; the main test starts it early to overlap."""
    project = tmp_path_factory.mktemp("broken")
    for name in ("Snakefile", "dvc.yaml", "workflow"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, project / name)
    write_params(project / "params.yaml", broken_study())
    (project / "ckpt").mkdir()
    (project / "ckpt" / "broken.pt").write_text("not a checkpoint\n")
    add_profile(project)
    # prepare asks for 3 GPUs (the node has 2); the import job fails when it runs. One attempt
    # each: the profile's `retries` (for jobs stopped at their time limit) would repeat them.
    run = Workflow(
        project,
        client_env(slurm),
        "runs/data/digits8.pt",
        "runs/pretrain/broken/seed0/backbone.pt",
        "--keep-going",
        "--retries",
        "0",
        "--set-resources",
        "prepare:gpu=3",
        limit=150,
    )
    yield run
    if run.proc is not None:
        kill(run.proc)


def job_info(cluster: SlurmCluster, job_id: str) -> dict:
    """`scontrol show job` as a dict (slurmctld keeps a finished job for MinJobAge)."""
    out = cluster.run("scontrol", "show", "job", "-o", job_id).stdout
    return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)


def test_study_on_slurm_matches_local_run(slurm, broken_run, project, tmp_path):
    write_params(project / "params.yaml", cluster_study())
    add_profile(project)
    remote = tmp_path / "dvc-remote"
    # README: Running on a SLURM cluster
    sh(["dvc", "remote", "add", "-q", "-d", "shared", str(remote)], project)
    local = tmp_path / "local"
    shutil.copytree(project, local)
    # The same study run locally, meanwhile, at low CPU priority: the cluster run mostly waits
    # for status checks, and a job slowed down is seen one (longer) period later.
    local_env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "TASKHEAD_SKIP_DVC_COMMIT": "1",
    }
    reference = subprocess.Popen(
        ["nice", "-n", "19", "timeout", "-k", "10", "300", "snakemake", "--cores", "2"],
        cwd=local,
        env=local_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    cluster_run = Workflow(project, client_env(slurm)).start()
    try:
        # The bad-input test's run, meanwhile, once the last GPU job is queued: its job then
        # finds a free GPU and CPU at once and ends while this run finishes.
        log = project / "snakemake-slurm.out"
        while cluster_run.proc.poll() is None and "rule_evaluate" not in log.read_text():
            time.sleep(0.5)
        broken_run.start()
        local_out = reference.communicate(timeout=360)[0]
        rc, out, seconds = cluster_run.result()
    finally:
        kill(reference)
        kill(cluster_run.proc)
    assert rc == 0, (
        f"the cluster run failed ({rc}) after {seconds:.0f}s:\n{out[-6000:]}\n{slurm.logs()}"
    )
    assert reference.returncode == 0, local_out[-4000:]

    # 1. The cluster's results equal the local run's (the pipeline is deterministic on the CPU).
    cluster_summary = pd.read_csv(project / "results" / "summary.csv")
    local_summary = pd.read_csv(local / "results" / "summary.csv")
    # 2 taus x 2 seeds
    assert len(cluster_summary) == 4 and cluster_summary["test_score"].notna().all()
    pd.testing.assert_frame_equal(cluster_summary, local_summary)

    # 2. Every job went through sbatch; training jobs asked for one GPU, the others for none.
    rule_of = {
        jid: re.search(r"/rule_(\w+?)(?:/|$)", path).group(1)
        for jid, path in SUBMITTED.findall(out)
    }
    jobs = {jid: job_info(slurm, jid) for jid in rule_of}
    assert sorted(rule_of.values()) == sorted(
        [
            "check",
            "prepare",
            "pretrain",
            "probe",
            "finetune",
            "finetune",
            "evaluate",
            "aggregate",
            "advise",
        ]
    ), out[-4000:]  # FT: one job per seed
    for jid, info in jobs.items():
        assert info["JobState"] == "COMPLETED", info
        gpus = info.get("TresPerJob", "")
        if rule_of[jid] in TRAINING:
            assert gpus == "gres:gpu:1", (rule_of[jid], info)
        else:
            assert "gpu" not in gpus, (rule_of[jid], info)

    # 3. Each training job saw the device SLURM gave it: CUDA_VISIBLE_DEVICES is set by
    # SLURM's gres plugin (the submitting shell has none), and jobs at the same time differ.
    seen = {}
    for rule in TRAINING:
        for log in (project / "logs" / rule).rglob("*.log"):
            (line,) = DEVICE.findall(log.read_text())
            jid, cuda, _ = line
            assert rule_of.get(jid) == rule, (log, line, rule_of)
            assert cuda in ("0", "1"), (log, line)
            seen[jid] = cuda
    assert sorted(rule_of[j] for j in seen) == sorted(
        ["pretrain", "probe", "finetune", "finetune", "evaluate"]
    )
    ft = [j for j in seen if rule_of[j] == "finetune"]
    a, b = (jobs[j] for j in ft)
    if a["StartTime"] < b["EndTime"] and b["StartTime"] < a["EndTime"]:
        assert seen[ft[0]] != seen[ft[1]], "two jobs running at once were given the same GPU"

    # 4. DVC took the outputs (onsuccess `dvc commit`), and they go to the shared remote.
    assert "up to date" in sh(["dvc", "status"], project).stdout
    sh(["dvc", "push", "-q"], project)
    assert "in sync" in sh(["dvc", "status", "--cloud"], project).stdout
    # 5. Successful jobs' SLURM logs are removed (the plugin's default); the rule logs stay.
    assert not list((project / "logs" / "slurm").rglob("*.log"))


def test_bad_jobs_fail_fast_with_reason_and_log(slurm, broken_run):
    rc, out, seconds = broken_run.result()
    project = broken_run.project
    assert rc not in (0, 124, 137), f"rc {rc} after {seconds:.0f}s:\n{out[-6000:]}"

    # 1. Too many GPUs: sbatch refuses at once, and the scheduler's reason reaches the user.
    assert "Requested node configuration is not available" in out, out[-6000:]
    assert re.search(r"Error in rule prepare:.*?SLURM sbatch failed", out, re.DOTALL), out[-6000:]

    # 2. The failed job fails the workflow, and the error names its logs: the rule's and SLURM's.
    block = re.search(r"Error in rule pretrain:.*?external_jobid: (\d+)", out, re.DOTALL)
    assert block, out[-6000:]
    assert "SLURM status is: 'FAILED'" in block.group(0)
    slurm_log = project / "logs" / "slurm" / "rule_pretrain" / "broken_0" / f"{block.group(1)}.log"
    assert "logs/pretrain/broken/seed0.log" in block.group(0) and str(slurm_log) in block.group(
        0
    ), block.group(0)
    assert slurm_log.is_file() and "Error in rule pretrain" in slurm_log.read_text()
    assert "broken.pt" in (project / "logs" / "pretrain" / "broken" / "seed0.log").read_text()
    assert not (project / "runs" / "pretrain" / "broken" / "seed0" / "backbone.pt").exists()
    assert job_info(slurm, block.group(1))["JobState"] == "FAILED"
