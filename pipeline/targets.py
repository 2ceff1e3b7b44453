"""The study's job graph as file lists, shared by the Snakefile and the tests."""
from __future__ import annotations

from . import paths
from .params import Study


def final_targets(study: Study) -> list:
    return [*paths.AGGREGATE_OUTS, *(paths.exchange(s, ext) for s in study.exchange for ext in ("csv", "png"))]
