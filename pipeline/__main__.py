"""`python -m pipeline STAGE ...`: the command line that Snakemake and DVC call.

`python -m pipeline COMMAND ...` also runs the commands outside the job graph (COMMANDS:
`bench`, `readme`, `verdicts`, `launch` and the rest), each a module with its own options.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

from pipeline.errors import PipelineError
from pipeline.params import PARAMS_ENV


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage is in --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m pipeline",
        description=__doc__,
        epilog="commands outside the job graph: " + ", ".join(COMMANDS),
    )
    p.add_argument(
        "--params",
        default=os.environ.get(PARAMS_ENV, "params.yaml"),
        help=f"the study's params file (default: ${PARAMS_ENV}, else params.yaml)",
    )
    sub = p.add_subparsers(dest="stage", required=True)
    sub.add_parser("validate", help="check params.yaml and exit")
    sub.add_parser(
        "check",
        help="validate the params, then write the study with its defaults (results/params.json, "
        "DVC's params) and each stage's code fingerprint (results/code/)",
    )
    sub.add_parser("prepare", help="build one dataset once").add_argument(
        "--dataset", required=True
    )
    sub.add_parser(
        "fetch", help="download an imported checkpoint (or check it is there)"
    ).add_argument("--name", required=True)
    s = sub.add_parser(
        "pretrain", help="PT: train or load one backbone (default: at every pretraining seed)"
    )
    s.add_argument("--name", required=True)
    s.add_argument(
        "--seed", type=int, action="append", help="a pretraining seed of the study (repeatable)"
    )
    sub.add_parser("probe", help="HP: one run per setting, heads saved at every tau").add_argument(
        "--setting", required=True
    )
    s = sub.add_parser(
        "finetune", help="FT of a setting at the given taus (default: every tau of its grid)"
    )
    s.add_argument("--setting", required=True)
    s.add_argument(
        "--tau", type=int, action="append", help="a tau of the setting's grid (repeatable)"
    )
    s.add_argument(
        "--seed", type=int, action="append", help="a replicate seed of the study (repeatable)"
    )
    sub.add_parser(
        "evaluate", help="scores, energy and z metrics of a setting at every tau"
    ).add_argument("--setting", required=True)
    sub.add_parser("exchange", help="head exchange heat-map of one setting").add_argument(
        "--setting", required=True
    )
    sub.add_parser("aggregate", help="summary.csv, tables, metrics.json and plots")
    sub.add_parser("advise", help="advice.md: the paper's user guide applied to the results")
    c = sub.add_parser("compare", help="Table 1 of two revisions and their deltas")
    c.add_argument("rev_a", nargs="?", default="HEAD")
    c.add_argument(
        "rev_b", nargs="?", default="WORKTREE", help="a git revision, or WORKTREE (default)"
    )
    g = sub.add_parser(
        "gpus", help="print how many CUDA devices this machine has (the driver's count: no torch)"
    )
    g.add_argument(
        "--torch", action="store_true", help="ask torch instead (slower: it imports torch and CUDA)"
    )
    sub.add_parser("targets", help="list the final files of the study, one per line")
    i = sub.add_parser("init", help="write a commented study file for your own data and backbone")
    i.add_argument(
        "--data", required=True, help="the data folder (imagefolder, maskfolder) or CSV file"
    )
    i.add_argument("--kind", required=True, choices=["imagefolder", "maskfolder", "csv"])
    i.add_argument("--backbone", required=True, help="timm:NAME, resnet10/18/34/50, or gcn (csv)")
    i.add_argument(
        "--weights", required=True, help="the backbone's pretrained weights: a file or a URL"
    )
    i.add_argument("--out", default="study.yaml")
    return p


# Stages that end once their outputs are written (pipeline.io.atomic: closed, then renamed):
# run as `python -m pipeline`, they exit without the interpreter's teardown (startup.exit_now).
FAST_EXIT = ("pretrain", "probe", "finetune", "evaluate", "exchange")


# Commands outside the job graph: name -> the module that runs it (`python -m pipeline NAME --help`).
COMMANDS = {
    "bench": "pipeline.tools.bench",
    "envfile": "pipeline.tools.envfile",
    "gpu_check": "pipeline.tools.gpu_check",
    "gpu_hours": "pipeline.tools.gpu_hours",
    "halving_replay": "pipeline.tools.halving_replay",
    "power": "pipeline.tools.power",
    "pretrained": "pipeline.tools.drift",
    "readme": "pipeline.tools.readme",
    "verdicts": "pipeline.tools.verdicts",
    "report": "pipeline.report.page",
    "launch": "pipeline.workflow.launch",
    "driverlock": "pipeline.workflow.driverlock",
    "dvcsync": "pipeline.workflow.dvcsync",
}


def run_command(name: str, argv: list[str]) -> None:
    """Run a command of COMMANDS as its module's `__main__`, with `argv` as its arguments."""
    import runpy

    sys.argv = [f"python -m pipeline {name}", *argv]
    runpy.run_module(COMMANDS[name], run_name="__main__", alter_sys=True)


