"""results/cost.md: what the study cost, from Snakemake's per-job `benchmark:` files.

Every rule writes one TSV under benchmarks/ (workflow/rules/study.smk). A file's first path
component is its stage, the rest (without `.tsv`) its job: benchmarks/probe/S.tsv is job `S`
of `probe`, benchmarks/finetune/S/seed0.tsv job `S/seed0` of `finetune`, a file at the top
(benchmarks/aggregate.tsv) the one job of its stage. From Snakemake's columns we take
`s` (wall seconds), `cpu_time` (CPU seconds, user + system of the job's processes) and
`max_rss` (peak resident memory, MiB); "NA" or "-" (too short to measure) counts as unknown
and adds nothing to a sum. A file of several rows (`benchmark: repeat(...)`) is one job
that ran that many times: its seconds are summed, its memory is the largest.

Family: the study's family of the setting (probe, finetune, evaluate, exchange: the job's
first component), backbone (pretrain), dataset (prepare) or imported checkpoint (fetch) the
job names; "-" without a study, for a stage-level job, or for a name the study lacks.
With a study, only its jobs count: files of settings, backbones or datasets no longer in the
study (left by older runs) are left out, and the report says how many. Below the first
component, a job of the study is `seedN` (benchmarks/finetune/S/seed0.tsv,
benchmarks/pretrain/NAME/seed0.tsv) with N among the study's `seeds` (pretrain: its
`pretrain_seeds`); any other sub-name (the older per-tau layout, tauN) or seed is left out.

Device: the jobs do not record theirs yet, so a job is a "cpu" job unless its file says
otherwise, in a `device` column ("cuda..." or "gpu..." means "gpu") or, in Snakemake's
`--benchmark-extended` format, a `resources` column that reserves `gpu` > 0 (the rules ask
for gpu=1 exactly where a GPU is used). GPU-hours are the wall hours of the gpu jobs (one
device per job); CPU-hours are `cpu_time` of all jobs, in hours.

The machine and the job's own measure: each training job also prints the machine it ran on
and its own CPU time (`resource.getrusage`, which Snakemake's sampled `cpu_time` undercounts),
its wall time, their ratio and the machine's steal over its work (pipeline/runtime/machine.py) to its
log; a "Machine" section names every machine the jobs ran on, and a per-stage table gives the
jobs' CPU / wall ratio and steal.

Fixed cost: each job prints the seconds of its stage's own work (`work_s=`, pipeline/__main__.py)
to its log, logs/STAGE/JOB.log beside benchmarks/STAGE/JOB.tsv; a job's fixed cost is its wall
time minus that work: the interpreter's start, the imports, reading the params, and the exit.

The aggregate stage writes `markdown(Path("benchmarks"), study)` to results/cost.md. A run that
records no benchmarks (`dvc repro`) gets a one-line file that says so.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipeline.runtime import machine

# stage -> which names of the study its jobs are named after (first path component)
KIND = {
    "probe": "setting",
    "finetune": "setting",
    "evaluate": "setting",
    "exchange": "setting",
    "pretrain": "backbone",
    "prepare": "dataset",
    "fetch": "checkpoint",
}
GPU_RESOURCE = re.compile(r"""['"]?gpu['"]?\s*[:=]\s*(\d+)""")
OWN = ["job_wall_s", "job_cpu_s", "steal_share", "threads", "machine"]  # from the job's log
COLUMNS = ["stage", "job", "family", "device", "s", "cpu_time", "max_rss", "work_s", *OWN]
WORK = re.compile(r"\bwork_s=([0-9.]+)")


def work_seconds(log: Path) -> float:
    """The last `work_s=` a job printed to its log (NaN if none: an older or failed job)."""
    try:
        found = WORK.findall(log.read_text(errors="replace"))
    except OSError:
        return float("nan")
    return float(found[-1]) if found else float("nan")


