# Helpers of the rules (functions only: Snakemake's lint keeps them apart from rules).


def gpu_per_job():
    """1 where the driver lists a usable GPU (or `--config gpu_per_job=1`, e.g. on a cluster), else 0.
    A cheap probe without torch (pipeline.runtime.device.visible_gpus); each job checks CUDA itself."""
    if "gpu_per_job" in config:
        return int(config["gpu_per_job"])
    from pipeline.runtime.device import visible_gpus

    return 1 if visible_gpus() else 0


def stage_params(stage, per_seed=False, **names):
    """The values of the params keys `stage` reads; a job of one seed leaves out the seed list."""
    drop = stage_keys.PER_SEED_KEYS if per_seed else ()

    def values(w):
        found = stage_keys.stage_values(RAW, stage, **{k: v(w) if callable(v) else v for k, v in names.items()})
        return {k: v for k, v in found.items() if k not in drop}

    return values


def code(stage):
    """The digest of the package files the stage runs (pipeline.workflow.fingerprints): a rule param, so a
    change of their contents (not of their mtimes) reruns the stage's jobs."""
    return fingerprints.digest(stage)


def backbones_of(w):
    return targets.backbones_of(STUDY, w.setting)


def ft_dirs_of(w):
    return targets.ft_dirs(STUDY, w.setting)


def dataset_of(w):
    return paths.dataset(STUDY.settings[w.setting].data)


def data_input(w):
    """A user's data files (`path`: a folder or a CSV): a change of them reruns `prepare`."""
    return STUDY.datasets[w.dataset].get("path") or []


def pretrain_input(w):
    """A backbone trained here needs its dataset (and the weights it starts from, if any);
    an imported one, its checkpoint file."""
    if w.name in STUDY.pretrain:
        entry = STUDY.pretrain[w.name]
        return [paths.dataset(entry.data)] + ([entry.model["weights"]] if entry.model.get("weights") else [])
    return STUDY.imports[w.name].checkpoint


def pretrain_values(w):
    return stage_params("pretrain" if w.name in STUDY.pretrain else "import", per_seed=True, pretrain=w.name)(w)
