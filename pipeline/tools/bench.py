"""Benchmarks of the pipeline's cost goals, each as a ratio of two things measured in the same run.

    python -m pipeline bench [--pairs 3] [--setting resnet_digits] [--job-setting resnet_digits] [--full]

Every comparison runs the same work on both sides, as interleaved pairs (A B, B A, A B, ...:
the side that goes first alternates), after one untimed run of each side; it is reported as
the median and the range (min-max) of the per-pair ratios, with the number of pairs, and a
goal is MET when the median meets its target.

1. HP over the whole tau grid of `--setting` (a head saved at every tau) costs at most 1.05x
   one HP run of max-tau epochs: `probe.run` with the setting's grid against the same study
   with taus [max tau] only; seeds [0].
2. HP on cached features is at least 50x faster per epoch than HP through the frozen backbone,
   on a backbone of the paper's size: a ResNet50 at 224 px, 2 synthetic batches of 16 (the
   classification family's own `synthetic` data). An epoch through the backbone is the frozen
   backbone's forward pass plus the head step (`train_epoch` as `probe` runs it with
   augmentation, here without any, so that only the backbone differs); a cached epoch is the
   head step on the features `features` computed once (`cached_loader`). Same 32 samples.
3. A training job's fixed cost: `python -m pipeline finetune --setting JOB --seed 0` against
   `python -c "import torch"`. Fixed cost = the job's wall time - the training it reports (the
   sum of its per-epoch `secs=`, printed to 0.1 s: the toy's epochs, under 0.05 s, print as 0.0,
   hence a ResNet setting by default); target: wall / (import torch + training) at most 1.5.
   `python -c "import torch"` includes the interpreter's teardown, which a job skips (startup.py).
4. Seeds in one job against separate jobs: `finetune --seed 0 --seed 1 --seed 2` in one process
   against three one-seed processes (the same work; their reported training agrees); target:
   the three jobs cost at most 1.5x the one. Also the fixed-cost share (wall - training) / wall
   of a one-seed job. It depends on how much a job trains: `--job-epochs`.
5. Bookkeeping at paper scale: `dvc status` on the graph of studies/paper.yaml with a recorded
   lock (every output faked by a small file, then `dvc commit`), target at most 5 s; against
   the same graph with its stages reading params.yaml instead of results/params.json.
9. An FT epoch and a pretraining epoch of every workload of `--params` with the fast CPU
   paths (pipeline/runtime/speed.py) against the code they replaced (TASKHEAD_FAST=0), in this
   process: each new / old at most 0.6x (pipeline/tools/bench_epochs.py).
With --full: goals 6-8, one run each (not pairs: minutes on 2 cores). 6: the default study at
one seed through Snakemake in a scratch copy, cold, at most 300 s; 7: the fixed-cost share of
its job time (job wall - the stage's own work, pipeline/report/cost.py) at most 25%; 8: a warm run
(nothing to do) against the cold one.

Run it from the repository root; it works in a temporary directory and changes nothing here.
The jobs' study is written there as its params.yaml (so that its jobs write runs/, as the
stages run in this process do, not runs/NAME/): the two settings of the run params file, their
backbones imported from random weights (speed does not depend on them), FT of the job setting
at tau 0 for `--job-epochs` epochs without early stopping; its data are prepared there with
`python -m pipeline prepare`. Torch runs on `TASKHEAD_THREADS` threads (default 1), as a job.
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import yaml

from pipeline.tools.pairs import Summary, goal_line, interleave, spread, summarize

SECS = re.compile(r"\bsecs=([0-9.]+)")
SEEDS = [0, 1, 2]
BIG_BATCHES, BIG_BATCH = 2, 16  # goal 2: ResNet50 at 224 px


def timed_ratio(
    number: int,
    what: str,
    op: str,
    target: float,
    a: tuple[str, Callable[[], float]],
    b: tuple[str, Callable[[], float]],
    pairs: int,
    unit: str,
    scale: float,
) -> None:
    """One untimed call of each side (first-call costs), then interleaved pairs: the goal line
    for the ratio a / b, and each side's own times (times `scale`, in `unit`)."""
    (name_a, fa), (name_b, fb) = a, b
    fa()
    fb()
    runs = interleave(fa, fb, pairs)
    print(goal_line(number, what, op, target, summarize([ta / tb for ta, tb in runs])))
    print(
        f"    {name_a} {spread(summarize([scale * t for t, _ in runs]), unit)}; "
        f"{name_b} {spread(summarize([scale * t for _, t in runs]), unit)}"
    )