def own_record(log: Path) -> dict:
    """The job's own measure from its log (pipeline/runtime/machine.py): OWN's keys, NaN / "" where
    the log has none (an older or failed job, or a stage that prints none)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        text = ""
    usage = machine.last_record(text, machine.USAGE_TAG) or {}
    found = machine.last_record(text, machine.MACHINE_TAG)
    nan = float("nan")
    return {
        "job_wall_s": usage.get("wall_s", nan),
        "job_cpu_s": usage.get("cpu_s", nan),
        "steal_share": usage.get("steal_share", nan),
        "threads": found.get("threads", nan) if found else nan,
        "machine": machine.describe(found) if found else "",
    }


def _device(table: pd.DataFrame) -> str:
    if "device" in table.columns:
        values = table["device"].dropna().astype(str).str.lower()
        return "gpu" if values.str.startswith(("cuda", "gpu")).any() else "cpu"
    if "resources" in table.columns:
        gpus = [
            int(m.group(1))
            for v in table["resources"].dropna().astype(str)
            for m in GPU_RESOURCE.finditer(v)
        ]
        return "gpu" if any(gpus) else "cpu"
    return "cpu"


def read(bench_dir: Path, log_dir: Path = Path("logs")) -> tuple[pd.DataFrame, list[str]]:
    """One row per benchmark file (columns COLUMNS, family "-"; `work_s` from the job's log
    under `log_dir`), and the files that could not be read (empty, or without Snakemake's `s`)."""
    rows, bad = [], []
    files = sorted(Path(bench_dir).rglob("*.tsv")) if Path(bench_dir).is_dir() else []
    for path in files:
        rel = path.relative_to(bench_dir)
        parts = rel.with_name(rel.name.removesuffix(".tsv")).parts
        stage, job = (parts[0], "/".join(parts[1:])) if len(parts) > 1 else (parts[0], "")
        try:
            table = pd.read_csv(path, sep="\t", na_values=["NA", "-"], keep_default_na=True)
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
            table = None
        if table is None or table.empty or "s" not in table.columns:
            bad.append(str(rel))
            continue
        num = lambda col, table=table: (
            pd.to_numeric(table[col], errors="coerce")
            if col in table.columns
            else pd.Series(dtype=float)
        )
        rows.append(
            {
                "stage": stage,
                "job": job,
                "family": "-",
                "device": _device(table),
                "s": num("s").sum(min_count=1),
                "cpu_time": num("cpu_time").sum(min_count=1),
                "max_rss": num("max_rss").max(),
                "work_s": work_seconds(Path(log_dir) / rel.with_suffix(".log")),
                **own_record(Path(log_dir) / rel.with_suffix(".log")),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS), bad


def _names(study) -> dict[str, dict[str, str]]:
    """kind -> name -> family, for the names a job can carry."""
    return {
        "setting": {
            s: study.datasets[c.data].get("family", "-") for s, c in study.settings.items()
        },
        "backbone": {n: b.family for n, b in study.backbones.items()},
        "dataset": {d: v.get("family", "-") for d, v in study.datasets.items()},
        "checkpoint": {imp.checkpoint: imp.family for imp in study.imports.values()},
    }


def _seeds(study, stage: str) -> set[int]:
    """The replicate seeds of a stage's jobs (the study's `seed` where it has no `seeds`)."""
    seeds = getattr(study, "pretrain_seeds" if stage == "pretrain" else "seeds", None)
    seeds = seeds() if callable(seeds) else seeds
    return set(seeds if seeds is not None else [getattr(study, "seed", 0)])


def family_of(
    stage: str, job: str, names: dict[str, dict[str, str]], seeds: set[int] | None = None
) -> str | None:
    """The family of a job of the study, "-" for a stage-level job, None for a job the
    study lacks. A stage not in KIND is looked up among settings, backbones, datasets.
    Below the name, only `seedN` with N in `seeds` (when given) is the study's."""
    if not job:
        return "-"
    kind = KIND.get(stage)
    key, _, rest = (job, "", "") if kind == "checkpoint" else job.partition("/")
    if rest:
        seed = re.fullmatch(r"seed(\d+)", rest)
        if seed is None or (seeds is not None and int(seed.group(1)) not in seeds):
            return None
    for k in [kind] if kind else ["setting", "backbone", "dataset"]:
        if key in names[k]:
            return names[k][key]
    return None


def fixed_share(jobs: pd.DataFrame) -> float:
    """Fixed cost / wall time, summed over the jobs whose work is known (NaN if none)."""
    known = jobs[jobs["work_s"].notna() & jobs["s"].notna()]
    return (
        float((known["s"] - known["work_s"]).sum() / known["s"].sum())
        if len(known)
        else float("nan")
    )


def _table(jobs: pd.DataFrame, by: str) -> str:
    g = jobs.groupby(by, sort=True)
    df = pd.DataFrame(
        {
            "jobs": g.size(),
            "wall s": g["s"].sum(min_count=1),
            "CPU s": g["cpu_time"].sum(min_count=1),
            "peak RSS (MiB)": g["max_rss"].max(),
            "fixed %": g[["s", "work_s"]].apply(fixed_share) * 100,
        }
    )
    cells = pd.DataFrame(
        {
            "jobs": df["jobs"].map(str),
            **{
                c: df[c].map(lambda v: "n/a" if pd.isna(v) else f"{v:.1f}")
                for c in ("wall s", "CPU s", "peak RSS (MiB)", "fixed %")
            },
        },
        index=df.index,
    )
    return cells.to_markdown(
        disable_numparse=True, colalign=("left",) + ("right",) * len(cells.columns)
    )


def _own_table(jobs: pd.DataFrame) -> str:
    """Per stage, over the jobs that logged their own measure: CPU s, wall s, CPU / wall,
    threads, and the machine's steal as a share of its CPU time (median and largest)."""
    own = jobs[jobs["job_cpu_s"].notna() & jobs["job_wall_s"].notna()]
    g = own.groupby("stage", sort=True)
    fmt = lambda v, f: "n/a" if pd.isna(v) else format(v, f)
    cells = pd.DataFrame(
        {
            "jobs": g.size().map(str),
            "CPU s": g["job_cpu_s"].sum().map(lambda v: fmt(v, ".1f")),
            "wall s": g["job_wall_s"].sum().map(lambda v: fmt(v, ".1f")),
            "CPU / wall": (g["job_cpu_s"].sum() / g["job_wall_s"].sum()).map(
                lambda v: fmt(v, ".2f")
            ),
            "threads": g["threads"].agg(
                lambda t: "/".join(str(int(v)) for v in sorted(set(t.dropna()))) or "n/a"
            ),
            "steal % (median)": g["steal_share"].median().map(lambda v: fmt(100 * v, ".1f")),
            "steal % (max)": g["steal_share"].max().map(lambda v: fmt(100 * v, ".1f")),
        }
    )
    return cells.to_markdown(
        disable_numparse=True, colalign=("left",) + ("right",) * len(cells.columns)
    )


def machine_section(jobs: pd.DataFrame) -> list[str]:
    """The machines the jobs ran on (one line each, with its number of jobs), the jobs' own
    CPU / wall per stage; nothing when no job logged its record."""
    named = jobs[jobs["machine"].astype(bool)]
    if named.empty:
        return []
    lines = [f"- {m} ({n} jobs)" for m, n in named["machine"].value_counts(sort=True).items()]
    return [
        "## Machine\n",
        "Named by the jobs themselves (pipeline/runtime/machine.py): CPU model and flags, cores, torch's "
        "threads, CPU kernels and parallel backend, GPU.\n",
        "\n".join(lines) + "\n",
        "## CPU time as the jobs measure it\n",
        "CPU s: `resource.getrusage` of the job's process and children; wall s: since the "
        "process started; steal: the machine's (all cores) stolen share of its CPU time over "
        "the job's work, from /proc/stat.\n",
        _own_table(jobs) + "\n",
    ]


def _ratio(jobs: pd.DataFrame) -> str:
    own = jobs[jobs["job_cpu_s"].notna() & jobs["job_wall_s"].notna()]
    return "n/a" if own.empty else f"{own['job_cpu_s'].sum() / own['job_wall_s'].sum():.2f}"


def _percent(share: float) -> str:
    return "n/a" if pd.isna(share) else f"{100 * share:.1f}"


def markdown(bench_dir: Path, study=None) -> str:
    """results/cost.md: totals, then wall seconds, CPU seconds and peak memory per stage,
    per family and per device, of the jobs under `bench_dir` (of `study`'s jobs, if given)."""
    bench_dir = Path(bench_dir)
    jobs, bad = read(bench_dir, bench_dir.parent / "logs")
    left_out = 0
    if study is not None and not jobs.empty:
        names = _names(study)
        jobs["family"] = [
            family_of(st, jb, names, _seeds(study, st))
            for st, jb in zip(jobs["stage"], jobs["job"], strict=True)
        ]
        left_out = int(jobs["family"].isna().sum())
        jobs = jobs[jobs["family"].notna()]
    if jobs.empty:
        what = "of this study's jobs " if left_out else ""
        return (
            f"No benchmarks {what}under {bench_dir}/ (a `dvc repro` run records none): "
            "no cost to report.\n"
        )
    gpu = jobs["device"] == "gpu"
    totals = pd.DataFrame(
        {
            "value": {
                "jobs": str(len(jobs)),
                "wall seconds (sum over jobs)": f"{jobs['s'].sum():.1f}",
                "CPU-hours": f"{jobs['cpu_time'].sum() / 3600:.4f}",
                "GPU-hours": f"{jobs.loc[gpu, 's'].sum() / 3600:.4f}",
                "peak RSS of a job (MiB)": "n/a"
                if jobs["max_rss"].isna().all()
                else f"{jobs['max_rss'].max():.1f}",
                "fixed cost, % of wall": _percent(fixed_share(jobs)),
                "CPU / wall, as the jobs measure it": _ratio(jobs),
                "steal, % of the machine's CPU time (largest over jobs)": _percent(
                    jobs["steal_share"].max()
                ),
            }
        }
    )
    notes = []
    if left_out:
        notes.append(
            f"{left_out} benchmark file(s) of jobs not in this study (older runs) left out."
        )
    if bad:
        notes.append(f"{len(bad)} unreadable benchmark file(s) skipped: {', '.join(bad)}.")
    parts = [
        "# Cost of the study\n",
        f"Measured by Snakemake's per-job `benchmark:` files under {bench_dir}/: wall seconds (`s`), "
        "CPU seconds (`cpu_time`) and peak resident memory (`max_rss`, MiB), summed (peak: maximum) "
        "over jobs. A job counts as a GPU job only where its file says so (see pipeline/report/cost.py); "
        "GPU-hours are the wall hours of those jobs. Fixed cost: a job's wall time minus the seconds "
        "of its stage's own work that it logs (`work_s`): the interpreter's start, imports, params "
        "and exit; its share is over the jobs that logged their work.\n",
        *[n + "\n" for n in notes],
        "## Totals\n",
        totals.to_markdown(disable_numparse=True, colalign=("left", "right")) + "\n",
        "## Per stage\n",
        _table(jobs, "stage") + "\n",
        *machine_section(jobs),
        "## Per family\n",
        _table(jobs, "family") + "\n",
        "## Per device\n",
        _table(jobs, "device") + "\n",
    ]
    return "\n".join(parts)
