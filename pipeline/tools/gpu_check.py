"""GPU check: what a study costs on this card, measured, with no dataset on the box.

    python -m pipeline gpu_check [--params studies/paper.yaml] [--out FILE.json]

1. Rates: for every distinct workload of the study (network, input size, head, batch),
   samples/s of a full training step, an HP step through the frozen backbone, a head
   step on cached features, an evaluation forward pass, and, for in-memory images, the
   input path alone (`data`: gather, copy, decode, resize, per-sample crop and flip on
   the device, pipeline/data/batches.py), on synthetic batches made by the family
   itself, in the pipeline's runtime (one claimed device, bf16 autocast, channels_last,
   deterministic kernels).
2. Real epochs: the real pretrain / probe / finetune stages on synthetic data of the
   paper's sizes, for one setting of each family (by default STL10 and VOC from Sup-IN,
   Tox21 from Sup-pcba): one HP epoch and one FT epoch each, timed as the difference
   between runs of 1 and 2 epochs (so set-up and the tau-0 pass cancel out).
3. Determinism: the one-epoch FT run is repeated, and its weights compared bit for bit.
4. GPU-hours of the whole study from these rates (pipeline.tools.gpu_hours).

`--scale`, `--steps` and `--batch-cap` shrink it to a smoke test on the CPU.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from pipeline.data.batches import ImageBatches
from pipeline.engine.loop import TaskModel, freeze, sgd
from pipeline.engine.setting import Setting
from pipeline.families import get_family
from pipeline.io import paths
from pipeline.io.artifacts import save_prepared
from pipeline.io.atomic import save_torch, write_json
from pipeline.params import read_raw, validate
from pipeline.runtime.device import runtime
from pipeline.tools import gpu_hours

EPOCH_SETTINGS = ("stl10_sup_in", "voc_sup_in", "tox21_sup_pcba")


def _sync(rt):
    """Wait for the device's queued work (timings must not stop before the GPU does)."""
    return torch.cuda.synchronize if rt.device.type == "cuda" else (lambda: None)


def _rate(step, batch: int, steps: int, sync) -> float:
    for _ in range(2):  # warm-up (cuDNN, allocator)
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return batch * steps / (time.perf_counter() - t0)