def training_secs(stderr: str) -> float:
    """The training a job reports: the sum of the `secs=` of its per-epoch progress lines."""
    return sum(float(s) for s in SECS.findall(stderr))


# ---- the scratch study --------------------------------------------------------------------


def scratch_study(raw: dict, setting: str, job_setting: str, job_epochs: int) -> dict:
    """The jobs' study: the two settings, their datasets, their backbones imported from random
    weights (random-NAME.pt); the job setting probed at tau 0 only and finetuned for
    `job_epochs` epochs without early stopping; seeds 0, 1, 2."""
    for name in (setting, job_setting):
        if name not in raw["settings"]:
            raise SystemExit(
                f"bench: expected a setting among {sorted(raw['settings'])}, found {name!r}"
            )
    backbones = {**raw.get("imports", {}), **raw.get("pretrain", {})}
    settings = {
        name: copy.deepcopy(raw["settings"][name]) for name in dict.fromkeys((setting, job_setting))
    }
    job = settings[job_setting]
    job["hp"] = {**job["hp"], "taus": [0]}
    # Fewer epochs: the study's z epochs would lie beyond them, so their default applies.
    job["ft"] = {k: v for k, v in job["ft"].items() if k != "z_epochs"}
    job["ft"] = {**job["ft"], "epochs": job_epochs, "patience": job_epochs}
    used = {s["pretrain"] for s in settings.values()}
    return {
        "seed": 0,
        "seeds": list(SEEDS),
        "replicate_pretrain": False,
        "device": "cpu",
        "taus": [0],
        "z_split": "train",
        "exchange": {},
        "pretrain": {},
        "datasets": {
            s["data"]: copy.deepcopy(raw["datasets"][s["data"]]) for s in settings.values()
        },
        "imports": {
            n: {
                "family": backbones[n]["family"],
                "model": backbones[n]["model"],
                "checkpoint": f"random-{n}.pt",
            }
            for n in sorted(used)
        },
        "settings": settings,
    }


def with_grid(study_raw: dict, setting: str, taus: list[int]) -> dict:
    """The study at seeds [0] with the setting's HP grid `taus`."""
    out = copy.deepcopy(study_raw)
    out["seeds"] = [0]
    out["settings"][setting]["hp"]["taus"] = list(taus)
    return out


@contextmanager
def inside(path: Path):
    back = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(back)


class Jobs:
    """`python -m pipeline` processes in the scratch directory, as Snakemake starts them."""

    def __init__(self, tmp: Path, root: Path, threads: str):
        from pipeline.params import PARAMS_ENV
        from pipeline.workflow.dvcsync import LEDGER_ENV

        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items() if k not in (LEDGER_ENV, PARAMS_ENV)}
        self.env["TASKHEAD_THREADS"] = threads
        self.env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(root), os.environ.get("PYTHONPATH")])
        )

    def run(self, *argv: str) -> tuple[float, float]:
        """(wall seconds of the process, training seconds it reports)."""
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, *argv], cwd=self.tmp, env=self.env, capture_output=True, text=True
        )
        wall = time.perf_counter() - t0
        if done.returncode:
            raise SystemExit(
                f"bench: {' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
            )
        return wall, training_secs(done.stderr)

    def stage(self, *argv: str) -> tuple[float, float]:
        return self.run("-m", "pipeline", "--params", "params.yaml", *argv)

    def import_torch(self) -> tuple[float, float]:
        return self.run("-c", "import torch")


