"""Batches of in-memory uint8 images, gathered by index and decoded where the model runs.

A DataLoader over images.TensorImages converts, resizes and augments one image per call
and collates the results on the CPU: for small images most of a toy epoch (docs/profile.md),
and on a GPU, the work that held a real epoch to 38% of the step rate (docs/gpu.md).
ImageBatches yields the same batches in the same order (the DataLoader's: one draw of its
generator for its base seed, then a permutation) as RawBatch: the uint8 images of the batch
(pinned where asked, for a copy that does not wait), their labels, and the batch's crop and
flip draws. The family's `unpack` decodes a RawBatch on its device (device_augment.decode).
Without augmentation the decoded batch is the DataLoader's, bit for bit; with it, the draws
differ (one batched draw instead of one per image), their distribution does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pipeline.data.device_augment import Draws, decode, draw
from pipeline.runtime.seeding import generator


@dataclass
class RawBatch:
    x: torch.Tensor  # uint8 (N, C, H, W)
    y: torch.Tensor
    size: int
    draws: Draws | None
    normalize: str

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> torch.Tensor:
        """batch[0], batch[1]: the images (still uint8) and labels, as a DataLoader's (x, y)."""
        return (self.x, self.y)[i]

    def decode(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        x = decode(self.x, self.size, self.draws, self.normalize, device)
        return x, self.y.to(device, non_blocking=True)


class ImageBatches:
    """The batches a DataLoader(ds, batch_size, shuffle, generator=generator(seed)) would
    give, as RawBatch; `ds` is an images.TensorImages."""

    def __init__(self, ds, batch_size: int, shuffle: bool, seed: int, pin_memory: bool = False):
        self.ds, self.batch_size, self.shuffle = ds, batch_size, shuffle
        self.generator, self.pin_memory = generator(seed), pin_memory

    def __len__(self) -> int:
        return -(-len(self.ds) // self.batch_size)

    def __iter__(self):
        ds, n = self.ds, len(self.ds)
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)  # the base seed
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for idx in order.split(self.batch_size):
            x = ds.x[idx]
            if self.pin_memory:
                x = x.pin_memory()
            draws = draw(len(idx), ds.size, ds.flip) if ds.augment else None
            yield RawBatch(x, ds.y[idx], ds.size, draws, ds.normalize)
