# The study's job graph. Thin on purpose: it loads and validates the params, includes
# the rules, and asks the package for the final targets. Every rule calls the package's
# CLI (`python -m pipeline STAGE`); dvc.yaml describes the same graph.
#
#   snakemake --cores N --resources gpu=K      # K GPUs: one device per training job
#   snakemake --cores N --configfile studies/paper.yaml   # or --config params=studies/paper.yaml
#   snakemake --cores N --config 'settings={toy_digits012: {ft: {lr: 0.0003}}}'   # an override
import os
import re
import sys

from pipeline import params as P
from pipeline.io import paths
from pipeline.workflow import checkfiles, driverlock, dvcsync, fingerprints, stage_keys, studyfile, targets
from pipeline.errors import PipelineError

try:
    # The checkout's one lock, shared with DVC (pipeline/workflow/driverlock.py), for the whole run.
    if workflow.is_main_process and not workflow.dryrun:
        driverlock.hold("make run (snakemake)" if os.environ.get("TASKHEAD_LAUNCH") else "snakemake")
    PARAMS, RAW = studyfile.resolve(config, workflow.overwrite_configfiles)
    os.environ[P.PARAMS_ENV] = PARAMS  # the jobs' `python -m pipeline` reads it
    # A cluster job re-reads this file (twice under SLURM): the main process has validated the
    # params already, so a job skips the family checks and their imports.
    STUDY = P.validate(RAW, PARAMS) if workflow.is_main_process else P.Study.model_validate(RAW)
    paths.use(paths.study_folder(PARAMS, STUDY.name))  # another study than params.yaml: its own folders
except PipelineError as err:  # one clear message, not Snakemake's frame of the Snakefile
    sys.exit(f"error: {err}")


# Under the default study, every job notes its DVC stage for the `onsuccess` commit.
DVC_LEDGER = PARAMS == "params.yaml" and os.path.isdir(".dvc") and not os.environ.get("TASKHEAD_SKIP_DVC_COMMIT")
if DVC_LEDGER:
    os.environ[dvcsync.LEDGER_ENV] = str(dvcsync.LEDGER)


include: "workflow/rules/common.smk"


GPU = gpu_per_job()
# Without Snakemake's records (a fresh clone), an edit of params.yaml or of the code after the
# committed results/params.json and results/code/ were written still reruns `check`.
CHECK_STALE = checkfiles.stale_marker(STUDY)
CHECKPOINTS = {imp.checkpoint: name for name, imp in STUDY.imports.items()}

wildcard_constraints:
    seed=r"\d+",
    pseed=r"\d+",
    setting="|".join(STUDY.settings) or "NONE",
    dataset="|".join(STUDY.datasets) or "NONE",
    name="|".join(STUDY.backbones) or "NONE",
    checkpoint="|".join(re.escape(c) for c in CHECKPOINTS) or "NONE",


include: "workflow/rules/study.smk"


rule all:
    input:
        targets.final_targets(STUDY),
        CHECK_STALE,


onsuccess:
    # Bring DVC's lock up to date for the stages whose jobs ran (each job noted its stage in
    # the ledger), so that `dvc status` agrees with Snakemake (pipeline/workflow/dvcsync.py).
    driverlock.release()  # `dvc commit` takes it
    if DVC_LEDGER:
        shell("python -m pipeline dvcsync || echo 'warning: dvc commit failed; run dvc commit by hand' >&2")
