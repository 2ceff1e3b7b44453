"""Bring an imported checkpoint into the pipeline: download it when the import has a
`url` (checking its md5 when given), else check that the user's file is there."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from pipeline.engine.loop import progress
from pipeline.errors import PipelineError
from pipeline.io.atomic import atomic_path
from pipeline.io.provenance import digest
from pipeline.params import Study


def run(study: Study, name: str) -> None:
    cfg = study.imports[name]
    target = Path(cfg.checkpoint)
    if cfg.url is None:
        if not target.is_file():
            raise PipelineError(
                f"imports.{name}.checkpoint: expected an existing file, found {str(target)!r}"
            )
        return
    with atomic_path(target) as tmp:
        progress(f"fetch {name}", url=cfg.url)
        try:
            with urllib.request.urlopen(cfg.url) as response, open(tmp, "wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
        except OSError as err:
            raise PipelineError(
                f"imports.{name}.url: expected a reachable file, found {cfg.url!r} ({err})"
            ) from None
        if cfg.md5 and digest(tmp) != cfg.md5:
            raise PipelineError(
                f"imports.{name}.md5: expected {cfg.md5}, found {digest(tmp)} for {cfg.url}"
            )
    progress(f"fetch {name}", saved=str(target), md5=digest(target))