def setup(tmp: Path, study_raw: dict, jobs: Jobs) -> None:
    import torch

    from pipeline.families import get_family
    from pipeline.io.atomic import save_torch

    (tmp / "params.yaml").write_text(yaml.safe_dump(study_raw, sort_keys=False))
    for imp in study_raw["imports"].values():
        family = get_family(imp["family"])
        torch.manual_seed(0)
        save_torch(
            tmp / imp["checkpoint"], family.backbone(family.ModelCfg(**imp["model"])).state_dict()
        )
    for dataset in study_raw["datasets"]:
        jobs.stage("prepare", "--dataset", dataset)
    for name in study_raw["imports"]:
        jobs.stage("pretrain", "--name", name)


# ---- the goals ----------------------------------------------------------------------------


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def goal_grid(study_raw: dict, setting: str, grid: list[int], pairs: int, rt) -> None:
    from pipeline.params import validate
    from pipeline.stages import probe

    whole = validate(with_grid(study_raw, setting, grid))
    one = validate(with_grid(study_raw, setting, [grid[-1]]))

    def a() -> float:
        return _timed(lambda: probe.run(whole, setting, rt))

    def b() -> float:
        return _timed(lambda: probe.run(one, setting, rt))

    timed_ratio(
        1,
        f"HP of {setting} over its grid {grid} (a head at every tau) / one HP run of {grid[-1]} epochs",
        "<=",
        1.05,
        ("grid", a),
        ("one run", b),
        pairs,
        " s",
        1,
    )


def goal_cached(pairs: int, rt) -> None:
    import torch

    from pipeline.engine.loop import (
        cached_loader,
        default_unpack,
        features,
        freeze,
        sgd,
        train_epoch,
    )
    from pipeline.families import get_family
    from pipeline.params import HeadCfg

    family = get_family("classification")
    data = family.DataCfg(dataset="stl10", size=224, channels=3)
    n = BIG_BATCHES * BIG_BATCH
    splits = family.splits(
        family.synthetic(data, {"train": n, "val": 2, "test": 2}, 10, 0), data, augment=False
    )
    model = family.ModelCfg(arch="resnet", depth=50, in_channels=3)
    torch.manual_seed(0)
    backbone, head = family.task_model(family.backbone(model), model, HeadCfg(), splits.num_outputs)
    backbone, head = freeze(rt.prepare(backbone)), rt.prepare(head)
    opt = sgd(head.parameters(), 0.05, 0.0)
    z, y = features(backbone, family.loader(splits.train_plain, BIG_BATCH, False, 0), family, rt)
    epoch = [0]

    def through() -> float:  # probe's per-epoch path with the backbone in the loop
        epoch[0] += 1
        head.train()
        loader = family.loader(splits.train_plain, BIG_BATCH, True, epoch[0])
        return _timed(
            lambda: train_epoch(lambda x: head(backbone(x)), loader, family, opt, 1.0, rt)
        )

    def cached() -> float:  # probe's per-epoch path on cached features
        epoch[0] += 1
        head.train()
        return _timed(
            lambda: train_epoch(
                head,
                cached_loader(z, y, BIG_BATCH, True, epoch[0]),
                family,
                opt,
                1.0,
                rt,
                unpack=default_unpack,
            )
        )

    timed_ratio(
        2,
        f"HP epoch through a frozen ResNet50 at 224 px / on its cached features ({n} samples, "
        f"batches of {BIG_BATCH})",
        ">=",
        50,
        ("through", through),
        ("cached", cached),
        pairs,
        " ms",
        1000,
    )


