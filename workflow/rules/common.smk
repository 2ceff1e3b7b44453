# Helpers of the rules (functions only: Snakemake's lint keeps them apart from rules).


def gpu_per_job():
    """1 where CUDA is present (or `--config gpu_per_job=1`, e.g. on a cluster), else 0."""
    if "gpu_per_job" in config:
        return int(config["gpu_per_job"])
    import torch

    return 1 if torch.cuda.is_available() else 0


def stage_params(stage, **names):
    return lambda w: P.stage_values(RAW, stage, **{k: v(w) if callable(v) else v for k, v in names.items()})


def backbone_of(w):
    return paths.backbone(STUDY.settings[w.setting].pretrain)


def dataset_of(w):
    return paths.dataset(STUDY.settings[w.setting].data)


def pretrain_input(w):
    """A backbone trained here needs its dataset; an imported one, its checkpoint file."""
    if w.name in STUDY.pretrain:
        return paths.dataset(STUDY.pretrain[w.name].data)
    return STUDY.imports[w.name].checkpoint


def pretrain_values(w):
    return P.stage_values(RAW, "pretrain" if w.name in STUDY.pretrain else "import", pretrain=w.name)
