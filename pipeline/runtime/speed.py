"""The switch between the fast CPU paths and the code they replaced (TASKHEAD_FAST=0).

Each fast path computes the same quantities as the path it replaces, in another order of
floating-point operations or from other random draws: its numbers differ in the last digits
(or, for batched augmentation, by the draws), and stay the same run to run. The old paths
are kept so that `python -m pipeline bench` can time both in one run (docs/profile.md).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

FAST_ENV = "TASKHEAD_FAST"


def fast() -> bool:
    """Whether the fast paths are on: unless TASKHEAD_FAST is "0" (read at each call)."""
    return os.environ.get(FAST_ENV, "1") != "0"


@contextmanager
def fast_paths(on: bool):
    """The fast paths on or off within the block, as TASKHEAD_FAST would set them."""
    before = os.environ.get(FAST_ENV)
    os.environ[FAST_ENV] = "1" if on else "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(FAST_ENV, None)
        else:
            os.environ[FAST_ENV] = before


def eval_batch_size(batch_size: int) -> int:
    """The batch of a pass without gradients (validation, evaluation, features): 4x the
    training batch where the fast paths are on (fewer, larger kernel calls: measured 10-25%
    faster for the default study's ResNets, docs/profile.md; BatchNorm in eval mode makes
    every sample's output independent of its batch), else the training batch."""
    return 4 * batch_size if fast() else batch_size
