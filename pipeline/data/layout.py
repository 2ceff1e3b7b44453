"""The layout of a user's data files, checked without reading them (and without torch):
what `validate` checks before any job runs, and `prepare` again before it reads.

- `imagefolder`: ROOT/train/CLASS/* (torchvision's ImageFolder), optional ROOT/val, ROOT/test;
- `maskfolder`: ROOT/images/STEM.*, ROOT/masks/STEM.png, optional ROOT/{train,val,test}.txt;
- `csv`: a header with the SMILES column and the label columns.
Each error is one line naming the path, what was expected and what was found; the same
for open_image, which `prepare` and `init` read every image and mask with.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pipeline.errors import PipelineError

SPLITS = ("train", "val", "test")


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _folder(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise PipelineError(
            f"{path}: expected {what}, found {'a file' if path.exists() else 'nothing'}"
        )
    return path


def image_folder(root: str | Path) -> dict[str, Path]:
    """{split: folder} for the splits present; train has 2+ class folders, none is empty."""
    root = Path(root)
    found = {s: root / s for s in SPLITS if (root / s).is_dir()}
    _folder(root / "train", "a train/ folder of class folders (train/CLASS/*.png)")
    for split, folder in found.items():
        classes = [p for p in _visible(folder) if p.is_dir()]
        if len(classes) < (2 if split == "train" else 1):
            raise PipelineError(
                f"{folder}: expected at least 2 class folders, found {len(classes)} "
                f"{[p.name for p in classes]}"
            )
        for c in classes:
            if not any(p.is_file() for p in _visible(c)):
                raise PipelineError(f"{c}: expected image files in this class folder, found none")
    return found


def mask_folder(root: str | Path) -> tuple[dict[str, Path], dict[str, Path], dict[str, list[str]]]:
    """(images by stem, masks by stem, {split: stems} of the split lists present): every
    image has a mask of the same stem and back, and every listed stem exists."""
    root = Path(root)
    images = {
        p.stem: p for p in _visible(_folder(root / "images", "an images/ folder")) if p.is_file()
    }
    masks = {
        p.stem: p
        for p in _visible(_folder(root / "masks", "a masks/ folder of index PNGs"))
        if p.is_file()
    }
    if not images:
        raise PipelineError(f"{root / 'images'}: expected image files, found none")
    for a, b, where in ((images, masks, "masks"), (masks, images, "images")):
        alone = sorted(set(a) - set(b))
        if alone:
            raise PipelineError(
                f"{root / where}: expected a file for every stem of the other folder, found none "
                f"for {alone[:5]}{' ...' if len(alone) > 5 else ''}"
            )
    lists = {}
    for split in SPLITS:
        file = root / f"{split}.txt"
        if file.is_file():
            lists[split] = [s for s in file.read_text().split() if s]
            unknown = sorted(set(lists[split]) - set(images))
            if unknown or not lists[split]:
                raise PipelineError(
                    f"{file}: expected stems of images/, found "
                    f"{'unknown ' + str(unknown[:5]) if unknown else 'none'}"
                )
    return images, masks, lists


def csv_columns(path: str | Path, smiles_column: str, label_columns: list[str] | None) -> list[str]:
    """The label columns of a CSV of SMILES (default: every column but the SMILES one)."""
    file = Path(path)
    if not file.is_file():
        raise PipelineError(
            f"{file}: expected a CSV of SMILES and labels, found nothing at that path"
        )
    with open(file, newline="") as f:
        header = next(csv.reader(f), [])
    if smiles_column not in header:
        raise PipelineError(
            f"{file}: expected a SMILES column {smiles_column!r}, found columns {header}"
        )
    tasks = label_columns or [c for c in header if c != smiles_column]
    missing = [c for c in tasks if c not in header]
    if missing or not tasks:
        raise PipelineError(
            f"{file}: expected label columns {missing or '(at least one)'}, found columns {header}"
        )
    return tasks


def check(cfg) -> None:
    """The layout check of a `data` block that reads a user's files (no check for the others)."""
    if cfg.dataset == "imagefolder":
        image_folder(cfg.path)
    elif cfg.dataset == "maskfolder":
        mask_folder(cfg.path)
    elif cfg.dataset == "csv":
        csv_columns(cfg.path, cfg.smiles_column, cfg.label_columns)


def open_image(path, mode: str = "RGB"):
    """A PIL image read in full (converted to `mode` unless None), or PipelineError naming the file."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            return img.convert(mode) if mode else img.copy()
    except Exception as err:  # PIL raises several types for a bad file
        raise PipelineError(
            f"{path}: expected an image file, found an unreadable one ({err})"
        ) from None
