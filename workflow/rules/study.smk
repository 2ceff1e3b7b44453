# One rule per stage. `params: values=` holds the values of exactly the params keys the
# stage reads (pipeline.params.STAGE_KEYS), so Snakemake reruns the jobs DVC reruns.

CLI = f"python -m pipeline --params {PARAMS}"
ENV = "../../envs/taskhead.yaml"  # used with --software-deployment-method conda


def stage_params(stage, **names):
    return lambda w: P.stage_values(RAW, stage, **{k: v(w) if callable(v) else v for k, v in names.items()})


def backbone_of(w):
    return paths.backbone(STUDY.settings[w.setting].pretrain)


def dataset_of(w):
    return paths.dataset(STUDY.settings[w.setting].data)


rule prepare:
    output: paths.dataset("{dataset}")
    params: values=stage_params("prepare", dataset=lambda w: w.dataset)
    conda: ENV
    log: "logs/prepare/{dataset}.log"
    threads: 1
    shell: "TASKHEAD_THREADS={threads} {CLI} prepare --dataset {wildcards.dataset} 2>&1 | tee {log}"


rule fetch:
    output: "{checkpoint}"
    params:
        values=stage_params("fetch", pretrain=lambda w: CHECKPOINTS[w.checkpoint]),
        name=lambda w: CHECKPOINTS[w.checkpoint],
    conda: ENV
    log: "logs/fetch/{checkpoint}.log"
    shell: "{CLI} fetch --name {params.name} 2>&1 | tee {log}"


rule pretrain:
    input:
        lambda w: paths.dataset(STUDY.pretrain[w.name].data) if w.name in STUDY.pretrain
        else STUDY.imports[w.name].checkpoint,
    output: paths.backbone("{name}")
    params: values=lambda w: P.stage_values(RAW, "pretrain" if w.name in STUDY.pretrain else "import", pretrain=w.name)
    conda: ENV
    log: "logs/pretrain/{name}.log"
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} {CLI} pretrain --name {wildcards.name} 2>&1 | tee {log}"


# HP writes one head per tau of the setting's own grid (runs/SETTING/hp/tauN.pt), then its
# log, which lists them. The grid differs between settings, and an output list cannot
# depend on a wildcard, so the log, written last, stands for the heads.
rule probe:
    input: backbone_of, dataset_of
    output: log=paths.hp_log("{setting}")
    params: values=stage_params("probe", setting=lambda w: w.setting)
    conda: ENV
    log: "logs/probe/{setting}.log"
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} {CLI} probe --setting {wildcards.setting} 2>&1 | tee {log}"


rule finetune:
    input: backbone_of, dataset_of, hp_log=paths.hp_log("{setting}")
    output: paths.ft_model("{setting}", "{tau}")
    params: values=stage_params("finetune", setting=lambda w: w.setting)
    conda: ENV
    log: "logs/finetune/{setting}/tau{tau}.log"
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} {CLI} finetune --setting {wildcards.setting} --tau {wildcards.tau} 2>&1 | tee {log}"


rule evaluate:
    input:
        backbone_of, dataset_of,
        hp_log=paths.hp_log("{setting}"),
        models=lambda w: [paths.ft_model(w.setting, t) for t in STUDY.taus_of(w.setting)],
    output: paths.evaluation("{setting}")
    params: values=stage_params("evaluate", setting=lambda w: w.setting)
    conda: ENV
    log: "logs/evaluate/{setting}.log"
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} {CLI} evaluate --setting {wildcards.setting} 2>&1 | tee {log}"


rule exchange:
    input:
        backbone_of, dataset_of,
        models=lambda w: [paths.ft_model(w.setting, t) for t in STUDY.exchange[w.setting]],
    output: csv=paths.exchange("{setting}", "csv"), png=paths.exchange("{setting}", "png")
    params: values=stage_params("exchange", setting=lambda w: w.setting)
    conda: ENV
    log: "logs/exchange/{setting}.log"
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} {CLI} exchange --setting {wildcards.setting} 2>&1 | tee {log}"


rule aggregate:
    input: [paths.evaluation(s) for s in STUDY.settings]
    output: paths.AGGREGATE_OUTS
    params: values=stage_params("aggregate")
    conda: ENV
    log: "logs/aggregate.log"
    shell: "TASKHEAD_THREADS={threads} {CLI} aggregate 2>&1 | tee {log}"
