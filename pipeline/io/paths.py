"""Where every stage reads and writes. Snakemake rules, dvc.yaml and the stages agree on these.

Replicates live in `seedN` folders: a backbone under its pretraining seed (the study's
`seed`, or each replicate seed with `replicate_pretrain`), HP heads and FT models under
their replicate seed.

The default study (params.yaml) writes runs/ and results/ (and logs/, benchmarks/), which
dvc.yaml names. Any other study writes folders of its own, runs/NAME/ and results/NAME/,
NAME being its `name` key or else its file's stem (study_folder): it never touches the
default study's files, nor another study's checkpoints. `use` points every path of this
module there; the Snakefile and the CLI call it once they know the study.
"""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_PARAMS = Path("params.yaml")
OVERRIDES = Path(".snakemake") / "taskhead"  # a study with --config overrides (studyfile)
RUNS = Path("runs")
RESULTS = Path("results")
LOGS = Path("logs")
BENCHMARKS = Path("benchmarks")
# The folders the default study writes directly under its roots: no study may be named so.
RESERVED = {
    "code",
    "curves",
    "data",
    "evals",
    "exchange",
    "plots",
    "pretrain",
    "resume",
    "train_curves",
}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PARAMS_JSON = (
    RESULTS / "params.json"
)  # the validated study with its defaults: what DVC's stages read


def dataset(name: str) -> Path:
    return RUNS / "data" / f"{name}.pt"


def backbone(pretrain: str, seed: int) -> Path:
    return RUNS / "pretrain" / pretrain / f"seed{seed}" / "backbone.pt"


def hp_dir(setting: str) -> Path:
    return RUNS / setting / "hp"


def hp_head(setting: str, seed: int, tau: int) -> Path:
    return hp_dir(setting) / f"seed{seed}" / f"tau{tau}.pt"


def hp_log(setting: str) -> Path:
    """The HP log of every seed of a setting; written last, it stands for the heads."""
    return hp_dir(setting) / "log.json"


def ft_dir(setting: str) -> Path:
    return RUNS / setting / "ft"


def ft_seed_dir(setting: str, seed: int) -> Path:
    return ft_dir(setting) / f"seed{seed}"


def ft_model(setting: str, seed: int, tau: int) -> Path:
    return ft_seed_dir(setting, seed) / f"tau{tau}.pt"


def ft_snapshot(setting: str, seed: int, tau: int, epoch: int) -> Path:
    """The FT model of (seed, tau) as it was after FT epoch `epoch`, one of `ft.z_epochs`
    (none for a run cut before it): where evaluate reads z_T."""
    return ft_seed_dir(setting, seed) / f"tau{tau}_epoch{epoch}.pt"


def evaluation(setting: str) -> Path:
    return RESULTS / "evals" / f"{setting}.json"


def curves(setting: str) -> Path:
    """Per (seed, tau), the FT learning curve (epoch, train loss and accuracy, validation score)."""
    return RESULTS / "curves" / setting


def ft_curve(setting: str, seed: int, tau: int) -> Path:
    return curves(setting) / f"seed{seed}_tau{tau}.csv"


def train_curves(setting: str) -> Path:
    """Per seed, the learning curves of HP (`hp_seedS.csv`: train loss and accuracy) and of
    the setting's backbone's pretraining (`pretrain_seedS.csv`, with its validation score)."""
    return RESULTS / "train_curves" / setting


def exchange(setting: str, suffix: str) -> Path:
    return RESULTS / "exchange" / f"{setting}.{suffix}"


def resume_of(out: Path) -> Path:
    """The per-epoch state an interrupted job restarts from. It lives outside every declared
    output (Snakemake and DVC delete a job's outputs before they rerun it)."""
    return RUNS / "resume" / out.parent.relative_to(RUNS) / (out.name + ".resume")


