"""What the `check` stage writes: the study with its defaults (results/params.json, where
DVC's stages read their params) and each stage's code fingerprint (results/code/STAGE.txt);
and whether the files on disk already hold exactly that.

Snakemake reruns `check` on a change of the study or the code through its own records,
but a fresh clone has none: there, `stale` is what tells it that params.yaml or the code
was edited after the committed files were written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipeline.io import paths
from pipeline.io.atomic import write_text
from pipeline.workflow import fingerprints

MARKERS = Path(".snakemake") / "taskhead"  # where the Snakefile's `check` leaves its markers


def expected(study) -> dict[Path, str]:
    """Each file `check` writes, with its text."""
    files = {
        Path(paths.PARAMS_JSON): json.dumps(study.model_dump(mode="json"), indent=2, sort_keys=True)
        + "\n"
    }
    files.update(
        {
            Path(fingerprints.fingerprint_file(s)): fingerprints.fingerprint(s)
            for s in fingerprints.STAGES
        }
    )
    return files


def write(study) -> None:
    for path, text in expected(study).items():
        write_text(path, text)


def stale(study) -> list[Path]:
    """The files of `check` that are missing or differ from what it would write now."""
    return [p for p, text in expected(study).items() if not p.is_file() or p.read_text() != text]


def stale_marker(study) -> list[str]:
    """[] when `check`'s files hold what it would write; else one marker file, named by the
    files' expected and present contents, which the Snakefile adds to `check`'s outputs and
    to the final targets: a requested file that is missing makes Snakemake run `check`,
    records or not."""
    files = stale(study)
    if not files:
        return []
    texts = expected(study)
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p}\0{texts[p]}\0{p.read_text() if p.is_file() else ''}\0".encode())
    return [str(MARKERS / f"check-stale-{h.hexdigest()[:16]}")]
