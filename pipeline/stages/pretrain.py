"""PT: train a backbone on its source task (from `model.weights` when given), or take it
from a checkpoint file; files are loaded strictly."""

from __future__ import annotations

from pipeline.engine.loop import TaskModel, Training, fit, progress
from pipeline.families import get_family
from pipeline.io import paths
from pipeline.io.artifacts import read_prepared
from pipeline.io.atomic import save_torch
from pipeline.io.checkpoints import load_strict, read_state
from pipeline.io.provenance import digest
from pipeline.params import Study
from pipeline.runtime.device import Runtime
from pipeline.runtime.seeding import derive, seed_everything


def run(study: Study, name: str, seeds: list[int], rt: Runtime) -> None:
    """Pretrain (or import) backbone `name` once per pretraining seed in `seeds`."""
    for seed in seeds:
        pretrain(study, name, seed, rt)


def pretrain(study: Study, name: str, seed: int, rt: Runtime) -> None:
    cfg = study.backbones[name]
    family = get_family(cfg.family)
    model_cfg = family.ModelCfg(**cfg.model)
    out = paths.backbone(name, seed)
    seed_everything(derive(seed, "pretrain", name))
    backbone = family.backbone(model_cfg)
    # The weights it starts from.
    weights = cfg.checkpoint if name in study.imports else cfg.model.get("weights")
    if weights:
        load_strict(backbone, read_state(weights), weights)
        progress(f"pretrain {name}", loaded=weights)
    if name in study.imports:
        info = {"source": str(cfg.checkpoint)}
    else:
        data_cfg = family.DataCfg(**study.data_cfg(cfg.data))
        splits = family.splits(
            read_prepared(paths.dataset(cfg.data), family.name), data_cfg, augment=cfg.augment
        )
        model = rt.prepare(TaskModel(backbone, family.pretrain_head(model_cfg, splits.num_outputs)))
        info = fit(
            model,
            family,
            splits,
            rt,
            Training.of(cfg),
            seed=derive(seed, "pretrain", name),
            resume=paths.resume_of(out),
            key=[cfg.model_dump(), seed, digest(paths.dataset(cfg.data))],
            stage=f"pretrain {name} seed={seed}",
        )
        info["source"] = f"trained on {data_cfg.dataset}"
    state = {k: v.cpu() for k, v in backbone.state_dict().items()}
    save_torch(out, {"state_dict": state, "family": cfg.family, "model": cfg.model, "info": info})
    paths.resume_of(out).unlink(missing_ok=True)
