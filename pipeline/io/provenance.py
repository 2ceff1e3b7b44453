"""Content digests that an artifact records of the files it was made from.

A head saved at tau = 0 depends on the seed alone, not on the backbone or the data;
recording their digests in it makes its bytes change whenever they do, so DVC (which
hashes contents) reruns everything downstream of a changed backbone or dataset.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def digest(path: str | Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def inputs(**files: str | Path) -> dict[str, str]:
    return {name: digest(path) for name, path in files.items()}
