# One rule per stage. Priorities start the long chains first (a backbone, its probe, its FT).
# `params: values=` holds the values of exactly the params keys the
# stage reads (pipeline.workflow.stage_keys), so Snakemake reruns the jobs DVC reruns;
# `params: code=` is the digest of the package files the stage runs (pipeline.workflow.fingerprints), so a
# change of their contents reruns exactly the jobs it can affect.
# Every job records its wall time, CPU time and peak memory under benchmarks/ (TSV), and its
# log under logs/ (another study than params.yaml: runs/NAME/benchmarks/, runs/NAME/logs/).
# The jobs read the study from $TASKHEAD_PARAMS, which the Snakefile sets: its path is no
# provenance (only the values each stage reads are), so a switch of file reruns only
# what the values change.

ENV = "../../envs/taskhead.yaml"  # used with --software-deployment-method conda


# The code fingerprint of every stage (results/code/STAGE.txt), committed with the results:
# which code made them; and the study with its defaults (results/params.json), where DVC's
# stages read their params. DVC's `check` stage writes the same files. It reruns on any
# change of the study, so that the file DVC reads is never behind params.yaml; where
# Snakemake has no records of it (a fresh clone), a marker (`stale`, pipeline.workflow.checkfiles)
# requests the rerun when the files on disk differ from what `check` would write.
rule check:
    output:
        paths.PARAMS_JSON,
        [fingerprints.fingerprint_file(stage) for stage in fingerprints.STAGES],
        stale=CHECK_STALE,
    params:
        code=[code(stage) for stage in fingerprints.STAGES],
        study=STUDY.model_dump_json(),
        markers=checkfiles.MARKERS,
    conda: ENV
    log: paths.log("check")
    shell:
        "rm -f {params.markers}/check-stale-*; python -m pipeline check 2>&1 | tee {log}; "
        "for marker in {output.stale}; do touch $marker; done"


rule prepare:
    input: data_input
    output: paths.dataset("{dataset}")
    params:
        values=stage_params("prepare", dataset=lambda w: w.dataset),
        code=code("prepare"),
    conda: ENV
    log: paths.log("prepare/{dataset}")
    benchmark: paths.bench("prepare/{dataset}")
    threads: 1
    shell: "TASKHEAD_THREADS={threads} python -m pipeline prepare --dataset {wildcards.dataset} 2>&1 | tee {log}"


rule fetch:
    output: "{checkpoint}"
    params:
        values=stage_params("fetch", pretrain=lambda w: CHECKPOINTS[w.checkpoint]),
        name=lambda w: CHECKPOINTS[w.checkpoint],
        code=code("fetch"),
    conda: ENV
    log: paths.log("fetch/{checkpoint}")
    benchmark: paths.bench("fetch/{checkpoint}")
    shell: "python -m pipeline fetch --name {params.name} 2>&1 | tee {log}"


# One backbone per pretraining seed: the study's `seed`, or each replicate seed with
# `replicate_pretrain`.
rule pretrain:
    input: pretrain_input
    output: paths.backbone("{name}", "{pseed}")
    params:
        values=pretrain_values,
        code=code("pretrain"),
    conda: ENV
    log: paths.log("pretrain/{name}/seed{pseed}")
    benchmark: paths.bench("pretrain/{name}/seed{pseed}")
    priority: 3
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} python -m pipeline pretrain --name {wildcards.name} --seed {wildcards.pseed} 2>&1 | tee {log}"


# HP of every seed in one job (the frozen backbone's features are computed once), one head
# per (seed, tau) of the setting's own grid (runs/SETTING/hp/seedS/tauN.pt), then its log,
# which lists them. The grid differs between settings, and an output list cannot depend on
# a wildcard, so the log, written last, stands for the heads.
rule probe:
    input: backbones_of, dataset_of
    output: log=paths.hp_log("{setting}")
    params:
        values=stage_params("probe", setting=lambda w: w.setting),
        code=code("probe"),
    conda: ENV
    log: paths.log("probe/{setting}")
    benchmark: paths.bench("probe/{setting}")
    priority: 2
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} python -m pipeline probe --setting {wildcards.setting} 2>&1 | tee {log}"


