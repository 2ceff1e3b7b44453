"""Task heads g(z; v) -> q: linear, or the paper's 2-layer MLP (hidden width 256)."""

from __future__ import annotations

from torch import nn


def make_head(kind: str, in_dim: int, num_outputs: int, hidden: int = 256) -> nn.Module:
    if kind == "linear":
        return nn.Linear(in_dim, num_outputs)
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_outputs)
        )
    raise ValueError(f"head.kind: expected 'linear' or 'mlp', found {kind!r}")
