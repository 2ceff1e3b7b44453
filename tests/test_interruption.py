"""`kill -9` of a whole `make run` (launcher, Snakemake and its job), or of `dvc repro`, at
several points, then a rerun: the study completes, and its results equal, byte for byte, an
uninterrupted run's. SIGTERM in the middle of an FT epoch or of HP: the job saves its state
and stops with one line, and the rerun gives the same bytes."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import BIN, tiny_study, write_params
from torch.utils.data import DataLoader

from pipeline.__main__ import main
from pipeline.families import get_family
from pipeline.runtime.seeding import worker_init_fn
from pipeline.stages import probe as probe_stage

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


MAKE_RUN = [sys.executable, "-m", "pipeline.workflow.launch", "--cores", "1", "--quiet"]
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


# ---- SIGTERM: a scheduler's stop --------------------------------------------------------


def sigterm_study() -> dict:
    """One setting, one seed; FT epochs of four batches with random draws (augmentation), HP
    stopped between two taus."""
    s = study()
    s.update(taus=[0, 2, 4])
    s["pretrain"]["mlp"].update(epochs=2)
    s["settings"]["toy"]["ft"].update(epochs=3, patience=3, batch_size=32, augment=True)
    return s


def up_to_probe(root: Path) -> None:
    write_params(root / "params.yaml", sigterm_study())
    for argv in (
        ["prepare", "--dataset", "digits8"],
        ["prepare", "--dataset", "d012"],
        ["pretrain", "--name", "mlp"],
    ):
        assert main(argv) == 0, argv


def sigterm_on_call(monkeypatch, owner, name: str, n: int) -> None:
    """Replace owner.name by a wrapper whose n-th call sends this process SIGTERM first."""
    original, calls = getattr(owner, name), []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


def outputs_of(root: Path, folder: str) -> dict[str, str]:
    return {k: v for k, v in digests(root).items() if k.startswith(folder)}


def stopped(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[")]
    assert len(err) == 1 and "stopped by SIGTERM, its state saved in runs/resume/" in err[0], err
    return err[0]


@pytest.fixture
def two_dirs(tmp_path, monkeypatch):
    """`reference` and `stopped`: a directory each, the tiny study run there up to HP."""
    monkeypatch.delenv("TASKHEAD_PARAMS", raising=False)
    dirs = {}
    for name in ("reference", "stopped"):
        dirs[name] = tmp_path / name
        dirs[name].mkdir()
        monkeypatch.chdir(dirs[name])
        up_to_probe(dirs[name])
    return dirs


def test_sigterm_in_the_middle_of_an_ft_epoch_resumes_to_the_same_bytes(
    two_dirs, monkeypatch, capsys
):
    monkeypatch.chdir(two_dirs["reference"])
    assert main(["probe", "--setting", "toy"]) == 0
    assert main(["finetune", "--setting", "toy"]) == 0
    reference = outputs_of(two_dirs["reference"], "runs/toy/ft")
    monkeypatch.chdir(two_dirs["stopped"])
    assert main(["probe", "--setting", "toy"]) == 0
    family = type(get_family("classification"))
    with monkeypatch.context() as m:  # the 6th batch of FT at tau 0: the 2nd of epoch 2
        sigterm_on_call(m, family, "loss", 6)
        line = stopped(capsys, ["finetune", "--setting", "toy"])
    assert line.startswith("error: ft toy seed=0 tau=0: stopped by SIGTERM")
    saved = torch.load(
        "runs/resume/toy/ft/seed0/tau0.pt.resume", map_location="cpu", weights_only=False
    )
    assert saved["state"]["epoch"] == 1 and saved["state"]["partial"]["batches"] == 2
    assert not Path("runs/toy/ft/seed0/tau0.pt").exists()
    assert main(["finetune", "--setting", "toy"]) == 0
    assert outputs_of(two_dirs["stopped"], "runs/toy/ft") == reference
    # 3 taus: each FT model and its models at the two z epochs
    assert len(reference) == 9 and sum(name.endswith("_epoch3.pt") for name in reference) == 3


def test_sigterm_in_the_middle_of_hp_resumes_to_the_same_bytes(two_dirs, monkeypatch, capsys):
    monkeypatch.chdir(two_dirs["reference"])
    assert main(["probe", "--setting", "toy"]) == 0
    reference = outputs_of(two_dirs["reference"], "runs/toy/hp")
    monkeypatch.chdir(two_dirs["stopped"])
    with monkeypatch.context() as m:  # during epoch 3, between the heads of taus 2 and 4
        sigterm_on_call(m, probe_stage, "train_epoch", 3)
        line = stopped(capsys, ["probe", "--setting", "toy"])
    assert line.startswith("error: hp toy seed=0: stopped by SIGTERM")
    saved = torch.load(
        "runs/resume/toy/hp/seed0/tau4.pt.resume", map_location="cpu", weights_only=False
    )
    assert saved["epoch"] == 4 and [r["tau"] for r in saved["log"]] == [0, 2]
    assert not Path("runs/toy/hp/log.json").exists()
    assert main(["probe", "--setting", "toy"]) == 0
    assert outputs_of(two_dirs["stopped"], "runs/toy/hp") == reference
    assert len(reference) == 4  # three heads and the log


def job_pid(root: Path, *words: str) -> int | None:
    """The pid of a live `python -m pipeline WORDS...` job working in `root`."""
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
            ours = argv[1:3] == ["-m", "pipeline"] and all(w in argv for w in words)
            if ours and Path(os.readlink(entry / "cwd")) == root:
                return int(entry.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


def test_a_job_stopped_by_sigterm_runs_again_under_snakemake_retries(project):
    """A real SIGTERM to a real FT job of `snakemake --retries 1` (the SLURM profile sets
    `retries`): the job stops with one line, Snakemake runs it again, it resumes, and the run
    ends well. Up to FT only: evaluate and aggregate add nothing here."""
    s = study()
    s["settings"]["toy"]["ft"].update(epochs=30, patience=30)
    write_params(project / "params.yaml", s)
    snakemake = launch(
        project, ["snakemake", "--cores", "1", "--retries", "1", "runs/toy/ft/seed0"]
    )
    resume = project / "runs/resume/toy/ft/seed0/tau0.pt.resume"
    end = time.monotonic() + 120
    while not resume.exists() and snakemake.poll() is None and time.monotonic() < end:
        time.sleep(0.02)
    pid = job_pid(project.resolve(), "finetune")
    assert pid is not None, "no FT job was running"
    os.kill(pid, signal.SIGTERM)
    err = snakemake.communicate(timeout=300)[1]
    assert snakemake.returncode == 0, err[-3000:]
    assert "Trying to restart job" in err, err[-3000:]
    log = (project / "logs/finetune/toy/seed0.log").read_text()  # the second attempt's
    assert "resumed_from_epoch=" in log, log
    assert (project / "runs/toy/ft/seed0/tau1.pt").is_file() and not resume.exists()


def test_a_loader_worker_outlives_the_jobs_sigterm():
    """SLURM's SIGTERM reaches every process of a job, a DataLoader's workers included (a GPU
    job has four): they ignore it, so that the job can finish its batch and save its state."""
    loader = DataLoader(list(range(64)), batch_size=4, num_workers=1, worker_init_fn=worker_init_fn)
    batches = iter(loader)
    next(batches)
    os.kill(batches._workers[0].pid, signal.SIGTERM)
    time.sleep(0.5)
    assert sum(1 for _ in batches) == 15
