"""Evaluate a setting at every tau: scores of the selected FT model, HP-train-acc, E_aie,
and the feature adaptation between z_0 (pretrained backbone) and z_T (finetuned one),
averaged over every sample of the fixed split `z_split` (no augmentation)."""
from __future__ import annotations

import csv
import json

import torch

from .. import paths
from ..atomic import atomic_path, write_json
from ..context import Setting, load_head
from ..device import Runtime
from ..loop import TaskModel, assess, features, progress
from ..metrics import feature_adaptation
from ..params import Study


def run(study: Study, setting: str, rt: Runtime) -> list[dict]:
    """Evaluate every tau of one setting; z_0 and the data are computed once for all."""
    ctx = Setting(study, setting)
    family, bs = ctx.family, ctx.cfg.ft.batch_size
    splits = ctx.splits(augment=False)
    n = splits.num_outputs
    hp_log = {r["tau"]: r for r in json.loads(paths.hp_log(setting).read_text())["taus"]}

    def loader(ds):
        return family.loader(ds, bs, False, study.seed, rt.workers, rt.pin_memory)

    backbone0, _ = ctx.parts(n)
    backbone0 = rt.prepare(backbone0).eval()
    z0, _ = features(backbone0, loader(splits.get(study.z_split)), family, rt)
    rows = []
    for tau in study.taus_of(setting):
        _, head0 = ctx.parts(n)
        load_head(head0, paths.hp_head(setting, tau))
        start = rt.prepare(TaskModel(backbone0, head0)).eval()
        tuned = TaskModel(*ctx.parts(n))
        saved = torch.load(paths.ft_model(setting, tau), map_location="cpu", weights_only=False)
        tuned.load_state_dict(saved["state_dict"], strict=True)
        tuned = rt.prepare(tuned).eval()
        val = assess(tuned, loader(splits.val), family, rt, n)
        test = assess(tuned, loader(splits.test), family, rt, n) if splits.test is not None else {"score": float("nan")}
        energy = assess(start, loader(splits.train_plain), family, rt, n)["energy"]
        zT, _ = features(tuned.backbone, loader(splits.get(study.z_split)), family, rt)
        rows.append({**ctx.row_labels(), "tau": tau, "hp_train_acc": hp_log[tau]["hp_train_acc"],
                     "hp_train_score": hp_log[tau]["hp_train_score"],
                     "hp_train_fit": hp_log[tau][f"hp_train_{family.hp_fit}"], "energy": energy,
                     "val_score": val["score"], "test_score": test["score"], "val_acc": val["acc"],
                     "test_acc": test.get("acc", float("nan")),
                     **feature_adaptation(family.pool(z0), family.pool(zT)),
                     "best_epoch": saved["best_epoch"], "epochs_run": saved["epochs_run"], "z_split": study.z_split})
        write_curve(setting, tau, saved["history"])
        progress(f"evaluate {setting}", tau=tau, val=val["score"], test=test["score"], energy=energy)
    write_json(paths.evaluation(setting), rows)
    return rows


def write_curve(setting: str, tau: int, history: list[dict]) -> None:
    """results/curves/SETTING/tauN.csv: FT's history, one row per epoch (for `dvc plots`)."""
    fields = ["epoch", "train_loss", "train_acc", "val_score"]
    with atomic_path(paths.curves(setting) / f"tau{tau}.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in h.items()} for h in history)
