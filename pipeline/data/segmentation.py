"""Segmentation data: uint8 images (N, 3, H, W) and uint8 masks (N, H, W), 255 = void.

- `shapes` (the default, offline): scenes generated deterministically from a seed. Each
  scene is a random crop of one of six colour photographs bundled with scikit-image
  (astronaut, chelsea, coffee, rocket, immunohistochemistry, hubble_deep_field), the
  background (class 0), with one to `max_objects` objects on it, later ones occluding
  earlier ones. Object class k is a shape (disc, triangle, square, ring) filled with a
  grey texture photograph (brick, grass, gravel, coins) shrunk 2-3x and tinted by a
  random colour. A one-pixel band just inside every object outline is void (255), like
  the outlines of PASCAL VOC masks.
  Domain shift from the encoder's pretraining (`textures`, images.py: grey patches of
  one photograph each, one label per patch): colour instead of grey, scenes of several
  regions with a label per pixel, object shapes and occlusions, and backgrounds from
  photographs the texture pretraining never sees (it uses the first ten of
  images.TEXTURE_SOURCES; the fills are among them).
- `voc2012`: PASCAL VOC 2012 through torchvision's VOCSegmentation (download=False),
  each image and mask checked, then resized to size x size (bilinear / nearest).
  train.txt gives the train and validation splits, val.txt the test split.
- `maskfolder`: a user's images/ and masks/ (index PNGs, VOC's convention), read and
  checked the same way (mask_folder).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pipeline.data import layout
from pipeline.data.catalog import SHAPES, VOC_CLASSES
from pipeline.data.images import normalise, split_indices
from pipeline.errors import PipelineError

VOID = 255
FILLS = ("brick", "grass", "gravel", "coins")
BACKGROUNDS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
)


class MaskedImages(Dataset):
    """Images and masks in memory, images normalised as `normalize` says (images.normalise);
    `augment` flips image and mask together at random."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        augment: bool = False,
        flip: bool = True,
        normalize: str = "none",
    ):
        self.x, self.y, self.augment, self.flip, self.normalize = x, y, augment, flip, normalize

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        x, y = self.x[i].float() / 255.0, self.y[i].long()
        if self.augment and self.flip and torch.rand(()) < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        return normalise(x, self.normalize), y

    def with_augment(self, augment: bool) -> MaskedImages:
        return MaskedImages(self.x, self.y, augment, self.flip, self.normalize)


# ---- the generated default -----------------------------------------------------------


@cache
def _photo(name: str) -> np.ndarray:
    """A scikit-image photograph as floats in [0, 1] (read-only: crops copy it)."""
    import skimage.data

    photo = getattr(skimage.data, name)().astype(np.float32) / 255.0
    photo.flags.writeable = False
    return photo


def _crop(
    rng: np.random.Generator, photo: np.ndarray, size: int, zoom: tuple[float, float]
) -> np.ndarray:
    """A random square crop of `size * zoom` source pixels, resized to size x size."""
    from skimage.transform import resize

    side = min(int(size * rng.uniform(*zoom)), *photo.shape[:2])
    top, left = (
        rng.integers(0, photo.shape[0] - side + 1),
        rng.integers(0, photo.shape[1] - side + 1),
    )
    return resize(photo[top : top + side, left : left + side], (size, size), anti_aliasing=True)


