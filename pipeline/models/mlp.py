"""The paper's toy backbone: a 4-layer MLP of width 128 with ReLU."""

from __future__ import annotations

from torch import nn


def mlp_backbone(input_dim: int, width: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(depth):
        layers += [nn.Linear(input_dim if i == 0 else width, width), nn.ReLU()]
    return nn.Sequential(*layers)