# FT of one seed at every tau of the setting's grid, in one job (one device on a GPU box):
# a process's start-up is paid once per (setting, seed), not once per tau.
rule finetune:
    input: backbones_of, dataset_of, hp_log=paths.hp_log("{setting}")
    output: directory(paths.ft_seed_dir("{setting}", "{seed}"))
    params:
        values=stage_params("finetune", per_seed=True, setting=lambda w: w.setting),
        code=code("finetune"),
    conda: ENV
    log: paths.log("finetune/{setting}/seed{seed}")
    benchmark: paths.bench("finetune/{setting}/seed{seed}")
    priority: 1
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} python -m pipeline finetune --setting {wildcards.setting} --seed {wildcards.seed} 2>&1 | tee {log}"


rule evaluate:
    input: backbones_of, dataset_of, hp_log=paths.hp_log("{setting}"), models=ft_dirs_of
    output:
        evaluation=paths.evaluation("{setting}"),
        curves=directory(paths.curves("{setting}")),
        train_curves=directory(paths.train_curves("{setting}")),
    params:
        values=stage_params("evaluate", setting=lambda w: w.setting),
        code=code("evaluate"),
    conda: ENV
    log: paths.log("evaluate/{setting}")
    benchmark: paths.bench("evaluate/{setting}")
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} python -m pipeline evaluate --setting {wildcards.setting} 2>&1 | tee {log}"


rule exchange:
    input: backbones_of, dataset_of, models=ft_dirs_of
    output:
        csv=paths.exchange("{setting}", "csv"),
        png=report(paths.exchange("{setting}", "png"), caption="../report/exchange.rst", category="Head exchange"),
    params:
        values=stage_params("exchange", setting=lambda w: w.setting),
        code=code("exchange"),
    conda: ENV
    log: paths.log("exchange/{setting}")
    benchmark: paths.bench("exchange/{setting}")
    threads: 1
    resources: gpu=GPU
    shell: "TASKHEAD_THREADS={threads} python -m pipeline exchange --setting {wildcards.setting} 2>&1 | tee {log}"


rule aggregate:
    input: [paths.evaluation(s) for s in STUDY.settings], [paths.curves(s) for s in STUDY.settings]
    output:
        report(paths.SUMMARY, caption="../report/summary.rst", category="Results"),
        paths.STATS,
        report(paths.CONCLUSIONS, caption="../report/conclusions.rst", category="Results"),
        *[report(t, caption="../report/tables.rst", category="Tables") for t in (paths.TABLE1, paths.TABLE2,
                                                                               paths.TABLE3, paths.TRENDS)],
        report(paths.COST, caption="../report/cost.rst", category="Results"),
        paths.METRICS,
        *[report(p, caption=f"../report/figures/{p.stem}.rst", category="Plots")
          for p in (paths.FIG_VAL, paths.FIG_ENERGY, paths.FIG_Z, paths.FIG_VERDICTS, paths.FIG_FT_LOSS)],
    params:
        values=stage_params("aggregate"),
        code=code("aggregate"),
    conda: ENV
    log: paths.log("aggregate")
    benchmark: paths.bench("aggregate")
    shell: "TASKHEAD_THREADS={threads} python -m pipeline aggregate 2>&1 | tee {log}"


# The paper's user guide applied to the results (pipeline/report/advise.py): advice.md, advice.json
# and a follow-up study file, next to summary.csv.
rule advise:
    input: paths.SUMMARY, [paths.train_curves(s) for s in STUDY.settings]
    output:
        report(targets.advice_files()[0], caption="../report/advice.rst", category="Results"),
        targets.advice_files()[1:],
    params:
        values=stage_params("advise"),
        code=code("advise"),
    conda: ENV
    log: paths.log("advise")
    benchmark: paths.bench("advise")
    shell: "python -m pipeline advise 2>&1 | tee {log}"
