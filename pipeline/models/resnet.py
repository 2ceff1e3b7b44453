"""torchvision's ResNet as a backbone: the same definition (and state-dict keys) that
smp's ResNet encoders use, so one pretrained checkpoint serves classification and
segmentation. z is the pooled penultimate feature vector.

The definition is torchvision's (torchvision/models/resnet.py, BSD-3-Clause), copied
here: importing it from torchvision runs torchvision's package, which imports all its
models, datasets and ops, and with them torch's compiler (over a second per job).
Same modules, same order of initialisation, same forward: tests/test_startup.py checks
the parameters and outputs against torchvision's.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.runtime.speed import fast


class Conv2d(nn.Conv2d):
    """nn.Conv2d (the same parameters, keys and initialisation) that, where its output map is
    1x1, computes it as one matrix product of the input with the kernel taps that meet the
    input: the same sum less its terms on zero padding. oneDNN's convolution kernels are slow
    on such tiny maps (a ResNet's layer3 and layer4 at 16 px input): 3-5x the matrix
    product's time, forward and backward (docs/profile.md). TASKHEAD_FAST=0 keeps the
    convolution."""

    def _window(self, x: torch.Tensor) -> tuple[int, ...] | None:
        """(rows, cols, first tap row, first tap col) of a 1x1 output, else None."""
        if x.dim() != 4 or self.groups != 1 or self.padding_mode != "zeros":
            return None
        if isinstance(self.padding, str) or self.dilation != (1, 1):
            return None
        used = []
        for size, k, p, st in zip(
            x.shape[-2:], self.kernel_size, self.padding, self.stride, strict=True
        ):
            if p >= k or (size + 2 * p - k) // st != 0:
                return None
            used.append(min(size, k - p))  # input rows the one output position sees
        return used[0], used[1], self.padding[0], self.padding[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = self._window(x) if fast() else None
        if window is None:
            return super().forward(x)
        rows, cols, top, left = window
        w = self.weight[:, :, top : top + rows, left : left + cols].reshape(len(self.weight), -1)
        return F.linear(x[:, :, :rows, :cols].flatten(1), w, self.bias)[:, :, None, None]


def conv3x3(
    in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1
) -> nn.Conv2d:
    return Conv2d(
        in_planes,
        out_planes,
        kernel_size=3,
        stride=stride,
        padding=dilation,
        groups=groups,
        bias=False,
        dilation=dilation,
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer=None,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """torchvision's ResNet V1.5 bottleneck: the stride on the 3x3 convolution."""

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer=None,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """torchvision's ResNet with its defaults (1000 classes, groups 1, width 64, no dilation,
    no zero-initialised residual BatchNorm): the options this pipeline uses."""

    def __init__(
        self, block: type[BasicBlock | Bottleneck], layers: list[int], num_classes: int = 1000
    ) -> None:
        super().__init__()
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = 64, 1, 1, 64
        self.conv1 = Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                self._norm_layer(planes * block.expansion),
            )
        layers = [
            block(
                self.inplanes,
                planes,
                stride,
                downsample,
                self.groups,
                self.base_width,
                self.dilation,
                self._norm_layer,
            )
        ]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(
                block(
                    self.inplanes,
                    planes,
                    groups=self.groups,
                    base_width=self.base_width,
                    dilation=self.dilation,
                    norm_layer=self._norm_layer,
                )
            )
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


LAYOUTS = {
    10: (BasicBlock, [1, 1, 1, 1]),
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
}


class ResNetBackbone(ResNet):
    """A torchvision ResNet without `fc`; forward returns the pooled features."""

    def __init__(self, depth: int, in_channels: int = 3, cifar_stem: bool = False):
        block, layers = LAYOUTS[depth]
        super().__init__(block, layers)
        if in_channels != 3 or cifar_stem:
            k, s, p = (3, 1, 1) if cifar_stem else (7, 2, 3)
            self.conv1 = Conv2d(in_channels, 64, kernel_size=k, stride=s, padding=p, bias=False)
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


def split_partial(
    resnet: ResNetBackbone, k: int, head_top: nn.Module
) -> tuple[nn.Module, nn.Module]:
    """Re-initialise the last k blocks of layer4 and move them into the head (Table 3)."""
    n = len(resnet.layer4)
    if not 0 < k <= n:
        raise ValueError(f"head.reinit_blocks: expected 1..{n} for this ResNet's layer4, found {k}")
    moved = [copy.deepcopy(b) for b in list(resnet.layer4)[n - k :]]
    for block in moved:
        for m in block.modules():
            if hasattr(m, "reset_parameters") and m is not block:
                m.reset_parameters()
    head = nn.Sequential(*moved, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head_top)
    return PartialBackbone(resnet, k), head
