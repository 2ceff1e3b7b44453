"""Tiny image datasets written in the real on-disk formats torchvision reads.

The official archives carry md5 sums that no fixture can match, so tests bypass only
torchvision's integrity check; the real parsing code runs on these files.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


def _pickle(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def cifar10(root: Path, n: int = 20, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    base = root / "cifar-10-batches-py"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        _pickle(
            base / name,
            {
                "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                "labels": rng.integers(0, 10, n).tolist(),
            },
        )
    _pickle(base / "batches.meta", {"label_names": [f"class{i}" for i in range(10)]})


def cifar100(root: Path, n: int = 40, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    base = root / "cifar-100-python"
    for name in ("train", "test"):
        _pickle(
            base / name,
            {
                "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                "fine_labels": rng.integers(0, 100, n).tolist(),
                "coarse_labels": rng.integers(0, 20, n).tolist(),
            },
        )
    _pickle(base / "meta", {"fine_label_names": [f"c{i}" for i in range(100)]})


def stl10(root: Path, n: int = 12, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    base = root / "stl10_binary"
    base.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        # column-major 3 x 96 x 96 uint8 images; labels 1..10 as uint8
        rng.integers(0, 256, n * 3 * 96 * 96, dtype=np.uint8).tofile(base / f"{split}_X.bin")
        (np.arange(n) % 10 + 1).astype(np.uint8).tofile(base / f"{split}_y.bin")
    (base / "class_names.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n")
    rng.integers(0, 256, 2 * 3 * 96 * 96, dtype=np.uint8).tofile(base / "unlabeled_X.bin")


def mnist(root: Path, n: int = 60, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes()
        )
        labels = (np.arange(n) % 10).astype(np.uint8)
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + labels.tobytes()
        )


def flowers102(root: Path, n: int = 24, seed: int = 0) -> None:
    """jpg files of several sizes, imagelabels.mat (labels 1..102) and setid.mat; as in the
    real file, `tstid` is the largest split (2/3 of the images here)."""
    from PIL import Image
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    base = root / "flowers-102"
    (base / "jpg").mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        h, w = rng.integers(40, 80, 2)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            base / "jpg" / f"image_{i:05d}.jpg"
        )
    savemat(base / "imagelabels.mat", {"labels": (np.arange(n) % 4 + 1).reshape(1, -1)})
    ids = np.arange(1, n + 1)
    trn, val = ids[0::6], ids[1::6]
    tst = np.setdiff1d(ids, np.concatenate([trn, val]))
    savemat(
        base / "setid.mat",
        {"trnid": trn.reshape(1, -1), "valid": val.reshape(1, -1), "tstid": tst.reshape(1, -1)},
    )


WRITERS = {
    "cifar10": cifar10,
    "cifar100": cifar100,
    "stl10": stl10,
    "mnist": mnist,
    "flowers102": flowers102,
}
