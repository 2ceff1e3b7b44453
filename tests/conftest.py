"""Shared fixtures: a tiny toy study, and a scratch project directory to run it in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# A resume file after every epoch (pipeline.engine.loop.resume_every), so that the interruption tests
# can stop a run at any epoch and find it there.
os.environ.setdefault("TASKHEAD_RESUME_EVERY", "0")
BIN = Path(sys.executable).parent

TINY = {
    "seed": 0,
    "seeds": [0],
    "replicate_pretrain": False,
    "device": "cpu",
    "taus": [0, 1, 2],
    "z_split": "train",
    "datasets": {
        "digits8": {"family": "classification", "dataset": "digits", "size": 8},
        "d012": {
            "family": "classification",
            "dataset": "digits012",
            "size": 8,
            "n_per_class": 60,
            "rotation": 30,
        },
    },
    "pretrain": {
        "mlp": {
            "family": "classification",
            "model": {"arch": "mlp", "depth": 2, "width": 32, "input_dim": 64},
            "data": "digits8",
            "epochs": 2,
            "lr": 0.5,
            "batch_size": 128,
            "weight_decay": 0.0,
        },
    },
    "imports": {},
    "settings": {
        "toy": {
            "pretrain": "mlp",
            "data": "d012",
            "head": {"kind": "linear"},
            "bn": "source",
            "hp": {"lr": 0.5},
            "ft": {"lr": 0.1, "epochs": 2, "patience": 2},
        },
        "toy_ls": {
            "pretrain": "mlp",
            "data": "d012",
            "head": {"kind": "linear"},
            "bn": "source",
            "hp": {"lr": 0.5, "eta": 0.9},
            "ft": {"lr": 0.1, "epochs": 2, "patience": 2},
        },
    },
    "exchange": {"toy": [0, 2]},
}


def tiny_study() -> dict:
    return yaml.safe_load(yaml.safe_dump(TINY))


def write_params(path: Path, study: dict) -> Path:
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty directory (stages write runs/ and results/ relative to the cwd)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(*args, cwd, check=True, env=None) -> subprocess.CompletedProcess:
    """`python -m pipeline ARGS` in `cwd`, with this venv's tools on PATH."""
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
    )
    if check and proc.returncode:
        raise AssertionError(f"pipeline {args} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def sh(cmd: list[str], cwd, check=True, env=None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=full_env)
    if check and proc.returncode:
        raise AssertionError(
            f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def dvc_ran(dvc_output: str) -> set[str]:
    """The stages a `dvc repro` ran, from its output."""
    return set(re.findall(r"Running stage '([^']+)'", dvc_output))


def to_run(cwd) -> set[str]:
    """The rules of the jobs a Snakemake dry run would run."""
    return set(re.findall(r"^rule (\w+):", sh(["snakemake", "-n"], cwd).stdout, re.M)) - {"all"}


@pytest.fixture
def project(tmp_path):
    """A scratch copy of the workflow (Snakefile, dvc.yaml, rules, and the package, whose
    code is a dependency of the stages) in a new git + DVC repo, with the tiny study as its
    params.yaml."""
    for name in (
        "Snakefile",
        "dvc.yaml",
        "workflow",
        "envs",
        ".gitignore",
        ".dvcignore",
        "pipeline",
        "requirements.txt",
    ):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, tmp_path / name)
    write_params(tmp_path / "params.yaml", {**tiny_study(), "seeds": [0, 1]})
    sh(["git", "init", "-q"], tmp_path)
    sh(["git", "config", "user.email", "t@example.org"], tmp_path)
    sh(["git", "config", "user.name", "test"], tmp_path)
    sh(["dvc", "init", "-q"], tmp_path)
    shutil.copy(ROOT / ".dvc" / "config", tmp_path / ".dvc" / "config")
    sh(["git", "add", "-A"], tmp_path)
    sh(["git", "commit", "-qm", "tiny study"], tmp_path)
    return tmp_path