def goal_fixed(jobs: Jobs, job_setting: str, pairs: int) -> None:
    job = lambda: jobs.stage("finetune", "--setting", job_setting, "--seed", "0")
    runs = interleave(job, jobs.import_torch, pairs)
    s = summarize([wall / (imp + train) for (wall, train), (imp, _) in runs])
    print(
        goal_line(
            3,
            f"wall of a one-seed `finetune --setting {job_setting}` job / (import torch + its "
            f"training)",
            "<=",
            1.5,
            s,
        )
    )
    print(
        f"    fixed cost (wall - training) {spread(summarize([w - t for (w, t), _ in runs]), ' s')}; "
        f"`python -c 'import torch'` (its teardown included: a job skips its own) "
        f"{spread(summarize([i for _, (i, _) in runs]), ' s')}; "
        f"training {spread(summarize([t for (_, t), _ in runs]), ' s')}; "
        f"wall {spread(summarize([w for (w, _), _ in runs]), ' s')}"
    )


def goal_seeds(jobs: Jobs, job_setting: str, pairs: int) -> None:
    seeds = [a for seed in SEEDS for a in ("--seed", str(seed))]
    one = lambda: jobs.stage("finetune", "--setting", job_setting, *seeds)
    singles: list[tuple[float, float]] = []

    def separate() -> tuple[float, float]:
        runs = [
            jobs.stage("finetune", "--setting", job_setting, "--seed", str(seed)) for seed in SEEDS
        ]
        singles.extend(runs)
        return sum(w for w, _ in runs), sum(t for _, t in runs)

    runs = interleave(one, separate, pairs)
    s = summarize([sep / whole for (whole, _), (sep, _) in runs])
    print(
        goal_line(
            4,
            f"{len(SEEDS)} one-seed `finetune --setting {job_setting}` jobs / one job of seeds {SEEDS}",
            "<=",
            1.5,
            s,
        )
    )
    print(
        f"    same work: reported training, {len(SEEDS)} jobs / one job "
        f"{spread(summarize([ts / t1 for (_, t1), (_, ts) in runs if t1 > 0] or [float('nan')]))}"
    )

    def pct(s: Summary, of: str) -> str:
        return f"median {s.median:.0%} (range {s.lo:.0%}-{s.hi:.0%}, {s.n} {of})"

    print(
        f"    fixed-cost share (wall - training) / wall: one-seed job "
        f"{pct(summarize([(w - t) / w for w, t in singles]), 'jobs')}; job of {len(SEEDS)} seeds "
        f"{pct(summarize([(w - t) / w for (w, t), _ in runs]), 'jobs')}"
    )


