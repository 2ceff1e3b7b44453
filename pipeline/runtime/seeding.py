"""Seeds for every source of randomness: Python, NumPy, torch and data workers.

Deterministic kernels are a property of the device: pipeline.runtime.device.deterministic_cuda
asks for them where a job runs on CUDA (the CPU kernels used here are deterministic at a
fixed thread count).
"""

from __future__ import annotations

import random
import signal

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def worker_init_fn(worker_id: int) -> None:
    """Seed a DataLoader worker from the seed torch gave it (base seed + worker id). The
    worker ignores SIGTERM: a scheduler sends it to every process of a job, and the main
    process needs its workers while it finishes its batch and saves its state
    (pipeline.runtime.stopping); they end with it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def derive(seed: int, *parts) -> int:
    """A stable sub-seed for one named purpose (e.g. the FT run of one tau)."""
    import hashlib

    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little")
