"""`imagefolder`: a user's images in torchvision's ImageFolder layout, read once by `prepare`.

ROOT/train/CLASS/* gives the classes (sorted folder names, as ImageFolder numbers them);
ROOT/val and ROOT/test are optional, and a missing one is drawn from train, stratified by
class and seeded (images.split_indices). Every image is read with torchvision's
ImageFolder, converted to RGB and squared to `store_size` (shorter side resized, centre
crop), and kept as uint8 (a quarter of float32's memory: 10,000 images of 224 px take 1.5 GB);
a file that is no image is refused, naming it. Floats are made per batch, at load time
(images.TensorImages).
"""

from __future__ import annotations

from pathlib import Path

import torch

from pipeline.data import layout
from pipeline.data.images import _square, split_indices
from pipeline.errors import PipelineError


def _read(
    folder: Path, store_size: int, classes: list[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(x uint8, y, classes) of one split folder, labelled by `classes` (default: its own)."""
    from torchvision.datasets import ImageFolder

    ds = ImageFolder(
        str(folder),
        loader=layout.open_image,
        transform=lambda img: _square(img, store_size),
        is_valid_file=lambda p: not Path(p).name.startswith("."),
    )
    classes = classes or ds.classes
    unknown = sorted(set(ds.classes) - set(classes))
    if unknown:
        raise PipelineError(
            f"{folder}: expected the class folders of train/ {classes}, found also {unknown}"
        )
    x = torch.empty((len(ds), 3, store_size, store_size), dtype=torch.uint8)
    for i in range(len(ds)):  # filled in place: no list of images beside the tensor
        x[i] = ds[i][0]
    return x, torch.tensor([classes.index(ds.classes[t]) for t in ds.targets]), classes


def read(
    root: str, store_size: int, fractions: tuple[float, float], seed: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{split: (x, y)} of the folder ROOT; `fractions` (val, test) of train for missing splits."""
    folders = layout.image_folder(root)
    x, y, classes = _read(folders["train"], store_size)
    drawn = tuple(
        0.0 if s in folders else f for s, f in zip(("val", "test"), fractions, strict=True)
    )
    parts = dict(
        zip(
            ("train", "val", "test"),
            split_indices(len(y), drawn, seed, labels=y.numpy()),
            strict=True,
        )
    )
    return {
        s: _read(folders[s], store_size, classes)[:2]
        if s != "train" and s in folders
        else (x[i], y[i])
        for s, i in parts.items()
    }
