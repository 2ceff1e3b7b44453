"""A job's fixed costs, kept near `import torch`: what it runs once at its start and its end.

- skip_dynamo_import: torch.optim would import torch's compiler (torch._dynamo, sympy and
  all: over a second) at the first optimizer; device.runtime() calls it.
- exit_now: the end of a `python -m pipeline` training stage, without the interpreter's
  teardown of torch's modules (1-2 s).
This pipeline never uses torch.compile; both rely on that.
"""

from __future__ import annotations

import os
import sys

DYNAMO_DISABLE = "__dynamo_disable"  # where torch._disable_dynamo caches its disabled function
# The names torch 2.x's _use_grad_for_differentiable wrapper of Optimizer.step uses: with
# others, the wrapper does more than _eager_step below, and is left as it is.
USE_GRAD_NAMES = (
    "torch._dynamo",
    "cast",
    "Optimizer",
    "is_grad_enabled",
    "set_grad_enabled",
    "defaults",
    "_dynamo",
    "graph_break",
)


def skip_dynamo_import() -> int:
    """Let torch.optim's optimizers run without importing torch._dynamo, to be called once at
    a job's start, before its first optimizer; returns how many methods it changed (0 where
    torch._dynamo is imported already: then nothing is changed).

    Two kinds of wrappers in torch.optim import torch._dynamo on their first call:
    - torch._disable_dynamo (torch/_compile.py), around Optimizer.add_param_group (called by
      every optimizer's __init__), state_dict, load_state_dict and zero_grad. Its first call
      builds torch._dynamo.disable(fn) and caches it on fn as `__dynamo_disable`. That
      function only keeps torch.compile from tracing fn; outside a compiled region it just
      calls fn. Here fn itself is cached instead: the same calls, no import.
    - _use_grad_for_differentiable (torch/optim/optimizer.py), around each optimizer's `step`:
      it imports torch._dynamo for two graph_break() calls, markers for torch.compile that
      do nothing when called. `step` is replaced by the same wrapper less those two calls
      (_eager_step), where the wrapper is exactly the one this was written against.
    While torch._dynamo is not imported nothing can be compiled, and this pipeline never
    uses torch.compile; if torch._dynamo is imported later (PyG imports it), the methods
    still compute exactly what they did.
    """
    if "torch._dynamo" in sys.modules:
        return 0
    import torch
    import torch._compile
    from torch.optim.optimizer import _use_grad_for_differentiable

    # Shared by all its wrappers.
    disable_code = torch._compile._disable_dynamo(lambda: None).__code__
    use_grad_code = _use_grad_for_differentiable(lambda self: None).__code__
    changed = 0
    todo, seen = [torch.optim.Optimizer], set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        todo += cls.__subclasses__()
        for name, value in list(vars(cls).items()):
            code = getattr(value, "__code__", None)
            if code is disable_code and getattr(value.__wrapped__, DYNAMO_DISABLE, None) is None:
                setattr(value.__wrapped__, DYNAMO_DISABLE, value.__wrapped__)
                changed += 1
            elif (
                name == "step"
                and not getattr(value, "hooked", False)
                and code is use_grad_code
                and code.co_names == USE_GRAD_NAMES
            ):
                cls.step = _eager_step(value.__wrapped__)
                changed += 1
    return changed


def _eager_step(step):
    """`step` wrapped as torch's _use_grad_for_differentiable wraps it (autograd on only for
    a differentiable optimizer, restored afterwards), less the two graph_break() calls."""
    import functools

    import torch

    @functools.wraps(step)
    def eager_step(self, *args, **kwargs):
        prev_grad = torch.is_grad_enabled()
        try:
            torch.set_grad_enabled(self.defaults["differentiable"])
            return step(self, *args, **kwargs)
        finally:
            torch.set_grad_enabled(prev_grad)

    return eager_step


def exit_now(code: int = 0):
    """End the process at once with `code`, skipping the interpreter's teardown (atexit
    handlers, module cleanup, garbage collection of torch's objects: 1-2 s per job).

    Only for the end of a stage that has written everything: each output is written
    through pipeline.io.atomic (closed, then renamed into place) and nothing else is open
    for writing. The standard streams are flushed here, so that no line of the log is lost;
    lock files (device.claim_slot) are released by the kernel as the process ends."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(code)
