"""A tiny PASCAL VOC 2012 segmentation tree in the real VOCdevkit layout, for offline tests:
VOCdevkit/VOC2012/{JPEGImages/*.jpg, SegmentationClass/*.png (palette PNGs),
ImageSets/Segmentation/{train,val}.txt}."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

TRAIN = ("2007_000032", "2007_000039", "2007_000063", "2007_000068")
VAL = ("2007_000033", "2007_000042")


def voc_palette() -> list[int]:
    """VOC's colour map: the bits of each index spread over R, G and B, high bits first."""
    palette = []
    for i in range(256):
        rgb, c = [0, 0, 0], i
        for bit in range(8):
            for channel in range(3):
                rgb[channel] |= ((c >> channel) & 1) << (7 - bit)
            c >>= 3
        palette += rgb
    return palette


def save_mask(path: Path, mask: np.ndarray) -> None:
    """A (H, W) uint8 array of class indices as a palette PNG, as VOC ships them."""
    img = Image.frombytes(
        "P", (mask.shape[1], mask.shape[0]), np.ascontiguousarray(mask, np.uint8).tobytes()
    )
    img.putpalette(voc_palette())
    img.save(path)


def class_of(name: str) -> int:
    """The object class the fixture draws in image `name` (1..20)."""
    return int(name[-2:]) % 20 + 1


def write_pair(base: Path, name: str, size: tuple[int, int], rng: np.random.Generator) -> None:
    """A random JPEG and its mask: background, the right half one object, a 3-pixel void band."""
    w, h = size
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
        base / "JPEGImages" / f"{name}.jpg"
    )
    mask = np.zeros((h, w), np.uint8)
    mask[:, w // 2 :] = class_of(name)
    mask[:, w // 2 - 3 : w // 2] = 255
    save_mask(base / "SegmentationClass" / f"{name}.png", mask)


def write_voc(
    root: Path, train=TRAIN, val=VAL, size: tuple[int, int] = (48, 40), seed: int = 0
) -> Path:
    """Write the tree under `root` (pass `root` as the loader's root); returns VOC2012's folder."""
    base = Path(root) / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in (*train, *val):
        write_pair(base, name, size, rng)
    for split, names in (("train", train), ("val", val)):
        (base / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(names) + "\n")
    return base
