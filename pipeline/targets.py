"""The study's job graph as file lists, shared by the Snakefile and the tests."""
from __future__ import annotations

from . import paths
from .params import Study


def final_targets(study: Study) -> list:
    """The results, and the finetuned checkpoints too: the result tables are committed to
    git, so on a fresh clone only the missing checkpoints make Snakemake run the study."""
    return [*paths.AGGREGATE_OUTS, *(paths.exchange(s, ext) for s in study.exchange for ext in ("csv", "png")),
            *(paths.curves(s) for s in study.settings),
            *(paths.ft_model(s, t) for s in study.settings for t in study.taus_of(s))]