def measure(family, data, model_cfg, head_cfg, batch: int, rt, steps: int) -> dict:
    """samples/s of a training step, a frozen-backbone HP step, a head step on cached
    features and an evaluation pass, on one synthetic batch of the family's own format."""
    n_out = gpu_hours.num_outputs(data)
    prepared = family.synthetic(data, {"train": batch, "val": 2, "test": 2}, n_out, 0)
    ds = family.splits(prepared, data, augment=False).train_plain
    x, y = family.unpack(next(iter(family.loader(ds, batch, False, 0))), rt.device)
    backbone, head = family.task_model(family.backbone(model_cfg), model_cfg, head_cfg, n_out)
    backbone, head = rt.prepare(backbone), rt.prepare(head)
    sync = _sync(rt)
    model = TaskModel(backbone, head)
    opt = sgd(model.parameters(), 1e-4, 0.0)

    def train_step():
        with rt.autocast():
            loss = family.loss(model(x), y, 1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()

    @torch.no_grad()
    def eval_step():
        with rt.autocast():
            model(x)

    rates = {"train": _rate(train_step, batch, steps, sync)}
    model.eval()
    rates["eval"] = _rate(eval_step, batch, steps, sync)
    freeze(backbone)
    head.train()
    head_opt = sgd(head.parameters(), 1e-4, 0.0)
    with torch.no_grad(), rt.autocast():
        z = backbone(x).float()

    def frozen_step(through: bool):
        with torch.no_grad(), rt.autocast():
            feats = backbone(x) if through else z
        with rt.autocast():
            loss = family.loss(head(feats), y, 1.0)
        head_opt.zero_grad()
        loss.backward()
        head_opt.step()

    rates["frozen"] = _rate(lambda: frozen_step(True), batch, steps, sync)
    rates["head"] = _rate(lambda: frozen_step(False), batch, steps, sync)
    return rates


def data_rate(family, data, batch: int, rt, steps: int) -> float | None:
    """images/s of the input path alone, augmentation on: the batched loader's gather, the
    copy to the device and the decoding there (data/batches.py); None where the family's
    loader is another (a DataLoader over per-sample datasets)."""
    n_out = gpu_hours.num_outputs(data)
    prepared = family.synthetic(data, {"train": 2 * batch, "val": 2, "test": 2}, n_out, 0)
    train = family.splits(prepared, data, augment=True).train
    loader = family.loader(train, batch, True, 0, rt.workers, rt.pin_memory)
    if not isinstance(loader, ImageBatches):
        return None
    raw = itertools.cycle(list(loader)[:1])  # full batches only: the last may be short
    return _rate(lambda: family.unpack(next(raw), rt.device), batch, steps, _sync(rt))


def workloads(study) -> dict[str, tuple]:
    """Every distinct (network, input, head, batch) the study trains or evaluates."""
    from pipeline.params import HeadCfg

    out = {}
    for name in study.settings:
        ctx = Setting(study, name, study.seeds[0])  # the workload is the same at every seed
        for batch in {ctx.cfg.hp.batch_size, ctx.cfg.ft.batch_size}:
            out[gpu_hours.key_of(study, name, batch)] = (
                ctx.family,
                ctx.data_cfg,
                ctx.model_cfg,
                ctx.cfg.head,
                batch,
            )
    for name, p in study.pretrain.items():
        family = get_family(p.family)
        key, data = gpu_hours.pretrain_workload(study, name)
        out[key] = (family, data, family.ModelCfg(**p.model), HeadCfg(), p.batch_size)
    return out


RANDOM_BACKBONE = Path("random-backbone.pt")


def _epoch_study(raw: dict, setting: str, hp_taus: list[int], ft_epochs: int) -> dict:
    """A one-setting study over synthetic data of the paper's sizes, its backbone imported
    from RANDOM_BACKBONE (random weights: speed does not depend on them)."""
    s = json.loads(json.dumps(raw["settings"][setting]))
    backbone = {**raw.get("imports", {}), **raw.get("pretrain", {})}[s["pretrain"]]
    data = {**raw["datasets"][s["data"]], "download": False}
    s["hp"] = {**s["hp"], "taus": hp_taus}
    # Fewer epochs: the study's z epochs would lie beyond them, so their default applies.
    s["ft"] = {k: v for k, v in s["ft"].items() if k != "z_epochs"}
    s["ft"] = {**s["ft"], "epochs": ft_epochs, "patience": ft_epochs}
    return {
        "seed": 0,
        "seeds": [0],
        "device": raw.get("device", "auto"),
        "taus": hp_taus,
        "z_split": "train",
        "datasets": {s["data"]: data},
        "pretrain": {},
        "exchange": {},
        "imports": {
            s["pretrain"]: {
                "family": backbone["family"],
                "model": backbone["model"],
                "checkpoint": str(RANDOM_BACKBONE),
            }
        },
        "settings": {setting: s},
    }


def real_epochs(raw: dict, setting: str, rt, scale: float) -> dict:
    """One HP epoch and one FT epoch of the real stages, and whether FT repeats bit for bit."""
    from pipeline.stages import finetune, pretrain, probe

    sync = _sync(rt)

    def timed(fn) -> float:
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t0

    def study_of(hp_taus, ft_epochs):
        return validate(_epoch_study(raw, setting, hp_taus, ft_epochs), check_files=False)

    study = study_of([0, 1], 1)
    ctx = Setting(study, setting, 0)
    sizes = {k: max(2, round(n * scale)) for k, n in gpu_hours.split_sizes(ctx.data_cfg).items()}
    save_prepared(
        paths.dataset(ctx.cfg.data),
        ctx.family.name,
        ctx.family.synthetic(ctx.data_cfg, sizes, gpu_hours.num_outputs(ctx.data_cfg), 0),
    )
    pre = study.imports[ctx.cfg.pretrain]
    save_torch(RANDOM_BACKBONE, get_family(pre.family).backbone(ctx.model_cfg).state_dict())
    pretrain.run(study, ctx.cfg.pretrain, study.pretrain_seeds, rt)
    hp0 = timed(lambda: probe.run(study_of([0], 1), setting, rt))
    hp1 = timed(lambda: probe.run(study, setting, rt))
    ft = {}
    for epochs in (1, 2):
        ft[epochs] = timed(
            lambda epochs=epochs: finetune.run(study_of([0, 1], epochs), setting, [0], [0], rt)
        )
        if epochs == 1:
            first = torch.load(paths.ft_model(setting, 0, 0), weights_only=False)["state_dict"]
    finetune.run(study, setting, [0], [0], rt)
    again = torch.load(paths.ft_model(setting, 0, 0), weights_only=False)["state_dict"]
    same = all(torch.equal(first[k], again[k]) for k in first)
    hp_epoch, ft_epoch = hp1 - hp0, ft[2] - ft[1]
    return {
        "sizes": sizes,
        "hp_augment": ctx.cfg.hp.augment,
        "hp_epoch_s": hp_epoch,
        "ft_epoch_s": ft_epoch,
        "ft_images_per_s": (sizes["train"] + sizes["val"]) / ft_epoch,
        "hp_images_per_s": sizes["train"] / hp_epoch,
        "ft_bitwise_repeatable": same,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--params", default="studies/paper.yaml")
    ap.add_argument("--out", help="write the measurements here (JSON)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per rate")
    ap.add_argument("--batch-cap", type=int, help="cap every batch size (a CPU smoke test)")
    ap.add_argument(
        "--scale", type=float, default=1.0, help="fraction of the paper's dataset sizes"
    )
    ap.add_argument("--epoch-settings", nargs="*", default=list(EPOCH_SETTINGS))
    args = ap.parse_args()
    raw = read_raw(args.params)
    study = validate(raw, args.params, check_files=False)
    rt = runtime(study.device)
    card = torch.cuda.get_device_name(rt.device) if rt.device.type == "cuda" else "CPU"
    print(f"[gpu_check] {card}, torch {torch.__version__}", flush=True)
    report = {
        "card": card,
        "torch": torch.__version__,
        "params": args.params,
        "steps": args.steps,
        "batch_cap": args.batch_cap,
        "scale": args.scale,
        "rates": {},
        "epochs": {},
    }

    def save():  # after every measurement: a run cut short keeps what it measured
        if args.out:
            write_json(Path(args.out).absolute(), report)

    for key, (family, data, model_cfg, head_cfg, batch) in workloads(study).items():
        bs = min(batch, args.batch_cap or batch)
        report["rates"][key] = measure(family, data, model_cfg, head_cfg, bs, rt, args.steps)
        rate = data_rate(family, data, bs, rt, args.steps)
        if rate is not None:
            report["rates"][key]["data"] = rate
        print(
            f"[gpu_check] {key}: "
            + ", ".join(f"{k} {v:,.0f}/s" for k, v in report["rates"][key].items()),
            flush=True,
        )
        save()
    root = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            for setting in [s for s in args.epoch_settings if s in raw["settings"]]:
                report["epochs"][setting] = real_epochs(raw, setting, rt, args.scale)
                print(f"[gpu_check] {setting}: {report['epochs'][setting]}", flush=True)
                os.chdir(root)
                save()
                os.chdir(tmp)
        finally:
            os.chdir(root)
    print(gpu_hours.markdown(study, report), flush=True)


if __name__ == "__main__":
    main()
