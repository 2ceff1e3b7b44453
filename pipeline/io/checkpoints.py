"""Reading backbones and heads strictly: every key must match, or the error lists them."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pipeline.errors import PipelineError, first_line

# Prefixes that common published checkpoints put before the backbone's own keys.
KNOWN_PREFIXES = (
    "module.encoder_q.",
    "module.encoder.",
    "module.backbone.",
    "encoder_q.",
    "backbone.",
    "encoder.",
    "module.",
    "model.",
)
HEAD_KEYS = ("fc.",)


def read_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors file, or a torch file saved as a bare dict or under
    'state_dict' / 'model'."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: expected a checkpoint file, found nothing at that path")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(path, device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch and safetensors raise many types for a bad file
        kind = "safetensors" if path.suffix == ".safetensors" else "torch"
        raise PipelineError(
            f"{path}: expected a {kind} checkpoint of tensors, found an unreadable file "
            f"({first_line(err)})"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise PipelineError(f"{path}: expected a state dict, found {type(obj).__name__}")
    return obj


def strip_prefix(state: dict, expected: set[str]) -> dict:
    """Drop one known wrapper prefix (DataParallel, MoCo/SimCLR/BYOL encoders) if that makes keys match."""
    for prefix in KNOWN_PREFIXES:
        stripped = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if (
            stripped
            and set(stripped) & expected
            and len(set(stripped) & expected) > len(set(state) & expected)
        ):
            return stripped
    return state


def load_strict(module: nn.Module, state: dict, source: str | Path, drop_head: bool = True) -> None:
    """Load `state` into `module`; any missing, unexpected or mis-shaped key is an error.
    With `drop_head`, the classifier keys are dropped: `module.head_keys` (timm), else fc."""
    own = module.state_dict()
    state = strip_prefix(state, set(own))
    if drop_head:
        head = getattr(module, "head_keys", HEAD_KEYS)
        state = {k: v for k, v in state.items() if not (k.startswith(head) and k not in own)}
    problem = mismatch(own, state)
    if problem:
        raise PipelineError(
            f"{source}: expected the keys and shapes of the backbone, found {problem}"
        )
    module.load_state_dict(state, strict=True)


def mismatch(own: dict, state: dict, shown: int = 5) -> str:
    """What differs between a module's state dict and `state`, in one line ('' if nothing)."""
    same = set(own) & set(state)
    shapes = [
        f"{k}: expected {tuple(own[k].shape)}, found {tuple(getattr(state[k], 'shape', ()))}"
        for k in sorted(same)
        if getattr(state[k], "shape", None) != own[k].shape
    ]
    parts = []
    for title, items in (
        ("missing keys", sorted(set(own) - set(state))),
        ("unexpected keys", sorted(map(str, set(state) - set(own)))),
        ("wrong shapes", shapes),
    ):
        if items:
            more = f" ... ({len(items)} in all)" if len(items) > shown else ""
            parts.append(f"{title}: {', '.join(items[:shown])}{more}")
    return "; ".join(parts)
