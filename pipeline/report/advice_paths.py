"""Where `python -m pipeline advise` writes, in the study's results folder (light: the
Snakefile and pipeline.workflow.targets import it)."""

from __future__ import annotations

from pathlib import Path

from pipeline.io import paths

NAMES = ("advice.md", "advice.json", "advice-followup.yaml")


def advice_files() -> list[Path]:
    """advice.md, advice.json and the follow-up study file."""
    return [paths.RESULTS / n for n in NAMES]
