"""Which study a Snakemake run uses: params.yaml (the default), `--config params=FILE`, or
`--configfile FILE`, with `--config KEY=VALUE` overrides of single hyper-parameters on top.

A study file replaces the default study; it is never merged into another one. With
overrides, the effective study is written to .snakemake/taskhead/ and the jobs read that
file, so every job sees what the Snakefile saw. That file keeps the study's folder
(pipeline.io.paths.study_folder): it carries the `name` of a study file other than
params.yaml, which is otherwise its file's stem.
"""

from __future__ import annotations

import hashlib

import yaml

from pipeline.errors import PipelineError
from pipeline.io import paths
from pipeline.io.atomic import write_text
from pipeline.params import (
    read_raw,  # pipeline.io.yamlfile.read: duplicate keys, bad bytes and syntax, one line each
)

CONTROL = ("params", "gpu_per_job")  # config keys of the workflow itself, not of the study


def deep_merge(base: dict, over: dict) -> dict:
    """`base` with `over` laid on it, mapping by mapping (Snakemake's --config semantics)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            deep_merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def typed(value):
    """A --config value with YAML's types inside lists and mappings: Snakemake parses a top-level
    value as int, float or bool, but the scalars within `[0, 1]` or `{ft: {epochs: 20}}` with
    YAML's BaseLoader, which leaves every one a string."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, str):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return parsed if isinstance(parsed, (int, float, bool)) or parsed is None else value
    return value


def resolve(config: dict, configfiles: list) -> tuple[str, dict]:
    """(the params file the jobs read, the study it holds)."""
    files = [str(f) for f in configfiles]
    if len(files) > 1:
        raise PipelineError(
            f"--configfile: expected one study file, found {len(files)} ({', '.join(files)}); "
            "studies are never merged"
        )
    if files and "params" in config:
        raise PipelineError(
            f"--configfile {files[0]} and --config params={config['params']}: expected one study, "
            "found two"
        )
    overrides = {k: typed(v) for k, v in config.items() if k not in CONTROL}
    if files:
        # Snakemake has loaded the file into `config` and laid --config on it already, but with
        # a loader that keeps the last of two equal keys: re-read it with ours (pipeline.io.yamlfile)
        path, raw = files[0], read_raw(files[0])
        effective = overrides
    else:
        path = config.get("params", "params.yaml")
        raw = read_raw(path)
        effective = deep_merge(raw, overrides) if isinstance(raw, dict) else raw
    if effective == raw:
        return path, raw
    if isinstance(effective, dict) and not effective.get("name"):
        folder = paths.study_folder(path, None)
        effective = {"name": folder, **effective} if folder else effective
    text = f"# {path} with --config overrides (written by the Snakefile)\n" + yaml.safe_dump(
        effective, sort_keys=False
    )
    out = paths.OVERRIDES / f"study-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
    write_text(out, text)
    return str(out), effective
