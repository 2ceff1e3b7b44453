"""Which device a job trains on, and one GPU per running job.

Snakemake's `resources: gpu=1` only counts GPUs; it hands out no device ids. So each
job claims a slot: an exclusive flock on one lock file per device. The lock lives as
long as the process, so a crashed job frees its slot. Under SLURM the scheduler has
already narrowed CUDA_VISIBLE_DEVICES to the job's own GPU, and no slot is needed.

Importing this module imports no torch: visible_gpus() is the Snakefile's cheap probe,
and runtime() the job's real check.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

LOCK_DIR_ENV = "TASKHEAD_GPU_LOCK_DIR"
_held = []  # open lock files: closing one releases its slot


def claim_slot(
    n_devices: int,
    lock_dir: str | os.PathLike | None = None,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
) -> int:
    """Block until one of `n_devices` slots is free; return its index and hold it."""
    lock_dir = Path(lock_dir or os.environ.get(LOCK_DIR_ENV, "/tmp/taskhead-gpu-locks"))
    lock_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    while True:
        for i in range(n_devices):
            f = open(lock_dir / f"gpu{i}.lock", "a+")  # noqa: SIM115 (held open: the lock lives as long as the file)
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            _held.append(f)
            return i
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise TimeoutError(f"no free GPU slot among {n_devices} in {lock_dir}")
        time.sleep(poll_s)


NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the driver shows this machine


def visible_gpus() -> int:
    """How many CUDA devices a job here may use, asked of the driver, not of torch (no import,
    a fraction of a second): NVIDIA's GPUs (`nvidia-smi -L`, else /proc/driver/nvidia/gpus),
    narrowed by CUDA_VISIBLE_DEVICES as CUDA reads it (indices, or GPU-/MIG- UUIDs; the list
    ends at the first invalid entry, and a repeated one leaves none). The Snakefile's `gpu`
    resource and `python -m pipeline gpus` use it; runtime() checks CUDA for real in each job."""
    n = _driver_gpus()
    var = os.environ.get("CUDA_VISIBLE_DEVICES")
    if var is None or n == 0:
        return n
    seen: list = []
    for entry in (e.strip() for e in var.split(",")):
        if entry.startswith(("GPU-", "MIG-")):
            key = entry
        else:
            number = re.match(r"\+?\d+", entry)  # like strtoul: "1gpu" is 1
            if number is None or int(number.group()) >= n:
                break
            key = int(number.group())
        if key in seen:
            return 0
        seen.append(key)
    return min(len(seen), n)


def _driver_gpus() -> int:
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            done = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=60)
            if done.returncode == 0:
                return sum(line.startswith("GPU ") for line in done.stdout.splitlines())
        except (OSError, subprocess.SubprocessError):
            pass
    return sum(1 for _ in NVIDIA_PROC.iterdir()) if NVIDIA_PROC.is_dir() else 0


NONDETERMINISTIC = " does not have a deterministic implementation"
_show_warning = warnings.showwarning  # Python's own, for every other warning


def _one_line_per_op(message, category, filename, lineno, file=None, line=None):
    """torch's warning for an op without a deterministic CUDA kernel, as one line naming it."""
    text = str(message)
    if NONDETERMINISTIC in text:
        op = text.split(NONDETERMINISTIC)[0].strip()
        print(
            f"[device] warning: {op} has no deterministic CUDA kernel; runs may differ in the last digits",
            file=file or sys.stderr,
        )
    else:
        _show_warning(message, category, filename, lineno, file, line)


def deterministic_cuda() -> None:
    """Deterministic CUDA kernels wherever torch has them: cuBLAS's fixed workspace, no cuDNN
    autotuning, and torch's deterministic mode. An op that has no deterministic kernel (e.g.
    the backward of bilinear upsampling) still runs, with one warning line naming it, once.

    torch.use_deterministic_algorithms also sets torch._inductor.config.deterministic, for
    torch.compile, and so imports torch._inductor and torch._dynamo (over a second). This
    pipeline never compiles: unless inductor is imported already, only the eager switch
    that function sets is set."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    if "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        # use_deterministic_algorithms' own call.
        torch._C._set_deterministic_algorithms(True, warn_only=True)
    warnings.filterwarnings("once", message=f".*{NONDETERMINISTIC}")
    warnings.showwarning = _one_line_per_op


@dataclass
class Runtime:
    """Where and how tensors are computed: device, autocast dtype, memory layout."""

    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    pin_memory: bool = False
    workers: int = 0

    def autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        import torch

        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def prepare(self, module: torch.nn.Module) -> torch.nn.Module:
        import torch

        module = module.to(self.device)
        return module.to(memory_format=torch.channels_last) if self.channels_last else module


def job_threads() -> int:
    """Set torch's CPU threads for this job: TASKHEAD_THREADS, one unless told otherwise
    (Snakemake passes its `threads`), whatever the cores. The thread count changes the order
    of floating-point sums, so `dvc repro` and Snakemake would otherwise give different
    numbers for the same params; and a job on more threads than Snakemake reserved for it
    competes with the job beside it (a prepare job, which never called this, ran on every
    core: its own record, pipeline/runtime/machine.py, showed it)."""
    import torch

    n = int(os.environ.get("TASKHEAD_THREADS", "1"))
    torch.set_num_threads(n)
    return n


def runtime(
    preference: str = "auto", cuda_available: bool | None = None, n_devices: int | None = None
) -> Runtime:
    """A Runtime for this job: on CUDA one claimed device with bf16 autocast, else the CPU.
    Called once at a job's start (it also spares the job torch's compiler, see startup.py)."""
    import torch

    from pipeline.runtime.startup import skip_dynamo_import

    skip_dynamo_import()
    cuda = torch.cuda.is_available() if cuda_available is None else cuda_available
    if os.environ.get("SLURM_JOB_ID"):
        print(
            f"[device] SLURM job {os.environ['SLURM_JOB_ID']}: CUDA_VISIBLE_DEVICES="
            f"{os.environ.get('CUDA_VISIBLE_DEVICES', '')} SLURM_JOB_GPUS={os.environ.get('SLURM_JOB_GPUS', '')}",
            file=sys.stderr,
        )
    if preference == "cuda" and not cuda:
        raise SystemExit("params.yaml: device: expected a CUDA device for 'cuda', found none")
    if preference == "cpu" or not cuda:
        job_threads()
        return Runtime(torch.device("cpu"))
    n = torch.cuda.device_count() if n_devices is None else n_devices
    # under SLURM, the job sees only its own device
    slurm = os.environ.get("SLURM_JOB_ID") and os.environ.get("CUDA_VISIBLE_DEVICES")
    index = 0 if slurm else claim_slot(n)
    print(f"[device] job {os.getpid()} uses cuda:{index}", file=sys.stderr)
    deterministic_cuda()
    return Runtime(
        torch.device("cuda", index),
        amp_dtype=torch.bfloat16,
        channels_last=True,
        pin_memory=True,
        workers=4,
    )
