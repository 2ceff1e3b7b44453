"""FT: from the pretrained backbone and the HP(tau) head, train everything.

SGD with momentum 0.9, the lr following `ft.schedule`, early stopping on the
validation split; the model of the best validation epoch is saved. FT's draws (data
order, augmentation, dropout) depend on the replicate seed, the setting's seed group and
the epoch, never on tau: differences between taus come from the head, not from the draw.
One process finetunes any set of (seed, tau): each starts from the same state as a
process of its own would, so the saved models are the same bytes either way. The
resume file of a finished run is kept until the whole job is done, so a rerun after an
interruption skips it.
"""

from __future__ import annotations

from .. import paths
from ..atomic import save_torch
from ..context import Setting, load_head
from ..device import Runtime
from ..loop import TaskModel, fit
from ..params import Study
from ..provenance import digest, inputs


def run(study: Study, setting: str, seeds: list[int], taus: list[int], rt: Runtime) -> None:
    done = []
    for seed in seeds:
        ctx = Setting(study, setting, seed)
        ft = ctx.cfg.ft
        splits = ctx.splits(augment=ft.augment)
        for tau in taus:
            out = paths.ft_model(setting, seed, tau)
            head_path = paths.hp_head(setting, seed, tau)
            backbone, head = ctx.parts(splits, rt)
            load_head(head, head_path)
            model = rt.prepare(TaskModel(backbone, head))
            info = fit(
                model,
                ctx.family,
                splits.train,
                splits.val,
                splits.num_outputs,
                rt,
                lr=ft.lr,
                epochs=ft.epochs,
                weight_decay=ft.weight_decay,
                eta=ft.eta,
                batch_size=ft.batch_size,
                schedule=ft.schedule,
                seed=ctx.seed_for("ft"),
                patience=ft.patience,
                resume=paths.resume_of(out),
                key=[ctx.cfg.model_dump(), tau, seed, digest(head_path)],
                stage=f"ft {setting} seed={seed} tau={tau}",
            )
            save_torch(
                out,
                {
                    "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                    "tau": tau,
                    "seed": seed,
                    "epochs": ft.epochs,
                    "inputs": inputs(head=head_path),
                    **info,
                },
            )
            done.append(paths.resume_of(out))
    for resume in done:
        resume.unlink(missing_ok=True)
