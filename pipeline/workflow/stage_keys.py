"""The params keys each stage reads: the one list that dvc.yaml and the Snakefile follow."""

# Which params keys each stage reads. dvc.yaml lists exactly these (a test checks it),
# and the Snakefile passes their values as rule params, so both tools rerun the same jobs.
# `seeds` stands for the replicate seeds a job covers: DVC's stages cover them all, while
# Snakemake's per-seed jobs leave the list out (a new seed adds jobs, it reruns none).
# What HP reads; FT reads the same and its own block.
PROBE_KEYS = [
    "seed",
    "seeds",
    "replicate_pretrain",
    "taus",
    "settings.{setting}.data",
    "settings.{setting}.head",
    "settings.{setting}.bn",
    "settings.{setting}.hp",
]
STAGE_KEYS = {
    "prepare": ["seed", "datasets.{dataset}"],
    "pretrain": ["seed", "seeds", "replicate_pretrain", "pretrain.{pretrain}"],
    "import": ["imports.{pretrain}"],
    "fetch": ["imports.{pretrain}"],
    "probe": PROBE_KEYS,
    "finetune": [*PROBE_KEYS, "settings.{setting}.ft"],
    "evaluate": ["seed", "seeds", "replicate_pretrain", "z_split", "settings.{setting}"],
    "exchange": [
        "seed",
        "seeds",
        "replicate_pretrain",
        "exchange.{setting}",
        "settings.{setting}.data",
        "settings.{setting}.head",
        "settings.{setting}.bn",
    ],
    "aggregate": ["seeds", "taus", "settings", "analysis"],
    "advise": ["seeds", "taus", "settings"],
}
PER_SEED_KEYS = ("seeds",)  # what a Snakemake job of one replicate seed leaves out


def stage_keys(stage: str, **names) -> list[str]:
    return [k.format(**names) for k in STAGE_KEYS[stage]]


def stage_values(raw: dict, stage: str, **names) -> dict:
    """The values of the keys a stage reads, from the raw params mapping."""
    out = {}
    for key in stage_keys(stage, **names):
        node = raw
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        out[key] = node
    return out
