"""The study's job graph as file lists, shared by the Snakefile and the tests."""

from __future__ import annotations

from pipeline.io import paths
from pipeline.params import Study
from pipeline.report.advice_paths import advice_files
from pipeline.workflow import fingerprints


def backbones_of(study: Study, setting: str) -> list:
    """The backbone files a setting's replicates start from."""
    pretrain = study.settings[setting].pretrain
    return [
        paths.backbone(pretrain, s)
        for s in dict.fromkeys(study.backbone_seed(x) for x in study.seeds)
    ]


def ft_dirs(study: Study, setting: str) -> list:
    return [paths.ft_seed_dir(setting, s) for s in study.seeds]


def final_targets(study: Study) -> list:
    """The results, and the finetuned checkpoints too: the result tables are committed to
    git, so on a fresh clone only the missing checkpoints make Snakemake run the study."""
    return [
        *paths.AGGREGATE_OUTS,
        *advice_files(),
        paths.PARAMS_JSON,
        *(fingerprints.fingerprint_file(s) for s in fingerprints.STAGES),
        *(paths.exchange(s, ext) for s in study.exchange for ext in ("csv", "png")),
        *(d for s in study.settings for d in (paths.curves(s), paths.train_curves(s))),
        *(d for s in study.settings for d in ft_dirs(study, s)),
    ]
