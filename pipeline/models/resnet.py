"""torchvision's ResNet as a backbone: the same definition (and state-dict keys) that
smp's ResNet encoders use, so one pretrained checkpoint serves classification and
segmentation. z is the pooled penultimate feature vector.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

LAYOUTS = {10: (BasicBlock, [1, 1, 1, 1]), 18: (BasicBlock, [2, 2, 2, 2]),
           34: (BasicBlock, [3, 4, 6, 3]), 50: (Bottleneck, [3, 4, 6, 3])}


class ResNetBackbone(ResNet):
    """A torchvision ResNet without `fc`; forward returns the pooled features."""

    def __init__(self, depth: int, in_channels: int = 3, cifar_stem: bool = False):
        block, layers = LAYOUTS[depth]
        super().__init__(block, layers)
        if in_channels != 3 or cifar_stem:
            k, s, p = (3, 1, 1) if cifar_stem else (7, 2, 3)
            self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=k, stride=s, padding=p, bias=False)
        if cifar_stem:
            self.maxpool = nn.Identity()
        del self.fc
        self.out_dim = 512 * block.expansion

    def trunk(self, x: torch.Tensor, stop_block: int | None = None) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        for block in list(self.layer4)[:stop_block]:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(self.trunk(x)), 1)


class PartialBackbone(nn.Module):
    """The pretrained ResNet up to (not including) its last `k` layer4 blocks; z is a map."""

    def __init__(self, resnet: ResNetBackbone, k: int):
        super().__init__()
        self.resnet, self.stop = resnet, len(resnet.layer4) - k

    def forward(self, x):
        return self.resnet.trunk(x, self.stop)


def split_partial(resnet: ResNetBackbone, k: int, head_top: nn.Module) -> tuple[nn.Module, nn.Module]:
    """Re-initialise the last k blocks of layer4 and move them into the head (Table 3)."""
    n = len(resnet.layer4)
    if not 0 < k <= n:
        raise ValueError(f"head.reinit_blocks: expected 1..{n} for this ResNet's layer4, found {k}")
    moved = [copy.deepcopy(b) for b in list(resnet.layer4)[n - k:]]
    for block in moved:
        for m in block.modules():
            if hasattr(m, "reset_parameters") and m is not block:
                m.reset_parameters()
    head = nn.Sequential(*moved, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head_top)
    return PartialBackbone(resnet, k), head
