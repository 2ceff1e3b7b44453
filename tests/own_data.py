"""A user's own files, generated: an ImageFolder of scikit-learn's digits as PNGs, a mask
folder of shape scenes, random timm weights in a .safetensors file, and all of them together
as docs/your-own-study.md reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def digits_folder(root: Path, classes: int = 3, per_class: int = 12, splits=("train",)) -> Path:
    """ROOT/SPLIT/dK/*.png: 8x8 grey digits 0..classes-1, `per_class` per class and split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    for s, split in enumerate(splits):
        for c in range(classes):
            folder = root / split / f"d{c}"
            folder.mkdir(parents=True, exist_ok=True)
            picks = np.flatnonzero(d.target == c)[s * per_class : (s + 1) * per_class]
            for i in picks:
                Image.fromarray((d.images[i] * 255 / 16).astype(np.uint8)).save(folder / f"{i}.png")
    return root


def mask_folder(root: Path, n: int = 16, size: int = 16, classes: int = 3, seed: int = 0) -> Path:
    """ROOT/images/sK.png (RGB noise with squares and discs) and ROOT/masks/sK.png (class
    indices, a void 255 border around each object)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:size, :size]
    for k in range(n):
        img = rng.integers(0, 80, (size, size, 3)).astype(np.uint8)
        mask = np.zeros((size, size), np.uint8)
        for c in range(1, classes):
            cy, cx, r = *rng.integers(3, size - 3, 2), size // 5
            inside = (
                (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
                if c % 2
                else (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            )
            ring = ((abs(yy - cy) <= r + 1) & (abs(xx - cx) <= r + 1)) & ~inside
            img[inside], mask[ring], mask[inside] = (60 * c, 255 - 60 * c, 120), 255, c
        Image.fromarray(img).save(root / "images" / f"s{k}.png")
        Image.fromarray(mask).save(root / "masks" / f"s{k}.png")
    return root


def timm_weights(path: Path, name: str = "resnet10t") -> Path:
    """Random weights of timm model `name`, classifier included, saved as safetensors."""
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    save_file(
        {
            k: v.contiguous()
            for k, v in timm.create_model(name, pretrained=False).state_dict().items()
        },
        path,
    )
    return path


def own_files(root) -> None:
    """What the page's commands read: photos/, scenes/, molecules.csv and three weight files."""
    import pandas as pd
    import torch

    from pipeline.families import get_family
    from pipeline.models.resnet import ResNetBackbone

    digits_folder(root / "photos", per_class=12)
    mask_folder(root / "scenes", n=6)
    pd.DataFrame({"smiles": ["CCO", "c1ccccc1O"], "toxic": [1, 0]}).to_csv(
        root / "molecules.csv", index=False
    )
    timm_weights(root / "resnet10t.safetensors")
    torch.save(ResNetBackbone(18).state_dict(), root / "resnet18.pth")
    mol = get_family("molecules")
    torch.save(mol.backbone(mol.ModelCfg()).state_dict(), root / "gcn.pt")
