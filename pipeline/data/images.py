"""Image classification data, stored as (N, C, H, W) uint8 tensors by the prepare stage.

Offline, from data shipped inside installed packages:
- `digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes);
- `digits012`: the paper's toy downstream task: digits 0/1/2 with random rotation and
  zoom, generated deterministically from a seed (source images never cross splits);
  `mnist012` is the same task drawn from torchvision's MNIST (the paper profile's toy);
- `textures`: patches cut from scikit-image's bundled photographs (brick, grass,
  gravel, camera, coins, ...), one class per photograph.
Real loaders: torchvision's CIFAR10, CIFAR100, STL10, MNIST and Flowers102, read from
`root`; only the prepare stage may download. Flowers102 follows the paper's Table 4:
its 6,149-image `test` split is the training pool, `train` + `val` (2,040) the test set.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from pipeline.data.catalog import TEXTURE_SOURCES
from pipeline.errors import PipelineError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def normalise(x: torch.Tensor, kind) -> torch.Tensor:
    """An image (C, H, W) in [0, 1], standardised as its backbone was trained: `imagenet`
    uses torchvision's ImageNet mean and std (RGB only), a `mean` and `std` per channel
    (configs.Normalize: a timm model's own) those, `none` leaves it as is."""
    if kind == "imagenet" and x.shape[0] == 3:
        return (x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[
            :, None, None
        ]
    if isinstance(kind, str):
        return x
    return (x - torch.tensor(kind.mean)[:, None, None]) / torch.tensor(kind.std)[:, None, None]


class TensorImages(Dataset):
    """uint8 images in memory, served as floats at `size` (resized on access when stored at
    another size), optionally normalised; `augment` adds a random crop and flip per access."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        size: int,
        augment: bool = False,
        flip: bool = False,
        normalize: str = "none",
    ):
        self.x, self.y, self.size, self.augment, self.flip, self.normalize = (
            x,
            y,
            size,
            augment,
            flip,
            normalize,
        )

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        x = self.x[i].float() / 255.0
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(
                x[None],
                size=(self.size, self.size),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )[0]
        if self.augment:
            pad = max(1, self.size // 8)
            x = F.pad(x[None], (pad,) * 4, mode="replicate")[0]
            top, left = torch.randint(0, 2 * pad + 1, (2,)).tolist()
            x = x[:, top : top + self.size, left : left + self.size]
            if self.flip and torch.rand(()) < 0.5:
                x = x.flip(-1)
        return normalise(x, self.normalize), self.y[i]

    def with_augment(self, augment: bool) -> TensorImages:
        return TensorImages(self.x, self.y, self.size, augment, self.flip, self.normalize)


def to_uint8(x: torch.Tensor, channels: int, size: int) -> torch.Tensor:
    """(N, C, H, W) uint8, or floats in [0, 1] -> uint8 with `channels` (grey average or
    replicated), resized to size x size (stored once by the prepare stage). uint8 input of
    that shape is kept as it is; otherwise 512 images at a time go through floats, so that
    the floats of a large image set never exist all at once."""
    if x.dtype == torch.uint8 and x.shape[1] == channels and x.shape[-2:] == (size, size):
        return x.contiguous()
    return torch.cat([_quantise(c, channels, size) for c in x.split(512)])


def _quantise(x: torch.Tensor, channels: int, size: int) -> torch.Tensor:
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    if x.shape[1] != channels:
        x = x.mean(1, keepdim=True).expand(-1, channels, -1, -1)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).contiguous()


def split_indices(
    n: int, fractions: tuple[float, float], seed: int, labels=None
) -> tuple[np.ndarray, ...]:
    """A seeded (train, val, test) split, stratified by label when labels are given; a
    fraction of 0 leaves that split empty."""
    from sklearn.model_selection import train_test_split

    # Stratified where the counts allow it (tiny data: at random)
    def draw(pool, size, seed, strat):
        try:
            return train_test_split(pool, test_size=size, random_state=seed, stratify=strat)
        except ValueError:
            return train_test_split(pool, test_size=size, random_state=seed)

    idx = np.arange(n)
    val_f, test_f = fractions
    if labels is not None and np.unique(labels, return_counts=True)[1].min() < 3:
        labels = None  # too few samples of some class to stratify (tiny data): split at random
    rest, test = draw(idx, test_f, seed, labels) if test_f else (idx, idx[:0])
    strat = None if labels is None else np.asarray(labels)[rest]
    train, val = draw(rest, val_f / (1 - test_f), seed + 1, strat) if val_f else (rest, idx[:0])
    return np.sort(train), np.sort(val), np.sort(test)


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return torch.tensor(d.images / 16.0, dtype=torch.float32).unsqueeze(1), torch.tensor(d.target)


def rotate_zoom(
    x: torch.Tensor, n: int, rotation: float, zoom: tuple[float, float], seed: int
) -> torch.Tensor:
    """n random rotations (+-rotation degrees) and zooms of images drawn from x, seeded."""
    from torchvision.transforms.v2 import functional as TF

    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, len(x), (n,), generator=g)
    angles = (torch.rand(n, generator=g) * 2 - 1) * rotation
    scales = zoom[0] + torch.rand(n, generator=g) * (zoom[1] - zoom[0])
    big = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
    out = torch.stack(
        [
            TF.affine(big[p], angle=float(a), translate=[0, 0], scale=float(s), shear=[0.0])
            for p, a, s in zip(pick.tolist(), angles, scales, strict=True)
        ]
    )
    return out


def digits012(
    x: torch.Tensor,
    y: torch.Tensor,
    n_per_class: int,
    rotation: float,
    zoom: tuple[float, float],
    fractions,
    seed: int,
):
    """The toy downstream task from digit images (x, y: floats in [0, 1], or uint8); returns
    {split: (x, y)} built per split from disjoint source images."""
    keep = y <= 2
    x, y = x[keep], y[keep]
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    parts = split_indices(len(y), fractions, seed, labels=y.numpy())
    out = {}
    for name, idx, share in zip(
        ("train", "val", "test"), parts, (1 - sum(fractions), *fractions), strict=True
    ):
        xs, ys = [], []
        for c in range(3):
            src = x[idx][y[idx] == c]
            m = max(1, round(n_per_class * share))
            xs.append(rotate_zoom(src, m, rotation, zoom, seed * 1000 + c * 10 + len(out)))
            ys.append(torch.full((m,), c))
        out[name] = (torch.cat(xs), torch.cat(ys))
    return out


def textures(
    n_per_class: int, classes: int, crop: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crop x crop grey patches of `classes` scikit-image photographs, seeded."""
    import skimage.data
    from skimage.color import rgb2gray

    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c, name in enumerate(TEXTURE_SOURCES[:classes]):
        img = getattr(skimage.data, name)()
        img = rgb2gray(img) if img.ndim == 3 else img / 255.0
        h, w = img.shape
        tops, lefts = rng.integers(0, h - crop, n_per_class), rng.integers(0, w - crop, n_per_class)
        xs.append(
            np.stack(
                [img[t : t + crop, left : left + crop] for t, left in zip(tops, lefts, strict=True)]
            )
        )
        ys.append(np.full(n_per_class, c))
    return torch.tensor(np.concatenate(xs), dtype=torch.float32).unsqueeze(1), torch.tensor(
        np.concatenate(ys)
    )


TORCHVISION = {
    "cifar10": "CIFAR10",
    "cifar100": "CIFAR100",
    "stl10": "STL10",
    "mnist": "MNIST",
    "flowers102": "Flowers102",
}


def _square(img, size: int) -> torch.Tensor:
    """A PIL image -> uint8 (3, size, size): shorter side resized to `size`, centre crop."""
    from torchvision.transforms.v2 import functional as TF

    img = TF.center_crop(
        TF.resize(TF.pil_to_tensor(img.convert("RGB")), size, antialias=True), [size, size]
    )
    return img


def torchvision_split(
    name: str, root: str, train: bool, download: bool = False, store_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """A torchvision dataset read from `root` as uint8 tensors (N, C, H, W). Only the prepare
    stage may pass download=True (the paper profile); the default study never does."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, TORCHVISION[name])
    # Flowers102 swaps its splits (Table 4 of the paper): train on `test`, test on `train` + `val`.
    split = (
        ("test" if train else "train") if name == "flowers102" else ("train" if train else "test")
    )
    kwargs = {"split": split} if name in ("stl10", "flowers102") else {"train": train}
    try:
        ds = cls(root, download=download, **kwargs)
    except RuntimeError as err:
        raise PipelineError(
            f"data.root: expected {TORCHVISION[name]} files under {root!r} (set `download: true` "
            f"to let the prepare stage fetch them), found: {err}"
        ) from None
    if name == "flowers102":  # jpg files of many sizes: squared once to store_size
        parts = [ds] if train else [ds, cls(root, split="val", download=download)]
        x = torch.stack([_square(d.loader(f), store_size) for d in parts for f in d._image_files])
        y = torch.tensor([label for d in parts for label in d._labels])
        return x, y
    x = torch.as_tensor(np.asarray(ds.data))
    if x.dim() == 3:  # MNIST: (N, H, W)
        x = x.unsqueeze(1)
    elif x.shape[-1] == 3:  # CIFAR: (N, H, W, C)
        x = x.permute(0, 3, 1, 2)
    y = torch.as_tensor(np.asarray(ds.labels if name == "stl10" else ds.targets))
    return x, y