def _shape(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    """A boolean mask of one shape with a random centre, radius and rotation."""
    from skimage.draw import polygon

    r = rng.uniform(size / 4, size / 2.5)
    cy, cx = rng.uniform(r / 2, size - r / 2, 2)
    yy, xx = np.mgrid[:size, :size]
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    if kind == "disc":
        return d2 <= r**2
    if kind == "ring":
        return (d2 <= r**2) & (d2 >= (r / 2) ** 2)
    corners = {"triangle": 3, "square": 4}[kind]
    angles = rng.uniform(0, 2 * np.pi) + np.arange(corners) * 2 * np.pi / corners
    mask = np.zeros((size, size), bool)
    mask[polygon(cy + r * np.sin(angles), cx + r * np.cos(angles), (size, size))] = True
    return mask


def _scene(
    rng, size: int, classes: int, max_objects: int, photos: dict
) -> tuple[np.ndarray, np.ndarray]:
    """One (size, size, 3) float image in [0, 1] and its (size, size) uint8 mask."""
    from skimage.segmentation import find_boundaries

    img = _crop(rng, photos[BACKGROUNDS[rng.integers(len(BACKGROUNDS))]], size, (1.0, 4.0))
    label = np.zeros((size, size), np.uint8)
    instance = np.zeros((size, size), np.int32)
    for k in range(1, rng.integers(1, max_objects + 1) + 1):
        c = int(rng.integers(1, classes))
        inside = _shape(rng, SHAPES[c - 1], size)
        fill = _crop(rng, photos[FILLS[c - 1]], size, (2.0, 3.0))[..., None] * rng.uniform(
            0.7, 1.0, 3
        )
        img[inside], label[inside], instance[inside] = fill[inside], c, k
    label[find_boundaries(instance, mode="inner")] = VOID
    return img, label


def shapes(
    n: int, size: int, classes: int, max_objects: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` generated scenes: uint8 images (n, 3, size, size) and masks (n, size, size)."""
    photos = {name: _photo(name) for name in BACKGROUNDS + FILLS[: classes - 1]}
    rng = np.random.default_rng(seed)
    imgs, labels = zip(
        *(_scene(rng, size, classes, max_objects, photos) for _ in range(n)), strict=True
    )
    x = torch.from_numpy(np.round(np.stack(imgs) * 255).astype(np.uint8)).permute(0, 3, 1, 2)
    return x.contiguous(), torch.from_numpy(np.stack(labels))


# ---- PASCAL VOC 2012 ----------------------------------------------------------------


def check_mask(
    mask: np.ndarray, mask_file, image_size: tuple[int, int], image_file, classes: int
) -> None:
    """Raise PipelineError unless `mask` is one channel of class indices or void, the image's size."""
    if mask.ndim != 2:
        raise PipelineError(
            f"{mask_file}: expected a single-channel (palette) mask, found shape {mask.shape}"
        )
    if mask.shape != image_size:
        raise PipelineError(
            f"{image_file} and {mask_file}: expected an image and mask of the same size, "
            f"found {image_size[1]}x{image_size[0]} and {mask.shape[1]}x{mask.shape[0]}"
        )
    bad = sorted(set(np.unique(mask).tolist()) - set(range(classes)) - {VOID})
    if bad:
        raise PipelineError(
            f"{mask_file}: expected class indices 0..{classes - 1} or {VOID} (void), found {bad}"
        )


def read_pairs(
    pairs: list[tuple[Path, Path]], size: int, classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(image file, mask file) pairs, each checked (check_mask) and resized to size x size
    (bilinear / nearest): uint8 images (n, 3, size, size) and masks (n, size, size)."""
    from PIL import Image

    xs, ys = [], []
    for image_file, mask_file in pairs:
        img, m = layout.open_image(image_file), np.asarray(layout.open_image(mask_file, mode=None))
        check_mask(m, Path(mask_file), img.size[::-1], Path(image_file), classes)
        xs.append(np.asarray(img.resize((size, size), Image.BILINEAR)))
        ys.append(np.asarray(Image.fromarray(m).resize((size, size), Image.NEAREST)))
    return torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(
        np.stack(ys)
    )


def voc(
    root: str, image_set: str, size: int, limit: int | None = None, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """One VOC 2012 image list (train or val), checked and resized to size x size; only the
    prepare stage of a study that sets `download: true` may fetch it."""
    from torchvision.datasets import VOCSegmentation

    try:
        ds = VOCSegmentation(root, year="2012", image_set=image_set, download=download)
    except RuntimeError as err:
        raise PipelineError(
            f"data.root: expected VOCdevkit/VOC2012 under {root!r} (this pipeline never "
            f"downloads at run time), found: {err}"
        ) from None
    if not ds.images:
        raise PipelineError(f"{root}: expected images in VOC2012 {image_set}.txt, found none")
    return read_pairs(list(zip(ds.images, ds.masks, strict=True))[:limit], size, VOC_CLASSES)


# ---- a user's mask folder ----------------------------------------------------------------


def mask_folder(
    root: str, size: int, classes: int, fractions: tuple[float, float], seed: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{split: (images, masks)} of ROOT/images and ROOT/masks (same stems). train.txt,
    val.txt and test.txt list the stems of a split; a missing list is drawn from the
    training stems (train.txt, else every stem no other list names), seeded."""
    images, masks, lists = layout.mask_folder(root)
    listed = {s for split in ("val", "test") for s in lists.get(split, [])}
    pool = lists.get("train") or sorted(set(images) - listed)
    drawn = tuple(0.0 if s in lists else f for s, f in zip(("val", "test"), fractions, strict=True))
    parts = dict(zip(("train", "val", "test"), split_indices(len(pool), drawn, seed), strict=True))
    stems = {
        s: lists[s] if s != "train" and s in lists else [pool[i] for i in idx]
        for s, idx in parts.items()
    }
    return {
        s: read_pairs([(images[t], masks[t]) for t in st], size, classes) for s, st in stems.items()
    }
