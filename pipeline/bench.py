"""Benchmarks, printed as ratios measured in the same run (absolute times here are noisy).

    python -m pipeline.bench [--setting resnet_digits] [--full]

1. HP over the whole tau grid of a setting costs at most 1.2x one HP run of max-tau epochs.
2. HP from cached features is at least 10x faster than HP through the frozen backbone.
3. Molecule featurisation speed (RDKit parsing + OGB's smiles2graph), molecules/s.
4. With --full: the default study, cold then warm (`snakemake --cores 2` in a scratch copy).
Run it from the repository root; it works in a temporary directory and changes nothing here.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from .device import Runtime
from .params import load
from .stages import prepare, pretrain, probe

ROOT = Path.cwd()


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _with(study, **changes):
    return study.model_copy(update=changes)


def hp_ratios(setting: str, epochs_uncached: int) -> None:
    study = load(ROOT / "params.yaml")
    cpu = Runtime(torch.device("cpu"))
    cfg = study.settings[setting]
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        prepare.run(study, cfg.data)
        pre = study.backbones[cfg.pretrain]
        if cfg.pretrain in study.pretrain:
            prepare.run(study, pre.data)
        pretrain.run(_with(study, pretrain={cfg.pretrain: pre.model_copy(update={"epochs": 1})}),
                     cfg.pretrain, cpu)
        grid = _timed(lambda: probe.run(study, setting, cpu))
        single = _timed(lambda: probe.run(_with(study, taus=[study.taus[-1]]), setting, cpu))
        print(f"HP over the grid {study.taus}: {grid:.2f} s; one HP run of {study.taus[-1]} epochs: {single:.2f} s; "
              f"ratio {grid / single:.2f} (target <= 1.2)")
        through = _with(study, settings={**study.settings, setting: cfg.model_copy(
            update={"hp": cfg.hp.model_copy(update={"augment": True})})})
        times = {}
        for name, s in (("cached", study), ("through", through)):
            for e in (epochs_uncached // 4, epochs_uncached):
                times[name, e] = _timed(lambda: probe.run(_with(s, taus=[0, e]), setting, cpu))
        lo, hi = epochs_uncached // 4, epochs_uncached
        per_epoch = {n: (times[n, hi] - times[n, lo]) / (hi - lo) for n in ("cached", "through")}
        print(f"HP run of {hi} epochs: from cached features {times['cached', hi]:.2f} s, through the backbone "
              f"{times['through', hi]:.2f} s; speed-up {times['through', hi] / times['cached', hi]:.1f}x "
              f"(target >= 10x)")
        print(f"HP per epoch (slope between {lo} and {hi} epochs): cached {1000 * per_epoch['cached']:.1f} ms, "
              f"through the backbone {1000 * per_epoch['through']:.1f} ms; "
              f"speed-up {per_epoch['through'] / per_epoch['cached']:.1f}x")
        os.chdir(ROOT)


def full_study() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("Snakefile", "dvc.yaml", "workflow", "params.yaml", ".gitignore", ".dvc"):
            src = ROOT / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, Path(tmp) / name)
        shutil.rmtree(Path(tmp) / ".dvc" / "cache", ignore_errors=True)
        subprocess.run(["git", "init", "-q"], cwd=tmp, check=True)
        cmd = ["snakemake", "--cores", "2"]
        cold = _timed(lambda: subprocess.run(cmd, cwd=tmp, check=True, capture_output=True))
        warm = _timed(lambda: subprocess.run(cmd, cwd=tmp, check=True, capture_output=True))
        print(f"default study: cold {cold:.0f} s, warm (nothing changed) {warm:.1f} s; "
              f"warm / cold {warm / cold:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setting", default="resnet_digits")
    ap.add_argument("--epochs", type=int, default=32, help="epochs for the cached / uncached comparison")
    ap.add_argument("--full", action="store_true", help="also time the whole default study, cold and warm")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("TASKHEAD_THREADS", "1")))  # as each Snakemake job
    hp_ratios(args.setting, args.epochs)
    from .data.molecules import featurisation_rate

    print(f"featurisation: {featurisation_rate(2000):.0f} molecules/s (parse + smiles2graph, 2,000 NCI SMILES)")
    if args.full:
        full_study()


if __name__ == "__main__":
    main()