def main(argv=None, fast_exit: bool = False) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        run_command(argv[0], argv[1:])
        return 0
    args = _parser().parse_args(argv)
    try:
        status = _dispatch(args)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if status == 0:
        from pipeline.workflow.dvcsync import note

        note(args.stage, args)  # under Snakemake: the DVC stage to commit when the run ends
    if fast_exit and status == 0 and args.stage in FAST_EXIT:
        from pipeline.runtime.startup import exit_now

        exit_now(status)
    return status


def _dispatch(args) -> int:
    if args.stage == "gpus":
        if args.torch:
            import torch

            print(torch.cuda.device_count() if torch.cuda.is_available() else 0)
        else:
            from pipeline.runtime.device import visible_gpus

            print(visible_gpus())
        return 0
    if args.stage == "init":
        from pipeline.tools.new_study import run

        run(args.data, args.kind, args.backbone, args.weights, args.out)
        return 0
    if args.stage == "compare":
        from pipeline.tools import compare

        compare.run(args.rev_a, args.rev_b)
        return 0
    from pipeline import params
    from pipeline.io import paths

    study = params.load(args.params)
    paths.use(paths.study_folder(args.params, study.name))  # an own study's folders
    if args.stage == "validate":
        print(
            f"{args.params}: ok ({len(study.pretrain)} pretrain, {len(study.settings)} settings, "
            f"taus {study.taus})"
        )
        return 0
    if args.stage == "check":
        from pipeline.workflow import checkfiles

        # DVC reads every stage's params from results/params.json: JSON (parsed once per
        # stage in C, where YAML would be parsed in Python), with every default written out.
        checkfiles.write(study)
        return 0
    if args.stage == "targets":
        from pipeline.workflow.targets import final_targets

        print("\n".join(str(t) for t in final_targets(study)))
        return 0
    for name, pool in (
        ("setting", study.settings),
        ("name", study.backbones),
        ("dataset", study.datasets),
    ):
        value = getattr(args, name, None)
        if value is not None and value not in pool:
            raise PipelineError(
                f"{args.params}: expected a {name} among {sorted(pool)}, found {value!r}"
            )
    allowed = study.pretrain_seeds if args.stage == "pretrain" else study.seeds
    for seed in getattr(args, "seed", None) or []:
        if seed not in allowed:
            raise PipelineError(
                f"{args.params}: expected --seed {seed} among the study's seeds {allowed}"
            )
    for tau in getattr(args, "tau", None) or []:
        grid = study.taus_of(args.setting)
        if tau not in grid:
            raise PipelineError(
                f"{args.params}: settings.{args.setting}: expected --tau {tau} in its grid {grid}"
            )
    import importlib

    # Only the stage that runs is imported: exchange's pandas and matplotlib stay out of
    # the training jobs.
    stage = importlib.import_module(f"pipeline.stages.{args.stage}")
    _import_family(study, args)
    if args.stage in ("aggregate", "advise", "prepare", "fetch"):
        if args.stage == "prepare":
            from pipeline.runtime.device import job_threads

            job_threads()  # torch's threads: those Snakemake reserved, as in a training job
        with work(args.stage):
            if args.stage in ("aggregate", "advise"):
                stage.run(study)
            elif args.stage == "prepare":
                stage.run(study, args.dataset)
            else:
                stage.run(study, args.name)
        return 0
    from pipeline.runtime.device import runtime

    rt = runtime(study.device)
    with work(args.stage):
        if args.stage == "pretrain":
            stage.run(study, args.name, args.seed or study.pretrain_seeds, rt)
        elif args.stage == "finetune":
            stage.run(
                study,
                args.setting,
                args.seed or study.seeds,
                args.tau or study.taus_of(args.setting),
                rt,
            )
        else:  # probe, evaluate, exchange
            stage.run(study, args.setting, rt)
    return 0


def _import_family(study, args) -> None:
    """Import the job's family module (and its libraries: RDKit, PyG, smp) before `work`
    starts: imports are part of a job's fixed cost."""
    from pipeline.families import get_family

    if getattr(args, "dataset", None):
        get_family(study.datasets[args.dataset]["family"])
    elif getattr(args, "setting", None):
        get_family(study.datasets[study.settings[args.setting].data]["family"])
    elif getattr(args, "name", None):
        get_family(study.backbones[args.name].family)


@contextlib.contextmanager
def work(stage: str):
    """Print the seconds of the stage's own work, `[STAGE] work_s=...`: a job's fixed cost
    (interpreter start, imports, params, exit) is its wall time minus these (pipeline/report/cost.py);
    then the machine and the job's own CPU time, wall time and steal (pipeline/runtime/machine.py)."""
    from pipeline.runtime.machine import Usage, job_lines

    usage, t0 = Usage(), time.perf_counter()
    yield
    print(f"[{stage}] work_s={time.perf_counter() - t0:.3f}", file=sys.stderr, flush=True)
    print("\n".join(job_lines(usage)), file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(fast_exit=True))