SUMMARY = RESULTS / "summary.csv"
STATS = RESULTS / "stats.csv"
TABLE1 = RESULTS / "table1.md"
TABLE2 = RESULTS / "table2.md"
TABLE3 = RESULTS / "table3.md"
TRENDS = RESULTS / "trend.md"
CONCLUSIONS = RESULTS / "conclusions.md"
COST = RESULTS / "cost.md"
METRICS = RESULTS / "metrics.json"
PLOTS = RESULTS / "plots"
FIG_VAL = PLOTS / "val_score_vs_tau.png"
FIG_ENERGY = PLOTS / "energy_vs_tau.png"
FIG_Z = PLOTS / "z_metrics_vs_tau.png"
FIG_VERDICTS = PLOTS / "verdicts.png"
FIG_FT_LOSS = PLOTS / "ft_loss.png"
AGGREGATE_OUTS = [
    SUMMARY,
    STATS,
    TABLE1,
    TABLE2,
    TABLE3,
    TRENDS,
    CONCLUSIONS,
    COST,
    METRICS,
    FIG_VAL,
    FIG_ENERGY,
    FIG_Z,
    FIG_VERDICTS,
    FIG_FT_LOSS,
]


def check_name(name: str) -> str:
    """A study's folder name, or ValueError saying what a name may be."""
    if not NAME.fullmatch(name) or name in RESERVED:
        raise ValueError(
            f"expected a folder name of letters, digits, '_', '.' and '-' (at most 64, not one of "
            f"{sorted(RESERVED)}), found {name!r}"
        )
    return name


def study_folder(params_file: str | Path, name: str | None) -> str:
    """The folder name of a study's outputs: '' for the default study (params.yaml, or
    params.yaml with --config overrides, which pipeline.workflow.studyfile writes under OVERRIDES
    without a name), else its `name`, else its file's stem."""
    from pipeline.errors import PipelineError

    path = Path(params_file)
    if path.resolve() == DEFAULT_PARAMS.resolve():
        if name:
            raise PipelineError(
                f"{path}: name: expected none in the default study, which writes results/ "
                f"(dvc.yaml names its files), found {name!r}; give your study a file of its own"
            )
        return ""
    if name:
        return name
    if path.parent.resolve() == OVERRIDES.resolve():
        return ""
    try:
        return check_name(path.stem)
    except ValueError as err:
        raise PipelineError(
            f"{path}: the study's folder is named after the file unless it has a `name:` key: {err}"
        ) from None


def use(folder: str) -> None:
    """Point every path of this module at a study's folders: runs/FOLDER/, results/FOLDER/,
    and runs/FOLDER/logs/ and runs/FOLDER/benchmarks/ (outside the default study's logs/ and
    benchmarks/, which its cost report reads); '' for the default study's."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = {k: v for k, v in globals().items() if k.isupper() and k[0] != "_"}
    runs = Path("runs") / folder
    moved = {
        "runs": runs,
        "results": Path("results") / folder,
        "logs": runs / "logs" if folder else Path("logs"),
        "benchmarks": runs / "benchmarks" if folder else Path("benchmarks"),
    }
    globals().update({k: _rebase(v, moved) for k, v in _DEFAULT.items()})


def _rebase(value, moved: dict[str, Path]):
    if isinstance(value, Path) and value.parts and value.parts[0] in moved:
        return moved[value.parts[0]].joinpath(*value.parts[1:])
    if isinstance(value, list) and value and all(isinstance(v, Path) for v in value):
        return [_rebase(v, moved) for v in value]
    return value


def log(job: str) -> str:
    """A job's log file (a rule's `log:`), e.g. log("probe/{setting}")."""
    return str(LOGS / f"{job}.log")


def bench(job: str) -> str:
    """A job's Snakemake benchmark TSV (a rule's `benchmark:`), read by pipeline.report.cost."""
    return str(BENCHMARKS / f"{job}.tsv")


_DEFAULT: dict | None = None  # the module's paths as first defined: what `use` moves
