"""Write the study's advice (pipeline.report.advise): advice.md, advice.json and the follow-up study
file, from summary.csv (the aggregate stage) and HP's logs (the evaluate stage)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import yaml

from pipeline.io import paths
from pipeline.io.artifacts import fail
from pipeline.io.atomic import write_text
from pipeline.params import Study
from pipeline.report.advice_paths import advice_files
from pipeline.report.advise import advise, followup, markdown


def followup_name() -> str:
    """results/ -> followup; results/NAME/ -> NAME-followup."""
    return "followup" if Path("results") == paths.RESULTS else f"{paths.RESULTS.name}-followup"


def run(study: Study) -> None:
    if not paths.SUMMARY.is_file():
        fail(paths.SUMMARY, "the study's summary table", "nothing at that path", "aggregate")
    summary = pd.read_csv(paths.SUMMARY)
    summary = summary[summary["setting"].isin(study.settings)]
    advice = advise(summary)
    md, js, follow = advice_files()
    new = followup(study.model_dump(mode="json"), advice, followup_name())
    write_text(follow, yaml.safe_dump(new, sort_keys=False))
    write_text(js, json.dumps([asdict(a) for a in advice], indent=1, default=float) + "\n")
    write_text(md, markdown(advice, str(follow)))
    fired = sum(len(a.rules) + len(a.checks) for a in advice)
    print(f"[advise] {len(advice)} settings, {fired} pieces of advice: {md}")
