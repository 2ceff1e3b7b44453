"""HP: train the head on a frozen backbone, once per replicate seed, saving the head at
every tau of the grid.

HP runs at a constant learning rate, so the head saved at epoch tau of the one long run
is exactly what a separate HP(tau) run would produce. Without augmentation the frozen
backbone's features are computed once per backbone and cached; with it, every epoch goes
through the (eval-mode, gradient-free) backbone.
"""

from __future__ import annotations

import torch

from pipeline.engine.loop import (
    assess,
    cached_loader,
    default_unpack,
    features,
    fingerprint,
    freeze,
    on_device_if_it_fits,
    progress,
    sgd,
    train_epoch,
)
from pipeline.engine.setting import Setting, settings_at_seeds
from pipeline.io import paths
from pipeline.io.artifacts import read_resume
from pipeline.io.atomic import save_torch, write_json
from pipeline.io.provenance import inputs
from pipeline.params import Study
from pipeline.runtime import stopping
from pipeline.runtime.device import Runtime
from pipeline.runtime.seeding import derive


def run(study: Study, setting: str, rt: Runtime) -> None:
    runs, cache = [], {}
    for ctx in settings_at_seeds(study, setting):
        taus, epochs = probe(ctx, rt, cache)
        runs.append({"seed": ctx.seed, "taus": taus, "epochs": epochs})
    write_json(paths.hp_log(setting), {"setting": setting, "runs": runs})
    for ctx in settings_at_seeds(study, setting):
        _resume(ctx).unlink(missing_ok=True)


def _resume(ctx: Setting):
    return paths.resume_of(paths.hp_head(ctx.name, ctx.seed, ctx.study.taus_of(ctx.name)[-1]))


def probe(ctx: Setting, rt: Runtime, cache: dict) -> tuple[list[dict], list[dict]]:
    """HP of one seed; returns its log (train accuracy, score and energy at every tau) and its
    learning curve (the training loss and accuracy of every epoch, as the epoch saw them).
    `cache` keeps the cached features of each backbone across the seeds of the job."""
    hp, family, seed, setting = ctx.cfg.hp, ctx.family, ctx.seed_for("hp"), ctx.name
    splits = ctx.splits(augment=hp.augment)
    backbone, head = ctx.parts(splits, rt)
    backbone = freeze(backbone)
    if ctx.backbone_path not in cache:
        plain = family.loader(
            splits.train_plain, hp.batch_size, False, seed, rt.workers, rt.pin_memory
        )
        cache[ctx.backbone_path] = on_device_if_it_fits(features(backbone, plain, family, rt), rt)
    z, y = cache[ctx.backbone_path]
    opt = sgd(head.parameters(), hp.lr, hp.weight_decay)
    taus = ctx.study.taus_of(setting)
    sources = inputs(backbone=ctx.backbone_path, dataset=paths.dataset(ctx.cfg.data))
    key = fingerprint([ctx.cfg.model_dump(), taus, seed, sources])
    log, curve, start, resume = [], [], 0, _resume(ctx)
    saved = read_resume(resume, key, rt.device)
    if (
        saved is not None
        and "curve" in saved
        and all(paths.hp_head(setting, ctx.seed, r["tau"]).is_file() for r in saved["log"])
    ):
        head.load_state_dict(saved["head"])
        opt.load_state_dict(saved["opt"])
        log, curve, start = saved["log"], saved["curve"], saved["epoch"]
        progress(f"hp {setting} seed={ctx.seed}", resumed_from_epoch=start)
    with stopping.on_sigterm():
        for epoch in range(start, taus[-1] + 1):
            if epoch > 0:
                torch.manual_seed(derive(seed, "epoch", epoch))
                head.train()
                if hp.augment:
                    loader = family.loader(
                        splits.train, hp.batch_size, True, derive(seed, "order", epoch), rt.workers
                    )
                    tr = train_epoch(lambda x: head(backbone(x)), loader, family, opt, hp.eta, rt)
                else:
                    loader = cached_loader(z, y, hp.batch_size, True, derive(seed, "order", epoch))
                    tr = train_epoch(head, loader, family, opt, hp.eta, rt, unpack=default_unpack)
                curve.append({"epoch": epoch, "train_loss": tr["loss"], "train_acc": tr["acc"]})
            if epoch in taus:
                done = assess(
                    head,
                    cached_loader(z, y, 4 * hp.batch_size, False, 0),
                    family,
                    rt,
                    splits.num_outputs,
                    unpack=default_unpack,
                )
                log.append(
                    {
                        "tau": epoch,
                        "hp_train_acc": done["acc"],
                        "hp_train_score": done["score"],
                        "train_energy": done["energy"],
                    }
                )
                save_torch(
                    paths.hp_head(setting, ctx.seed, epoch),
                    {
                        "state_dict": {k: v.cpu() for k, v in head.state_dict().items()},
                        "tau": epoch,
                        "seed": ctx.seed,
                        "inputs": sources,
                    },
                )
            stop = stopping.requested() and epoch < taus[-1]
            if epoch in taus or stop:
                save_torch(
                    resume,
                    {
                        "key": key,
                        "head": head.state_dict(),
                        "opt": opt.state_dict(),
                        "log": log,
                        "curve": curve,
                        "epoch": epoch + 1,
                    },
                )
            if epoch in taus:  # after the resume file: see loop.fit
                progress(
                    f"hp {setting} seed={ctx.seed}",
                    tau=epoch,
                    hp_train_acc=done["acc"],
                    energy=done["energy"],
                )
            if stop:  # SIGTERM: an HP epoch on cached features is one step (milliseconds)
                stopping.stop(f"hp {setting} seed={ctx.seed}", resume)
    return log, curve
