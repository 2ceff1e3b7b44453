"""FT: from the pretrained backbone and the HP(tau) head, train everything.

SGD with momentum 0.9, the lr following `ft.schedule`, early stopping on the
validation split (never before the last of `ft.z_epochs`); the model of the best
validation epoch among the epochs run is saved, and beside it the model as it was after
each of `ft.z_epochs` (paths.ft_snapshot), where evaluate reads z_T. FT's draws (data
order, augmentation, dropout) depend on the replicate seed, the setting's seed group and
the epoch, never on tau: differences between taus come from the head, not from the draw.
One process finetunes any set of (seed, tau): each starts from the same state as a
process of its own would, so the saved models are the same bytes either way. The
resume file of a finished run is kept until the whole job is done, so a rerun after an
interruption skips it.

With `hp.search: halving`, the taus of a seed race in rungs (pipeline.engine.halving): a run
cut at a rung keeps its resume file and goes on from it at the next rung, so every tau's
model is its full run cut at the search's budget for it (`budget` in the saved model), and
an interrupted search replays its finished rungs from those files. A run cut before a z
epoch has no model of that epoch.
"""

from __future__ import annotations

from pipeline.engine import halving
from pipeline.engine.loop import TaskModel, Training, fit
from pipeline.engine.setting import Setting, load_head
from pipeline.io import paths
from pipeline.io.atomic import save_torch
from pipeline.io.provenance import digest, inputs
from pipeline.params import Study
from pipeline.runtime.device import Runtime


def train(ctx: Setting, splits, setting: str, seed: int, tau: int, rt: Runtime, until=None):
    """FT of one (seed, tau) up to epoch `until` (None: in full), resumed where it stopped;
    returns the model (best validation weights) and fit's record, with its `snapshots`."""
    head_path = paths.hp_head(setting, seed, tau)
    backbone, head = ctx.parts(splits, rt)
    load_head(head, head_path)
    model = rt.prepare(TaskModel(backbone, head))
    info = fit(
        model,
        ctx.family,
        splits,
        rt,
        Training.of(ctx.cfg.ft),
        seed=ctx.seed_for("ft"),
        resume=paths.resume_of(paths.ft_model(setting, seed, tau)),
        key=[
            ctx.cfg.model_dump(exclude={"hp": {"search", "halving"}}),
            tau,
            seed,
            digest(head_path),
        ],
        stage=f"ft {setting} seed={seed} tau={tau}",
        until=until,
    )
    return model, info


def budgets(ctx: Setting, splits, setting: str, seed: int, taus: list[int], rt: Runtime):
    """Each tau's FT epoch cap: its full FT under `grid`, the search's under `halving`."""
    hp, ft = ctx.cfg.hp, ctx.cfg.ft
    if hp.search == "grid":
        return dict.fromkeys(taus, ft.epochs)

    def advance(tau: int, until: int) -> float:
        info = train(ctx, splits, setting, seed, tau, rt, until)[1]
        return max(h["val_score"] for h in info["history"])

    first = hp.halving.first_rung or ft.patience + 1
    return halving.search(taus, advance, first, hp.halving.factor, ft.epochs)


def run(study: Study, setting: str, seeds: list[int], taus: list[int], rt: Runtime) -> None:
    done = []
    for seed in seeds:
        ctx = Setting(study, setting, seed)
        ft = ctx.cfg.ft
        splits = ctx.splits(augment=ft.augment)
        for tau, budget in budgets(ctx, splits, setting, seed, taus, rt).items():
            out = paths.ft_model(setting, seed, tau)
            model, info = train(ctx, splits, setting, seed, tau, rt, budget)
            provenance = inputs(head=paths.hp_head(setting, seed, tau))
            for epoch, weights in info.pop("snapshots").items():
                save_torch(
                    paths.ft_snapshot(setting, seed, tau, epoch),
                    {
                        "state_dict": {k: v.cpu() for k, v in weights.items()},
                        "tau": tau,
                        "seed": seed,
                        "epoch": epoch,
                        "inputs": provenance,
                    },
                )
            save_torch(
                out,
                {
                    "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                    "tau": tau,
                    "seed": seed,
                    "epochs": ft.epochs,
                    **({"budget": budget} if ctx.cfg.hp.search == "halving" else {}),
                    "inputs": provenance,
                    **info,
                },
            )
            done.append(paths.resume_of(out))
    for resume in done:
        resume.unlink(missing_ok=True)
