"""One GPU per running job, with simulated devices (no CUDA here)."""

import multiprocessing as mp
import time

import pytest
import torch

from pipeline.runtime import device


def _hold(lock_dir, n, seconds, queue):
    slot = device.claim_slot(n, lock_dir, poll_s=0.05)
    queue.put((slot, time.monotonic()))
    time.sleep(seconds)
    queue.put((slot, time.monotonic()))


def test_concurrent_jobs_get_distinct_devices(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    jobs = [ctx.Process(target=_hold, args=(tmp_path, 2, 1.0, queue)) for _ in range(4)]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join(60)
    events = [queue.get() for _ in range(8)]
    # per slot, intervals [start, end] never overlap
    for slot in (0, 1):
        times = sorted(t for s, t in events if s == slot)
        assert len(times) == 4  # two jobs per device, one after the other
        assert times[1] <= times[2]
    assert {s for s, _ in events} == {0, 1}


def test_a_crashed_job_frees_its_slot(tmp_path):
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=device.claim_slot, args=(1, tmp_path))
    p.start(), p.join(30)
    assert device.claim_slot(1, tmp_path, timeout_s=5) == 0


def test_runtime_on_simulated_cuda(tmp_path, monkeypatch):
    monkeypatch.setenv(device.LOCK_DIR_ENV, str(tmp_path))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    rt = device.runtime("auto", cuda_available=True, n_devices=3)
    assert (
        rt.device == torch.device("cuda", 0) and rt.amp_dtype == torch.bfloat16 and rt.channels_last
    )
    rt2 = device.runtime("auto", cuda_available=True, n_devices=3)
    assert rt2.device.index == 1  # this process still holds slot 0


def test_slurm_gives_the_job_its_own_device(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert device.runtime("auto", cuda_available=True, n_devices=1).device == torch.device(
        "cuda", 0
    )


def test_cpu_without_cuda():
    assert device.runtime("auto", cuda_available=False).device.type == "cpu"


@pytest.fixture
def restore_determinism(monkeypatch):
    """Undo deterministic_cuda's process-wide switches after the test."""
    import warnings

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    monkeypatch.setattr(warnings, "filters", list(warnings.filters))
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", torch.backends.cudnn.benchmark)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", torch.backends.cudnn.deterministic)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    was = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    yield
    torch.use_deterministic_algorithms(was[0], warn_only=was[1])


def test_a_cuda_job_asks_for_deterministic_kernels(
    tmp_path, monkeypatch, capsys, restore_determinism
):
    import os
    import warnings

    monkeypatch.setenv(device.LOCK_DIR_ENV, str(tmp_path))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    device.runtime("auto", cuda_available=True, n_devices=1)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert (
        torch.are_deterministic_algorithms_enabled()
        and torch.is_deterministic_algorithms_warn_only_enabled()
    )
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    # An op without a deterministic kernel: one line naming it, once, however often it runs.
    capsys.readouterr()
    msg = (
        "upsample_bilinear2d_backward_out_cuda does not have a deterministic implementation, but you set "
        "'torch.use_deterministic_algorithms(True, warn_only=True)'. You can file an issue at ..."
    )
    for _ in range(3):
        warnings.warn(msg, UserWarning, stacklevel=1)
    assert capsys.readouterr().err.strip().splitlines() == [
        "[device] warning: upsample_bilinear2d_backward_out_cuda has no deterministic CUDA kernel; "
        "runs may differ in the last digits"
    ]


@pytest.mark.parametrize(
    "visible, expected",
    [
        (None, 4),
        ("", 0),
        ("0,2", 2),
        ("1gpu,3", 2),
        ("0,-1,2", 1),
        ("0,0", 0),
        ("5", 0),
        ("2,7,1", 1),
        ("GPU-aaa,GPU-bbb", 2),
        ("MIG-aaa", 1),
    ],
)
def test_visible_gpus_reads_cuda_visible_devices_as_cuda_does(monkeypatch, visible, expected):
    monkeypatch.setattr(device, "_driver_gpus", lambda: 4)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert device.visible_gpus() == expected


def test_no_driver_no_gpus(monkeypatch, tmp_path):
    monkeypatch.setattr(device.shutil, "which", lambda name: None)
    monkeypatch.setattr(device, "NVIDIA_PROC", tmp_path / "none")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert device.visible_gpus() == 0


def test_deterministic_cuda_without_torchs_compiler():
    import subprocess
    import sys

    code = (
        "import sys, torch\nfrom pipeline.runtime import device\ndevice.deterministic_cuda()\n"
        "print(torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),"
        " torch.backends.cudnn.deterministic, 'torch._inductor' in sys.modules, 'torch._dynamo' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["True", "True", "True", "False", "False"]
