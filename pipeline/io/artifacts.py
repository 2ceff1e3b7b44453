"""Reading what a stage wrote: a missing, truncated, foreign or mis-shaped file is one line
that names it, what was expected, what was found and the stage that writes it. Never a
traceback, and never a silent use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

from pipeline.errors import PipelineError, first_line


def fail(path, what: str, found: str, stage: str) -> NoReturn:
    raise PipelineError(
        f"{path}: expected {what}, found {found}; rerun the `{stage}` stage that writes it"
    )


def describe(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = sorted(map(str, obj))
        return f"a mapping of {keys[:6]}{' ...' if len(keys) > 6 else ''}"
    return f"a {type(obj).__name__}"


def expect_keys(obj: Any, keys: tuple[str, ...], path, what: str, stage: str) -> None:
    if not (isinstance(obj, dict) and all(k in obj for k in keys)):
        fail(path, f"{what} with {list(keys)}", describe(obj), stage)


def read_torch(
    path, what: str, stage: str, keys: tuple[str, ...] = (), trusted: bool = False
) -> Any:
    """torch.load of a file this pipeline wrote; `trusted` allows any pickled object (the
    prepared datasets hold PyG and numpy objects), otherwise tensors and plain data only."""
    import torch

    path = Path(path)
    if not path.is_file():
        fail(path, what, "nothing at that path", stage)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trusted)
    except Exception as err:  # torch raises many types for a truncated or foreign file
        fail(path, what, f"an unreadable file ({first_line(err)})", stage)
    if keys:
        expect_keys(obj, keys, path, what, stage)
    return obj


def read_json(path, what: str, stage: str, keys: tuple[str, ...] = ()) -> Any:
    path = Path(path)
    if not path.is_file():
        fail(path, what, "nothing at that path", stage)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        fail(path, what, f"no valid JSON ({first_line(err)})", stage)
    if keys:
        expect_keys(obj, keys, path, what, stage)
    return obj


def load_weights(module, state: Any, path, what: str, stage: str) -> None:
    """Load `state` into `module`, every key and shape matching, or fail naming the file."""
    from pipeline.io.checkpoints import mismatch

    if not isinstance(state, dict):
        fail(path, what, describe(state), stage)
    problem = mismatch(module.state_dict(), state)
    if problem:
        fail(path, what, problem, stage)
    module.load_state_dict(state, strict=True)


def read_resume(path, key: str, device) -> dict | None:
    """The resume file of a run with this `key`, or None: there is none yet, it belongs to
    another run, or it cannot be read (it is a cache: the run starts over, and says so)."""
    import sys

    import torch

    path = Path(path)
    if not path.is_file():
        return None
    try:
        # This pipeline's own file.
        saved = torch.load(path, map_location=device, weights_only=False)
    except Exception as err:
        print(
            f"warning: {path}: an unreadable resume file ({first_line(err)}); starting over",
            file=sys.stderr,
            flush=True,
        )
        return None
    return saved if isinstance(saved, dict) and saved.get("key") == key else None


# ---- the prepared datasets: each carries the family that wrote it -----------------------


def save_prepared(path, family: str, prepared: Any) -> None:
    from pipeline.io.atomic import save_torch

    save_torch(path, {"family": family, "prepared": prepared})


def read_prepared(path, family: str) -> Any:
    what = f"a prepared {family} dataset"
    obj = read_torch(path, what, "prepare", keys=("family", "prepared"), trusted=True)
    if obj["family"] != family:
        fail(path, what, f"one of family {obj['family']!r}", "prepare")
    return obj["prepared"]
