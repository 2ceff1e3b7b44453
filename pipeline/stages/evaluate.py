"""Evaluate a setting at every (seed, tau): scores of the selected FT model (the best
validation epoch among the epochs run), HP-train-acc, E_aie, the norm of the HP head, and
the feature adaptation between z_0 (pretrained backbone, with the BatchNorm statistics HP
used) and z_T, averaged over every sample of the fixed split `z_split` (no augmentation).
z_T is read at the two fixed FT epochs `ft.z_epochs`, the same for every tau, not at the
epoch early stopping selected: from the model as FT left it after that epoch
(paths.ft_snapshot), in eval mode with the running BatchNorm statistics it had then; NaN
for a run cut before it (hp.search: halving). For a backbone with BatchNorm the change at
the first z epoch splits into a statistics part (z_0 with target minus z_0 with source
statistics) and a weights part (z_T minus z_0 with target statistics), whichever
statistics the setting used."""

from __future__ import annotations

import csv
import math

from torch.nn.utils import parameters_to_vector

from pipeline import metrics
from pipeline.engine.batchnorm import batchnorms
from pipeline.engine.loop import TaskModel, assess, features, progress
from pipeline.engine.setting import Setting, load_ft_model, load_head
from pipeline.errors import first_line
from pipeline.io import paths
from pipeline.io.artifacts import describe, fail, load_weights, read_json, read_torch
from pipeline.io.atomic import atomic_path, write_json
from pipeline.params import Study
from pipeline.report import columns
from pipeline.runtime.device import Runtime
from pipeline.runtime.speed import eval_batch_size


def run(study: Study, setting: str, rt: Runtime) -> list[dict]:
    """Evaluate every (seed, tau) of one setting; z_0 and the data are computed once per seed."""
    hp_runs, hp_curves = read_hp_log(study, setting)
    rows, curves, train = [], {}, paths.train_curves(setting)
    for seed in study.seeds:
        ctx = Setting(study, setting, seed)
        seed_rows, seed_curves = evaluate_seed(ctx, hp_runs[seed], rt)
        rows += seed_rows
        curves |= seed_curves
        curves[train / f"hp_seed{seed}.csv"] = hp_curves[seed]
        pretraining = read_torch(ctx.backbone_path, "a backbone", "pretrain").get("info", {})
        if "history" in pretraining:  # imported backbones have none
            curves[train / f"pretrain_seed{study.backbone_seed(seed)}.csv"] = pretraining["history"]
    train.mkdir(parents=True, exist_ok=True)
    for (
        path,
        history,
    ) in curves.items():  # written once every input has been read: a bad one leaves no output
        write_curve(path, history)
    write_json(paths.evaluation(setting), rows)
    return rows


HP_LOG_KEYS = ("hp_train_acc", "hp_train_score")


def read_hp_log(
    study: Study, setting: str
) -> tuple[dict[int, dict[int, dict]], dict[int, list[dict]]]:
    """The probe's log, {seed: {tau: entry}}, with an entry for every (seed, tau) of the study,
    and its learning curves, {seed: [one entry per epoch]}."""
    path = paths.hp_log(setting)
    what = f"the HP log of {setting}"
    log = read_json(path, what, "probe", keys=("runs",))
    try:
        runs = {r["seed"]: {t["tau"]: t for t in r["taus"]} for r in log["runs"]}
        epochs = {r["seed"]: list(r["epochs"]) for r in log["runs"]}
    except (TypeError, KeyError) as err:
        fail(
            path,
            f"{what}: runs of a seed and its taus",
            f"an entry without {first_line(err)}",
            "probe",
        )
    for seed in study.seeds:
        for tau in study.taus_of(setting):
            entry = runs.get(seed, {}).get(tau)
            if not isinstance(entry, dict) or not all(k in entry for k in HP_LOG_KEYS):
                fail(
                    path,
                    f"{what} at seed {seed}, tau {tau} with {list(HP_LOG_KEYS)}",
                    describe(entry),
                    "probe",
                )
    return runs, epochs