def scratch_repo(root: Path, tmp: Path, params: Path) -> dict:
    """A git + DVC repository in `tmp` with this checkout's workflow and `params` as its
    params.yaml; returns the environment to run its tools in (this venv, this package)."""
    for name in (
        "Snakefile",
        "dvc.yaml",
        "workflow",
        "envs",
        "pipeline",
        ".gitignore",
        ".dvc",
        "requirements.txt",
    ):
        src = root / name
        if src.is_dir():
            shutil.copytree(src, tmp / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy(src, tmp / name)
    shutil.copy(params, tmp / "params.yaml")
    for state in ("cache", "tmp"):
        shutil.rmtree(tmp / ".dvc" / state, ignore_errors=True)
    subprocess.run(["git", "init", "-q"], cwd=tmp, check=True)
    return {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }


def run_tool(cmd: list[str], cwd: Path, env: dict) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(
            f"bench: {' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return time.perf_counter() - t0


def full_study(root: Path) -> None:
    """Goals 6-8: the default study at one seed through Snakemake in a scratch copy, cold, then
    warm (nothing changed); the fixed-cost share of its jobs (pipeline/report/cost.py, from the jobs'
    benchmark files and logs)."""
    from pipeline.report import cost

    with tempfile.TemporaryDirectory(prefix="taskhead-full-") as name:
        tmp = Path(name)
        env = scratch_repo(root, tmp, root / "params.yaml")
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            "2",
            "--resources",
            "gpu=0",
            "--config",
            "seeds=[0]",
        ]
        cold = run_tool(cmd, tmp, env)
        warm = run_tool(cmd, tmp, env)
        jobs, _ = cost.read(tmp / "benchmarks", tmp / "logs")
        share, known = cost.fixed_share(jobs), jobs.dropna(subset=["work_s", "s"])
    fixed = (known["s"] - known["work_s"]).sum()
    print(
        f"goal 6: the default study at one seed (`--config 'seeds=[0]'`), cold, target <= 300 s wall on 2 cores: "
        f"measured {cold:.0f} s {'MET' if cold <= 300 else 'NOT MET'} (1 run)"
    )
    print(
        f"goal 7: its fixed cost (job wall - the stage's own work) / job wall, target <= 25%: measured "
        f"{100 * share:.1f}% ({fixed:.0f} of {known['s'].sum():.0f} s over {len(known)} jobs) "
        f"{'MET' if share <= 0.25 else 'NOT MET'}"
    )
    print(
        f"goal 8: a warm run (nothing to do) / the cold run: {warm:.1f} s / {cold:.0f} s = {warm / cold:.3f}"
    )


def fake_outputs(tmp: Path) -> int:
    """A small file for every output of every DVC stage (a directory output gets one file in
    it), except those that exist: the lock `dvc commit` records then covers the whole graph."""
    from dvc.repo import Repo

    with Repo(str(tmp)) as repo:
        for stage in repo.index.stages:
            for out in stage.outs:
                path = Path(out.fs_path)
                if path.exists():
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                target = path if "." in path.name else path / "file"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(str(path))
        return len(repo.index.stages)


def goal_bookkeeping(root: Path, pairs: int) -> None:
    """Goal 5: `dvc status` on the paper profile's graph with a recorded lock, the stages reading
    their params from results/params.json (dvc.yaml), against the same graph reading them from
    params.yaml (what DVC parsed once per stage before)."""
    with tempfile.TemporaryDirectory(prefix="taskhead-dvc-") as name:
        sides = {}
        for side in ("json", "yaml"):
            tmp = Path(name) / side
            tmp.mkdir()
            env = scratch_repo(root, tmp, root / "studies" / "paper.yaml")
            if side == "yaml":
                (tmp / "dvc.yaml").write_text(
                    (tmp / "dvc.yaml").read_text().replace("results/params.json:", "params.yaml:")
                )
            run_tool([sys.executable, "-m", "pipeline", "check"], tmp, env)
            stages = fake_outputs(tmp)
            run_tool([sys.executable, "-m", "dvc", "commit", "-f", "-q"], tmp, env)
            sides[side] = lambda t=tmp, e=env: run_tool(
                [sys.executable, "-m", "dvc", "status", "-q"], t, e
            )
        sides["json"]()
        sides["yaml"]()
        runs = interleave(sides["json"], sides["yaml"], pairs)
    status = summarize([a for a, _ in runs])
    print(
        f"goal 5: `dvc status` on the paper profile's {stages} stages with a recorded lock, target <= 5 s: "
        f"measured {spread(status, ' s')} {'MET' if status.median <= 5 else 'NOT MET'}"
    )
    print(
        f"    the same graph reading its params from params.yaml: {spread(summarize([b for _, b in runs]), ' s')}; "
        f"results/params.json / params.yaml {spread(summarize([a / b for a, b in runs]))}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pipeline bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--pairs",
        type=int,
        default=3,
        help="interleaved pairs per goal (default 3: about 2.5 min on 2 cores)",
    )
    ap.add_argument(
        "--setting", default="resnet_digits", help="goal 1's setting (default resnet_digits)"
    )
    ap.add_argument(
        "--job-setting", default="resnet_digits", help="goals 3-4's setting (default resnet_digits)"
    )
    ap.add_argument(
        "--job-epochs", type=int, default=3, help="FT epochs of a job in goals 3-4 (default 3)"
    )
    ap.add_argument(
        "--goals", default="1,2,3,4,5,9", help="which goals to measure (default 1,2,3,4,5,9)"
    )
    ap.add_argument("--params", default="params.yaml", help="the study the settings come from")
    ap.add_argument(
        "--out",
        help="also write what it prints to this Markdown file (the README quotes docs/bench.md)",
    )
    ap.add_argument(
        "--full",
        action="store_true",
        help="also goals 6-8: the default study at one seed, cold then "
        "warm, and its fixed-cost share (minutes)",
    )
    args = ap.parse_args(argv)
    if args.pairs < 1 or args.job_epochs < 1:
        ap.error("--pairs and --job-epochs: expected at least 1")
    printed = io.StringIO()
    with redirect_stdout(Tee(sys.stdout, printed)):
        run_goals(args)
    if args.out:
        from pipeline.io.atomic import write_text

        command = " ".join(
            ["python -m pipeline bench", *(argv if argv is not None else sys.argv[1:])]
        )
        write_text(args.out, report(command, printed.getvalue()))
    return 0


def report(command: str, printed: str) -> str:
    """docs/bench.md: the goal lines as a list (the README quotes them), then all it printed."""
    goals = [line for line in printed.splitlines() if line.startswith("goal ")]
    from pipeline.runtime.machine import describe, machine

    return (
        f"# Benchmark\n\n`{command}`, one run, on {describe(machine())}.\n\n## Goals\n\n"
        + "".join(f"- {line}\n" for line in goals)
        + f"\n## Everything it printed\n\n```\n{printed.strip()}\n```\n"
    )


class Tee(io.TextIOBase):
    """Writes to several streams at once."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


def run_goals(args) -> None:
    goals = {int(g) for g in args.goals.split(",") if g.strip()}
    root = Path.cwd()
    from pipeline.params import read_raw
    from pipeline.runtime.device import runtime

    threads = os.environ.get("TASKHEAD_THREADS", "1")
    os.environ["TASKHEAD_THREADS"] = threads
    rt = runtime("cpu")  # the job's own CPU runtime: TASKHEAD_THREADS threads, no torch compiler
    raw = read_raw(root / args.params)
    study_raw = scratch_study(raw, args.setting, args.job_setting, args.job_epochs)
    from pipeline.runtime.machine import describe, machine

    print(
        f"bench: {args.pairs} interleaved pair(s) per goal, torch on {threads} thread(s), CPU; "
        f"ratios of times measured in this run",
        flush=True,
    )
    print(f"machine: {describe(machine())}")
    print(f"load average at the start (1, 5, 15 min): {_load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="taskhead-bench-") as name:
        tmp = Path(name)
        jobs = Jobs(tmp, root, threads)
        if goals & {1, 2, 3, 4}:
            setup(tmp, study_raw, jobs)
        with inside(tmp), redirect_stderr(io.StringIO()):  # the stages' progress lines
            if 1 in goals:
                # the setting's grid
                grid = raw["settings"][args.setting]["hp"].get("taus") or raw["taus"]
                goal_grid(study_raw, args.setting, list(grid), args.pairs, rt)
            if 2 in goals:
                goal_cached(args.pairs, rt)
        if 9 in goals:
            from pipeline.tools.bench_epochs import goal_epochs

            (tmp / "epochs").mkdir()
            with inside(tmp / "epochs"):
                goal_epochs(root / args.params, args.pairs, rt, tmp / "epochs")
        if goals & {3, 4}:
            jobs.stage("probe", "--setting", args.job_setting)  # the tau-0 heads FT starts from
            jobs.stage("finetune", "--setting", args.job_setting, "--seed", "0")
            jobs.import_torch()  # untimed
        if 3 in goals:
            goal_fixed(jobs, args.job_setting, args.pairs)
        if 4 in goals:
            goal_seeds(jobs, args.job_setting, args.pairs)
    if 5 in goals:
        goal_bookkeeping(root, args.pairs)
    if args.full:
        full_study(root)
    print(f"load average at the end (1, 5, 15 min): {_load()}", flush=True)


def _load() -> str:
    """The machine's load average: other processes share the cores the timings ran on."""
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
