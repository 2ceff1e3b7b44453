# One rule per stage. `params: values=` holds the values of exactly the params keys the
# stage reads (pipeline.params.STAGE_KEYS), so Snakemake reruns the jobs DVC reruns.
# Every job records its wall time, CPU time and peak memory under benchmarks/ (TSV).
# The jobs read the study from $TASKHEAD_PARAMS, which the Snakefile sets: its path is no
# provenance (only the values each stage reads are), so a switch of file reruns only
# what the values change.

ENV = "../../envs/taskhead.yaml"  # used with --software-deployment-method conda


rule prepare:
    output: paths.dataset("{dataset}")
    params: values=stage_params("prepare", dataset=lambda w: w.dataset)
    conda: ENV
    log: "logs/prepare/{dataset}.log"
    benchmark: "benchmarks/prepare/{dataset}.tsv"
    threads: 1
    shell: "TASKHEAD_THREADS={threads} python -m pipeline prepare --dataset {wildcards.dataset} 2>&1 | tee {log}"


rule fetch:
    output: "{checkpoint}"
    params:
        values=stage_params("fetch", pretrain=lambda w: CHECKPOINTS[w.checkpoint]),
        name=lambda w: CHECKPOINTS[w.checkpoint],
    conda: ENV
    log: "logs/fetch/{checkpoint}.log"
    benchmark: "benchmarks/fetch/{checkpoint}.tsv"
    shell: "python -m pipeline fetch --name {params.name} 2>&1 | tee {log}"


rule pretrain:
    input: pretrain_input
    output: paths.backbone("{name}")
    params: values=pretrain_values
    conda: ENV
    log: "logs/pretrain/{name}.log"
    benchmark: "benchmarks/pretrain/{name}.tsv"
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} python -m pipeline pretrain --name {wildcards.name} 2>&1 | tee {log}"


# HP writes one head per tau of the setting's own grid (runs/SETTING/hp/tauN.pt), then its
# log, which lists them. The grid differs between settings, and an output list cannot
# depend on a wildcard, so the log, written last, stands for the heads.
rule probe:
    input: backbone_of, dataset_of
    output: log=paths.hp_log("{setting}")
    params: values=stage_params("probe", setting=lambda w: w.setting)
    conda: ENV
    log: "logs/probe/{setting}.log"
    benchmark: "benchmarks/probe/{setting}.tsv"
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} python -m pipeline probe --setting {wildcards.setting} 2>&1 | tee {log}"


rule finetune:
    input: backbone_of, dataset_of, hp_log=paths.hp_log("{setting}")
    output: paths.ft_model("{setting}", "{tau}")
    params: values=stage_params("finetune", setting=lambda w: w.setting)
    conda: ENV
    log: "logs/finetune/{setting}/tau{tau}.log"
    benchmark: "benchmarks/finetune/{setting}/tau{tau}.tsv"
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} python -m pipeline finetune --setting {wildcards.setting} --tau {wildcards.tau} 2>&1 | tee {log}"


rule evaluate:
    input:
        backbone_of, dataset_of,
        hp_log=paths.hp_log("{setting}"),
        models=lambda w: [paths.ft_model(w.setting, t) for t in STUDY.taus_of(w.setting)],
    output:
        evaluation=paths.evaluation("{setting}"),
        curves=directory(paths.curves("{setting}")),
    params: values=stage_params("evaluate", setting=lambda w: w.setting)
    conda: ENV
    log: "logs/evaluate/{setting}.log"
    benchmark: "benchmarks/evaluate/{setting}.tsv"
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} python -m pipeline evaluate --setting {wildcards.setting} 2>&1 | tee {log}"


rule exchange:
    input:
        backbone_of, dataset_of,
        models=lambda w: [paths.ft_model(w.setting, t) for t in STUDY.exchange[w.setting]],
    output:
        csv=paths.exchange("{setting}", "csv"),
        png=report(paths.exchange("{setting}", "png"), caption="../report/exchange.rst", category="Head exchange"),
    params: values=stage_params("exchange", setting=lambda w: w.setting)
    conda: ENV
    log: "logs/exchange/{setting}.log"
    benchmark: "benchmarks/exchange/{setting}.tsv"
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} python -m pipeline exchange --setting {wildcards.setting} 2>&1 | tee {log}"


rule aggregate:
    input: [paths.evaluation(s) for s in STUDY.settings]
    output:
        report(paths.SUMMARY, caption="../report/summary.rst", category="Results"),
        *[report(t, caption="../report/tables.rst", category="Tables") for t in (paths.TABLE1, paths.TABLE2,
                                                                               paths.TABLE3, paths.TRENDS)],
        paths.METRICS,
        *[report(p, caption="../report/plots.rst", category="Plots") for p in (paths.FIG_VAL, paths.FIG_Z)],
    params: values=stage_params("aggregate")
    conda: ENV
    log: "logs/aggregate.log"
    benchmark: "benchmarks/aggregate.tsv"
    shell: "TASKHEAD_THREADS={threads} python -m pipeline aggregate 2>&1 | tee {log}"
