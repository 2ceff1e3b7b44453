"""Decode and augment a whole batch of uint8 images at once, on whatever device it is on.

The per-sample path (images.TensorImages) turns one image at a time into floats, resizes,
pads, crops and flips it in a DataLoader, on the CPU. Here the same steps run on a batch
(N, C, H, W): one conversion, one resize, and a random crop and flip *per sample*, gathered
by index arithmetic (torchvision's v2 transforms on a batched tensor would draw one crop for
the whole batch). The crop is taken from the replicate-padded image, `pad` = size // 8 pixels
on each side, at an offset drawn uniformly from 0..2*pad in each direction, and the flip is
a coin toss: the per-sample path's distribution.

The parameters are drawn by `draw` on the CPU from torch's global generator (seeded per
epoch by pipeline.engine.loop.fit), so a run's draws do not depend on the device; the pixels are
computed where the batch is. The gather is exact, so one device gives the same bytes for
the same seed; the resize may differ between devices in the last bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pipeline.data.images import IMAGENET_MEAN, IMAGENET_STD


def pad_of(size: int) -> int:
    """The padding of a random crop at `size` pixels (the per-sample path's)."""
    return max(1, size // 8)


@dataclass
class Draws:
    """Per-sample augmentation parameters: crop offsets (N, 2) in 0..2*pad, flips (N,)."""

    offsets: torch.Tensor
    flips: torch.Tensor


def draw(n: int, size: int, flip: bool, generator: torch.Generator | None = None) -> Draws:
    """n crops and flips, drawn on the CPU (from torch's global generator unless given)."""
    pad = pad_of(size)
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    return Draws(offsets, flips)


def crop_flip(x: torch.Tensor, draws: Draws) -> torch.Tensor:
    """Each image of x (N, C, S, S) cropped at its own offset from its replicate-padded
    self, and flipped left-right where its flip says so: exact, by one gather."""
    n, _, size, _ = x.shape
    pad = pad_of(size)
    padded = F.pad(x, (pad,) * 4, mode="replicate")
    offsets = draws.offsets.to(x.device, non_blocking=True)
    flips = draws.flips.to(x.device, non_blocking=True)
    steps = torch.arange(size, device=x.device)
    rows = offsets[:, :1] + steps  # (N, S)
    cols = offsets[:, 1:] + torch.where(flips[:, None], steps.flip(0), steps)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (N, S, S, C)
    return out.permute(0, 3, 1, 2).contiguous()


def normalise(x: torch.Tensor, kind: str) -> torch.Tensor:
    """A batch (N, C, H, W) standardised as images.normalise standardises one image."""
    if kind == "imagenet" and x.shape[1] == 3:
        mean = torch.tensor(IMAGENET_MEAN, device=x.device)[:, None, None]
        std = torch.tensor(IMAGENET_STD, device=x.device)[:, None, None]
        return (x - mean) / std
    return x


def decode(
    x: torch.Tensor, size: int, draws: Draws | None, normalize: str, device: torch.device
) -> torch.Tensor:
    """uint8 images (N, C, H, W) -> floats on `device` at size x size: copied there (without
    waiting, from pinned memory where the loader pinned them), scaled to [0, 1], resized
    (bilinear, antialiased) where stored at another size, cropped and flipped per sample
    with `draws`, then normalised."""
    x = x.to(device, non_blocking=True).float() / 255.0
    if x.shape[-2:] != (size, size):
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    if draws is not None:
        x = crop_flip(x, draws)
    return normalise(x, normalize)
