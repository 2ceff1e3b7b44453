"""SIGTERM, as a scheduler sends it at a time limit or on preemption (SLURM: SIGTERM, then
SIGKILL after a grace period). Inside `on_sigterm()`, the signal only raises a flag; a
training loop asks `requested()` at the end of each step, writes its resume state, then
calls `stop`, which ends the job with one line and a non-zero status (pipeline.__main__)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import NoReturn

from pipeline.errors import PipelineError

_received: list[int] = []


class Stopped(PipelineError):
    """A training job stopped by SIGTERM, its resume state written."""


def _note(signum, frame) -> None:
    _received.append(signum)


@contextlib.contextmanager
def on_sigterm() -> Iterator[None]:
    """Within the block, a SIGTERM sets the flag instead of ending the process (outside the
    main thread, where Python cannot set handlers, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    previous = signal.signal(signal.SIGTERM, _note)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def requested() -> bool:
    return bool(_received)


def stop(what: str, resume) -> NoReturn:
    raise Stopped(
        f"{what}: stopped by SIGTERM, its state saved in {resume}; run the job again to resume"
    )
