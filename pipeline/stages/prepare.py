"""Prepare one dataset once (generate, featurise or read it) into runs/data/NAME.pt."""

from __future__ import annotations

import time

from pipeline.engine.loop import progress
from pipeline.families import get_family
from pipeline.io import paths
from pipeline.io.artifacts import save_prepared
from pipeline.params import Study
from pipeline.runtime.seeding import derive, seed_everything


def run(study: Study, name: str) -> None:
    family = get_family(study.datasets[name]["family"])
    cfg = family.DataCfg(**study.data_cfg(name))
    seed_everything(derive(study.seed, "data", name))
    t0 = time.monotonic()
    prepared = family.prepare(cfg, study.seed)
    save_prepared(paths.dataset(name), family.name, prepared)
    progress(f"prepare {name}", secs=round(time.monotonic() - t0, 2))
