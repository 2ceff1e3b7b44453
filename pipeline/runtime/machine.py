"""Which machine a job ran on, and what the job cost it, as the job itself measures it.

The machine: the CPU model and the flags that decide torch's CPU kernels (AVX2, AVX-512 and
its BF16 / VNNI extensions, AMX), the cores, torch's threads and parallel backend
(`torch.__config__.parallel_info()`), the kernel set torch dispatches to
(`torch.backends.cpu.get_cpu_capability()`), and the GPU where one ran.

The job: its CPU seconds from `resource.getrusage` (the process and its waited-for
children: Snakemake's benchmark `cpu_time` samples the process tree and undercounts short
or threaded jobs), its wall seconds since the process started, their ratio, and the steal
time of the whole machine (all cores, /proc/stat) over the job's work: CPU time the
hypervisor gave to other guests. A one-thread job at a ratio well under 1 waited: for
another process on the same cores, for the disk, or for stolen time.

Each training job prints both to its log (`[machine] {json}` and `[usage] {json}`, see
`job_lines`); pipeline/report/cost.py reads them back into results/cost.md.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile")
CPUINFO, STAT, UPTIME = Path("/proc/cpuinfo"), Path("/proc/stat"), Path("/proc/uptime")
MACHINE_TAG, USAGE_TAG = "[machine] ", "[usage] "


def cpu_model_and_flags(path: Path = CPUINFO) -> tuple[str, list[str]]:
    """The first processor's `model name` and which of FLAGS it has ("unknown", [] if the
    file cannot be read: not Linux)."""
    model, flags = "unknown", set()
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return model, []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown":
            model = " ".join(value.split())
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model, [f for f in FLAGS if f in flags]


def cpu_ticks(path: Path = STAT) -> dict[str, int]:
    """The machine's CPU time so far, in clock ticks, from /proc/stat's `cpu` line: `steal`
    and `total` (all fields up to steal; guest time is already inside user). Empty if the
    file cannot be read."""
    try:
        first = path.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return {}
    if first[0] != "cpu" or len(first) < 9:
        return {}
    fields = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    return {"steal": fields[7], "total": sum(fields)}


def parallel_summary(info: str) -> str:
    """torch.__config__.parallel_info() in one line: the backend, the library versions and
    the thread counts it reports ("at::get_num_threads() : 1" -> "threads 1")."""
    names = {
        "at::get_num_threads()": "threads",
        "at::get_num_interop_threads()": "interop",
        "omp_get_max_threads()": "omp",
        "mkl_get_max_threads()": "mkl",
    }
    parts = []
    for line in info.splitlines():
        text = line.strip()
        key, sep, value = text.partition(" : ")
        if sep and key in names:
            parts.append(f"{names[key]} {value.strip()}")
        elif text.startswith("ATen parallel backend:"):
            parts.insert(0, text.removeprefix("ATen parallel backend:").strip())
        elif text.startswith("Intel(R) oneAPI Math Kernel Library Version"):
            parts.append("MKL " + text.split()[6].split("-")[0])
        elif text.startswith("Intel(R) MKL-DNN"):
            parts.append("oneDNN " + text.split()[2])
    return "; ".join(parts)


def _gpu_name() -> str | None:
    """The name of the CUDA device this process used, if it initialised CUDA at all."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return None
    return torch.cuda.get_device_name(torch.cuda.current_device())


def machine() -> dict:
    """This machine, and this process's torch where the process imported it (a job that
    never needed torch is not made to import it for its record)."""
    model, flags = cpu_model_and_flags()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    out = {"cpu": model, "flags": flags, "cores": os.cpu_count(), "usable_cores": usable}
    torch = sys.modules.get("torch")
    if torch is None:
        return out
    return {
        **out,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "parallel": parallel_summary(torch.__config__.parallel_info()),
        "gpu": _gpu_name(),
    }


def process_wall_s(stat: Path = Path("/proc/self/stat"), uptime: Path = UPTIME) -> float | None:
    """Seconds since this process started (the kernel's start time), None where unknown."""
    try:
        start_ticks = int(stat.read_text().rsplit(")", 1)[1].split()[19])
        now = float(uptime.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return now - start_ticks / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that it waited for."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Usage:
    """What a job costs from now on: start it where the work starts, `record()` at the end."""

    def __init__(self):
        self.t0, self.ticks0 = time.perf_counter(), cpu_ticks()

    def record(self) -> dict:
        """wall_s (since the process started; the work's wall where unknown), cpu_s (since the
        process started), their ratio, and the machine's steal over the work: seconds (summed
        over its cores) and their share of all its CPU time."""
        work = time.perf_counter() - self.t0
        wall = process_wall_s() or work
        cpu = cpu_seconds()
        ticks = cpu_ticks()
        out = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "cpu_ratio": round(cpu / wall, 3)}
        if ticks and self.ticks0:
            steal, total = (ticks[k] - self.ticks0[k] for k in ("steal", "total"))
            out["steal_s"] = round(steal / os.sysconf("SC_CLK_TCK"), 3)
            out["steal_share"] = round(steal / total, 4) if total > 0 else 0.0
        return out


def job_lines(usage: Usage) -> list[str]:
    """The two lines a job prints at its end: the machine, then its usage (JSON each)."""
    return [
        MACHINE_TAG + json.dumps(machine(), sort_keys=True),
        USAGE_TAG + json.dumps(usage.record(), sort_keys=True),
    ]


def last_record(text: str, tag: str) -> dict | None:
    """The last `tag` JSON line of a log (None if none parses)."""
    for line in reversed(text.splitlines()):
        if line.startswith(tag):
            try:
                value = json.loads(line[len(tag) :])
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def describe(m: dict) -> str:
    """A machine record in one line of prose, for cost.md and the bench output."""
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU used"
    flags = ", ".join(m.get("flags") or []) or "none of " + "/".join(FLAGS)
    return (
        f"{m.get('cpu', 'unknown')} ({m.get('cores', '?')} cores, {m.get('usable_cores', '?')} "
        f"usable; flags: {flags}); torch {m.get('torch', '?')} on {m.get('threads', '?')} "
        f"thread(s), CPU kernels {m.get('capability', '?')}, oneDNN "
        f"{'on' if m.get('mkldnn') else 'off'}; {m.get('parallel', '')}{gpu}"
    )
