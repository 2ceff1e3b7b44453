"""FT: from the pretrained backbone and the HP(tau) head, train everything.

SGD with momentum 0.9, the lr following `ft.schedule`, early stopping on the
validation split; the model of the best validation epoch is saved. Every tau of a
setting uses the same FT seed (data order, augmentation), so differences between
taus come from the head, not from the draw. One process may finetune several taus
(DVC runs a setting's taus in one stage): each starts from the same state as a
process of its own would, so the saved models are the same bytes either way.
"""
from __future__ import annotations

from .. import paths
from ..atomic import save_torch
from ..context import Setting, load_head
from ..device import Runtime
from ..loop import TaskModel, fit
from ..params import Study
from ..provenance import inputs


def run(study: Study, setting: str, taus: list[int], rt: Runtime) -> None:
    ctx = Setting(study, setting)
    ft = ctx.cfg.ft
    splits = ctx.splits(augment=ft.augment)
    for tau in taus:
        out = paths.ft_model(setting, tau)
        backbone, head = ctx.parts(splits.num_outputs)
        load_head(head, paths.hp_head(setting, tau))
        model = rt.prepare(TaskModel(backbone, head))
        info = fit(model, ctx.family, splits.train, splits.val, splits.num_outputs, rt, lr=ft.lr, epochs=ft.epochs,
                   weight_decay=ft.weight_decay, eta=ft.eta, batch_size=ft.batch_size, schedule=ft.schedule,
                   seed=ctx.seed_for("ft"), patience=ft.patience, resume=paths.resume_of(out),
                   key=[ctx.cfg.model_dump(), tau, study.seed], stage=f"ft {setting} tau={tau}")
        save_torch(out, {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "tau": tau,
                         "inputs": inputs(head=paths.hp_head(setting, tau)), **info})
        paths.resume_of(out).unlink(missing_ok=True)
