"""BatchNorm statistics of a pretrained backbone, re-estimated on the downstream data.

A backbone pretrained on another domain carries that domain's running statistics.
FT trains in batch-statistics mode, so the features FT starts from are those computed
with the downstream data's statistics; `bn: target` gives HP, E_aie and z_0 the same.
"""

from __future__ import annotations

import torch
from torch import nn

from pipeline.families.base import Family


def batchnorms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def reestimate_bn(backbone: nn.Module, loader, family: Family, device) -> nn.Module:
    """Replace every BatchNorm layer's running mean and variance by their averages over one
    pass of `loader` (the cumulative average: each batch counts once; a last batch of one
    sample is left out). Only the BatchNorm
    layers are in training mode during the pass (dropout stays off); no weight changes."""
    layers = batchnorms(backbone)
    backbone.eval()
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    for batch in loader:
        x, y = family.unpack(batch, device)
        if len(y) > 1:  # a lone last sample has no batch statistics (BatchNorm refuses it)
            backbone(x)
    for m, momentum in zip(layers, momenta, strict=True):
        m.momentum = momentum
    return backbone.eval()