def evaluate_seed(ctx: Setting, hp_log: dict, rt: Runtime) -> tuple[list[dict], dict]:
    """The rows of one seed, and its FT curves to write ({path: history})."""
    family, bs, study, setting = (
        ctx.family,
        eval_batch_size(ctx.cfg.ft.batch_size),
        ctx.study,
        ctx.name,
    )
    splits = ctx.splits(augment=False)
    n = splits.num_outputs

    def loader(ds):
        return family.loader(ds, bs, False, study.seed, rt.workers, rt.pin_memory)

    def z_of(backbone):
        return family.pool(features(backbone, loader(splits.get(study.z_split)), family, rt)[0])

    def z_after(tau: int, epoch: int, epochs_run: int):
        """z_T after FT epoch `epoch`, with the BatchNorm statistics FT had then; None for a
        run cut before it."""
        if epochs_run < epoch:
            return None
        path = paths.ft_snapshot(setting, ctx.seed, tau, epoch)
        what = f"the FT model after epoch {epoch}, of this setting's shape"
        saved = read_torch(path, what, "finetune", keys=("state_dict",))
        backbone, head = ctx.parts(splits, rt, bn="source")
        load_weights(TaskModel(backbone, head), saved["state_dict"], path, what, "finetune")
        return z_of(backbone.eval())

    z_epochs = ctx.cfg.ft.z_epochs
    backbone0, _ = ctx.parts(splits, rt)
    backbone0.eval()
    z0 = z_of(backbone0)
    z_by_stats = {ctx.cfg.bn: z0}
    if batchnorms(backbone0):
        other = "source" if ctx.cfg.bn == "target" else "target"
        z_by_stats[other] = z_of(ctx.parts(splits, rt, bn=other)[0].eval())
    rows, curves = [], {}
    for tau in study.taus_of(setting):
        _, head0 = ctx.parts(splits, rt, bn="source")
        load_head(head0, paths.hp_head(setting, ctx.seed, tau))
        start = TaskModel(backbone0, head0).eval()
        tuned = TaskModel(*ctx.parts(splits, rt, bn="source"))
        saved = load_ft_model(tuned, paths.ft_model(setting, ctx.seed, tau))
        tuned = rt.prepare(tuned).eval()
        val = assess(tuned, loader(splits.val), family, rt, n)
        test = (
            assess(tuned, loader(splits.test), family, rt, n)
            if splits.test is not None
            else {"score": math.nan}
        )
        energy = assess(start, loader(splits.train_plain), family, rt, n)["energy"]
        by_epoch = {e: z_after(tau, e, saved["epochs_run"]) for e in set(z_epochs)}
        zT = {at: by_epoch[e] for at, e in enumerate(z_epochs, start=1)}
        split = {"z_stats_dist_sq": math.nan, "z_weights_dist_sq": math.nan}
        if len(z_by_stats) == 2:
            split["z_stats_dist_sq"] = metrics.squared_distance(
                z_by_stats["source"], z_by_stats["target"]
            )
            if zT[1] is not None:
                split["z_weights_dist_sq"] = metrics.squared_distance(z_by_stats["target"], zT[1])
        hp = hp_log[tau]
        measured = {
            **ctx.row_labels(),
            "tau": tau,
            "hp_train_acc": hp["hp_train_acc"],
            "hp_train_score": hp["hp_train_score"],
            "hp_train_fit": hp[f"hp_train_{family.hp_fit}"],
            "energy": energy,
            "head_norm": parameters_to_vector(head0.parameters()).double().norm().item(),
            "val_score": val["score"],
            "test_score": test["score"],
            "val_acc": val["acc"],
            "test_acc": test.get("acc", math.nan),
            "z_epoch": z_epochs[0],
            "z_epoch2": z_epochs[1],
            **split,
            "best_epoch": saved["best_epoch"],
            "epochs_run": saved["epochs_run"],
            "ft_epochs": saved["epochs"],
            "stopped_early": saved["epochs_run"] < saved["epochs"],
        }
        rows.append({**summary_row(measured, z0, zT), "z_split": study.z_split})
        curves[paths.ft_curve(setting, ctx.seed, tau)] = saved["history"]
        progress(
            f"evaluate {setting} seed={ctx.seed}",
            tau=tau,
            val=val["score"],
            test=test["score"],
            energy=energy,
        )
    return rows, curves


def summary_row(measured: dict, z0, zT: dict) -> dict:
    """A row of results/summary.csv, its columns (pipeline/report/columns.py) in order: a
    column with a `metric` is that function of pipeline.metrics over (z0, zT[col.at]), z_T
    at the column's z epoch (1 or 2), computed once per function and epoch, NaN where that
    z_T is None (a run cut before it); every other column is taken from `measured`."""
    row, computed = {}, {}
    for col in columns.COLUMNS:
        if not col.metric:
            row[col.name] = measured[col.name]
            continue
        if zT[col.at] is None:
            row[col.name] = math.nan
            continue
        if (col.metric, col.at) not in computed:
            computed[col.metric, col.at] = getattr(metrics, col.metric)(z0, zT[col.at])
        value = computed[col.metric, col.at]
        row[col.name] = value[col.key or col.name] if isinstance(value, dict) else value
    return row


def write_curve(path, history: list[dict]) -> None:
    """A learning curve as CSV, one row per epoch (for `dvc plots`): FT's in results/curves/,
    HP's and pretraining's in results/train_curves/ (HP has no validation score)."""
    fields = ["epoch", "train_loss", "train_acc", "val_score"]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in h.items()} for h in history
        )
