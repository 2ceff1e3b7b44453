"""Goal 9 of pipeline.tools.bench: an FT epoch and a pretraining epoch of every workload of the study,
with the fast paths (pipeline/runtime/speed.py) against the code they replaced (TASKHEAD_FAST=0),
in one process, as interleaved pairs.

A workload is what decides an epoch's cost: for FT, the backbone, the downstream data, the
head, the batch and the augmentation (a setting and its label-smoothed or `bn` companions
share one, and are named with it); for pretraining, each backbone the study trains. One
side of a pair is `loop.fit` for EPOCHS epochs (training, validation and the resume file
it writes at its end, as a job runs them) on a model built afresh from the same seed, on
the study's prepared data (built here, in the scratch directory), on the job's CPU runtime.
The goal: each workload's new / old time at most 0.6x.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

EPOCHS = 2
TARGET = 0.6


def workloads(study) -> dict[str, dict]:
    """label -> {kind, name, covers}: one FT entry per distinct FT workload (named after its
    first setting), one pretraining entry per trained backbone."""
    out, seen = {}, {}
    for name, s in study.settings.items():
        key = json.dumps(
            [s.pretrain, s.data, s.head.model_dump(), s.ft.batch_size, s.ft.augment],
            sort_keys=True,
        )
        if key in seen:
            out[seen[key]]["covers"].append(name)
            continue
        seen[key] = label = f"FT {name}"
        out[label] = {"kind": "ft", "name": name, "covers": [name]}
    for name in study.pretrain:
        out[f"pretraining {name}"] = {"kind": "pretrain", "name": name, "covers": [name]}
    return out


def prepare_data(study, names) -> None:
    """Every dataset the workloads read, built once into runs/data/ of the working directory."""
    from pipeline.families import get_family
    from pipeline.io import paths
    from pipeline.io.artifacts import save_prepared

    for name in names:
        family = get_family(study.datasets[name]["family"])
        cfg = family.DataCfg(**study.data_cfg(name))
        with contextlib.redirect_stderr(io.StringIO()):
            save_prepared(paths.dataset(name), family.name, family.prepare(cfg, study.seed))


def datasets_of(study, loads: dict[str, dict]) -> list[str]:
    return sorted(
        {
            study.settings[w["name"]].data if w["kind"] == "ft" else study.pretrain[w["name"]].data
            for w in loads.values()
        }
    )


def epoch_runner(study, load: dict, rt, scratch: Path):
    """A function that trains the workload from scratch for EPOCHS epochs; returns seconds."""
    from pipeline.engine.loop import TaskModel, Training, fit
    from pipeline.engine.setting import Setting
    from pipeline.families import get_family
    from pipeline.io.artifacts import read_prepared

    if load["kind"] == "ft":
        ctx = Setting(study, load["name"], study.seeds[0])
        family, model_cfg, data_cfg = ctx.family, ctx.model_cfg, ctx.data_cfg
        cfg, data = ctx.cfg.ft, ctx.cfg.data

        def parts(n):
            return family.task_model(family.backbone(model_cfg), model_cfg, ctx.cfg.head, n)
    else:
        cfg = study.pretrain[load["name"]]
        family, data = get_family(cfg.family), cfg.data
        model_cfg, data_cfg = family.ModelCfg(**cfg.model), family.DataCfg(**study.data_cfg(data))

        def parts(n):
            return family.backbone(model_cfg), family.pretrain_head(model_cfg, n)

    splits = family.splits(
        read_prepared(Path("runs/data") / f"{data}.pt", family.name), data_cfg, cfg.augment
    )
    training = replace(Training.of(cfg), epochs=EPOCHS)
    resume = scratch / f"resume-{load['name']}.pt"

    def run() -> float:
        resume.unlink(missing_ok=True)
        torch.manual_seed(0)
        model = rt.prepare(TaskModel(*parts(splits.num_outputs)))
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):
            fit(
                model,
                family,
                splits,
                rt,
                training,
                seed=0,
                resume=resume,
                key=["bench"],
                stage="bench",
            )
        return time.perf_counter() - t0

    return run


def goal_epochs(params: Path, pairs: int, rt, scratch: Path, number: int = 9) -> None:
    """Print one goal line per workload: new / old time of EPOCHS epochs, interleaved pairs
    after one untimed run of each side; then each side's seconds and old / new."""
    from pipeline.params import read_raw, validate
    from pipeline.runtime.speed import fast_paths
    from pipeline.tools.pairs import goal_line, interleave, spread, summarize

    study = validate(read_raw(params), str(params), check_files=False)
    loads = workloads(study)
    prepare_data(study, datasets_of(study, loads))
    for label, load in loads.items():
        run = epoch_runner(study, load, rt, scratch)

        def old(run=run) -> float:
            with fast_paths(False):
                return run()

        def new(run=run) -> float:
            with fast_paths(True):
                return run()

        old()
        new()
        runs = interleave(new, old, pairs)
        what = (
            f"{label} ({', '.join(load['covers'])}): {EPOCHS} epochs, fast paths / TASKHEAD_FAST=0"
        )
        print(goal_line(number, what, "<=", TARGET, summarize([n / o for n, o in runs])))
        print(
            f"    new {spread(summarize([n for n, _ in runs]), ' s')}; old "
            f"{spread(summarize([o for _, o in runs]), ' s')}; speed-up old / new "
            f"{spread(summarize([o / n for n, o in runs]))}",
            flush=True,
        )
