"""The one training and evaluation loop shared by every family and stage.

Families supply data, models and the comparison of outputs q with targets y;
this module supplies epochs, optimisers, schedules, early stopping, resuming,
feature caching and progress lines. It has no family-specific branches.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import nn

from pipeline.families.base import Family, Splits
from pipeline.io.artifacts import read_resume
from pipeline.io.atomic import save_torch
from pipeline.params import FTCfg, PretrainCfg
from pipeline.runtime import stopping
from pipeline.runtime.device import Runtime
from pipeline.runtime.seeding import derive, generator
from pipeline.runtime.speed import eval_batch_size, fast


class TaskModel(nn.Module):
    """q = head(backbone(x))."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x):
        return self.head(self.backbone(x))


def freeze(module: nn.Module) -> nn.Module:
    """Frozen for real: eval mode (BatchNorm statistics stay put) and no gradients."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def sgd(params, lr: float, weight_decay: float) -> torch.optim.SGD:
    """SGD with momentum 0.9; with the fast paths, its fused kernel (one pass over all
    parameters instead of one loop per tensor: docs/profile.md)."""
    return torch.optim.SGD(
        [p for p in params if p.requires_grad],
        lr=lr,
        momentum=0.9,
        weight_decay=weight_decay,
        fused=True if fast() else None,
    )


def default_unpack(batch, device):
    x, y = batch
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def progress(stage: str, **fields) -> None:
    parts = [f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()]
    print(f"[{stage}] " + " ".join(parts), file=sys.stderr, flush=True)


def batches(loader, desc: str):
    """`loader`, with a progress bar within the epoch when stderr is a terminal and the epoch
    lasts over a second (tqdm, cleared when done); files keep their one line per epoch."""
    if not sys.stderr.isatty():
        return loader
    from tqdm import tqdm

    return tqdm(loader, desc=desc, unit="batch", leave=False, delay=1.0, dynamic_ncols=True)


def train_epoch(
    model: nn.Module,
    loader,
    family: Family,
    opt,
    eta: float,
    rt: Runtime,
    unpack: Callable = None,
    sched=None,
    done: dict | None = None,
    stoppable: bool = False,
) -> dict:
    """One pass of SGD over `loader`; returns the sample-averaged loss and accuracy.

    `stoppable`: on SIGTERM (pipeline.runtime.stopping) the pass ends after the current batch and
    returns {"stopped": where it is}; given back as `done`, that pass goes on from there to
    the same result as one never stopped (the batches done are drawn again and skipped)."""
    unpack = unpack or family.unpack
    at = done or {"batches": 0, "sums": [0.0, 0, 0.0, 0]}
    loss_sum, n, correct, counted = at["sums"]
    it = iter(batches(loader, "train"))
    for _ in range(at["batches"]):
        next(it)
    if done:
        set_rng_state(done["rng"], rt)
    for i, batch in enumerate(it, start=at["batches"] + 1):
        x, y = unpack(batch, rt.device)
        with rt.autocast():
            q = model(x)
            loss = family.loss(q, y, eta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bs = len(y)
        loss_sum, n = loss_sum + loss.item() * bs, n + bs
        c, k = family.correct(q.detach(), y)
        correct, counted = correct + c, counted + k
        if stoppable and stopping.requested():
            sums = [loss_sum, n, correct, counted]
            return {"stopped": {"batches": i, "sums": sums, "rng": rng_state(rt)}}
    if sched is not None:
        sched.step()
    return {"loss": loss_sum / max(n, 1), "acc": correct / max(counted, 1)}


def rng_state(rt: Runtime) -> dict:
    cuda = rt.device.type == "cuda"
    return {
        "cpu": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(rt.device) if cuda else None,
    }


def set_rng_state(state: dict, rt: Runtime) -> None:
    torch.set_rng_state(state["cpu"])
    if state["cuda"] is not None:
        torch.cuda.set_rng_state(state["cuda"], rt.device)


@torch.no_grad()
def assess(
    model: nn.Module, loader, family: Family, rt: Runtime, num_outputs: int, unpack: Callable = None
) -> dict:
    """Score, accuracy and average energy of `model` (in eval mode) over a whole split."""
    unpack = unpack or family.unpack
    was_training = model.training
    model.eval()
    scorer = family.scorer(num_outputs)
    correct = counted = 0
    e_sum, e_n = 0.0, 0
    for batch in batches(loader, "assess"):
        x, y = unpack(batch, rt.device)
        with rt.autocast():
            q = model(x)
        q = q.float()
        scorer.update(q, y)
        c, k = family.correct(q, y)
        s, m = family.energy(q, y)
        correct, counted, e_sum, e_n = correct + c, counted + k, e_sum + s, e_n + m
    model.train(was_training)
    return {
        "score": scorer.compute(),
        "acc": correct / max(counted, 1),
        "energy": e_sum / max(e_n, 1),
    }


@torch.no_grad()
def features(
    backbone: nn.Module, loader, family: Family, rt: Runtime
) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, y) for a whole split, computed once by a frozen backbone, kept on the CPU in the
    standard layout (a channels_last feature map, sliced per sample and stacked into
    batches, would cost a strided copy of every batch: measured 2x slower here)."""
    backbone.eval()
    zs, ys = [], []
    for batch in batches(loader, "features"):
        x, y = family.unpack(batch, rt.device)
        with rt.autocast():
            zs.append(backbone(x).float().contiguous().cpu())
        ys.append(y.cpu())
    return torch.cat(zs), torch.cat(ys)


def on_device_if_it_fits(tensors: tuple[torch.Tensor, ...], rt: Runtime, share: float = 0.5):
    """The cached features on the GPU when they take at most `share` of its free memory
    (batches are then gathered there, not copied over PCIe each epoch); else as they are."""
    if rt.device.type != "cuda":
        return tensors
    size = sum(t.numel() * t.element_size() for t in tensors)
    free, _ = torch.cuda.mem_get_info(rt.device)
    return tuple(t.to(rt.device) for t in tensors) if size <= share * free else tensors


def cached_loader(z: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool, seed: int):
    """Batches of cached features in a seeded order (the global RNG is not drawn from);
    a lone last training sample is dropped (BatchNorm in a head cannot train on a batch of
    one). Each batch is gathered by one indexing of the tensors, not collated sample by
    sample as a DataLoader over a TensorDataset would (measured about 20x faster here: 1,440 x 128 features, batches of 128)."""
    order = torch.randperm(len(z), generator=generator(seed)) if shuffle else torch.arange(len(z))
    if shuffle and len(z) % batch_size == 1:
        order = order[:-1]
    return ((z[i], y[i]) for i in order.split(batch_size))


def scheduler(opt: torch.optim.Optimizer, schedule: str, epochs: int):
    """The FT learning-rate schedule, stepped once an epoch: cosine over `epochs`, or the lr
    held constant ("constant" and "none", appendix B's "no learning rate scheduler")."""
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    return torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)


def fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


RESUME_EVERY_ENV = "TASKHEAD_RESUME_EVERY"


def resume_every() -> float:
    """Seconds between resume files of a run (default 10; 0: every epoch). A resume file holds
    the model, the optimiser and the best weights: written every epoch, a ResNet's filled
    most of an FT job's wall time with disk writes (see the job's benchmark: io_out against
    cpu_time). An interrupted run loses at most this much training."""
    return float(os.environ.get(RESUME_EVERY_ENV, "10"))


@dataclass(frozen=True)
class Training:
    """What `fit` reads of a stage's config. A field the config lacks keeps its default here:
    pretraining has no label smoothing (eta 1), no early stopping, a cosine schedule and no
    z epochs (FT's `z_epochs`: the epochs whose weights `fit` keeps for evaluate)."""

    lr: float
    epochs: int
    batch_size: int
    weight_decay: float
    eta: float = 1.0
    patience: int | None = None
    schedule: str = "cosine"
    z_epochs: Sequence[int] = ()

    @classmethod
    def of(cls, cfg: PretrainCfg | FTCfg) -> Training:
        """The fields of `cfg` that `fit` reads, taken by name."""
        return cls(**{f.name: getattr(cfg, f.name) for f in fields(cls) if hasattr(cfg, f.name)})


def fit(
    model: nn.Module,
    family: Family,
    splits: Splits,
    rt: Runtime,
    training: Training,
    *,
    seed: int,
    resume: Path,
    key: list,
    stage: str,
    until: int | None = None,
) -> dict:
    """SGD with momentum 0.9 on `splits.train`, scored on `splits.val`, the lr following
    `training.schedule` (see `scheduler`) over `training.epochs`.

    With `training.patience`, the model of the best validation score over the epochs run is
    kept and training stops after that many epochs without improvement, though never before
    the last of `training.z_epochs`; without it the last model is kept. The weights after each
    of `training.z_epochs` (on the CPU) are kept too, in the resume file until the run ends.
    `resume` is written after an epoch when RESUME_EVERY seconds have passed since it was
    last written, and after the last epoch; a rerun with the same `key` continues from it.
    On SIGTERM it is written at the end of the current batch, and the job stops
    (pipeline.runtime.stopping): a rerun goes on from that batch.
    `until` stops the run after that epoch, its resume file written: a later call with a
    larger `until` goes on as if never stopped (pipeline.engine.halving's rungs).
    Returns the history (with `z_epochs`, also `snapshots`: {epoch: weights} for those
    reached) and leaves the selected weights in `model`.
    """
    opt = sgd(model.parameters(), training.lr, training.weight_decay)
    sched = scheduler(opt, training.schedule, training.epochs)
    state = {
        "epoch": 0,
        "best": None,
        "best_epoch": 0,
        "bad": 0,
        "history": [],
        "snapshots": {},
        "key": fingerprint(key),
    }
    saved = read_resume(resume, state["key"], rt.device)
    if saved is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        state = saved["state"]
        progress(stage, resumed_from_epoch=state["epoch"])
    val_loader = family.loader(
        splits.val, eval_batch_size(training.batch_size), False, seed, rt.workers, rt.pin_memory
    )
    last_saved = time.monotonic()
    last_z = max(training.z_epochs, default=0)

    def running() -> bool:
        cap = training.epochs if until is None else min(training.epochs, until)
        return state["epoch"] < cap and (
            training.patience is None or state["bad"] < training.patience or state["epoch"] < last_z
        )

    def save() -> None:
        save_torch(
            resume,
            {
                "key": state["key"],
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "state": state,
            },
        )

    with stopping.on_sigterm():
        while running():
            epoch = state["epoch"] + 1
            t0 = time.monotonic()
            # Dropout and augmentation draws depend on the seed and the epoch alone: identical
            # on resume, across the taus of a setting and between a setting and its companions.
            torch.manual_seed(derive(seed, "draws", epoch))
            loader = family.loader(
                splits.train,
                training.batch_size,
                True,
                derive(seed, "order", epoch),
                rt.workers,
                rt.pin_memory,
            )
            model.train()
            tr = train_epoch(
                model,
                loader,
                family,
                opt,
                training.eta,
                rt,
                sched=sched,
                done=state.pop("partial", None),
                stoppable=True,
            )
            if "stopped" in tr:  # SIGTERM: this epoch goes on from this batch on the next run
                state["partial"] = tr["stopped"]
                save()
                stopping.stop(stage, resume)
            va = assess(model, val_loader, family, rt, splits.num_outputs)
            state["history"].append(
                {
                    "epoch": epoch,
                    "train_loss": tr["loss"],
                    "train_acc": tr["acc"],
                    "val_score": va["score"],
                }
            )
            if state["best"] is None or va["score"] > state["best"]["score"]:
                state["best"] = {"score": va["score"], "weights": copy.deepcopy(model.state_dict())}
                state["best_epoch"], state["bad"] = epoch, 0
            else:
                state["bad"] += 1
            state["epoch"] = epoch
            if epoch in training.z_epochs:
                state["snapshots"][epoch] = {
                    k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
                }
            # Saved before the line is printed: under SLURM, the SIGTERM may have ended the job's
            # `tee` already, and the print then fails.
            if (
                not running()
                or time.monotonic() - last_saved >= resume_every()
                or stopping.requested()
            ):
                save()
                last_saved = time.monotonic()
            progress(
                stage,
                epoch=f"{epoch}/{training.epochs}",
                loss=tr["loss"],
                train_acc=tr["acc"],
                val_score=va["score"],
                secs=f"{time.monotonic() - t0:.1f}",
            )
            if stopping.requested() and running():
                stopping.stop(stage, resume)
    if training.patience is not None:
        model.load_state_dict(state["best"]["weights"])
    # Through JSON: entries restored from a resume file and fresh ones then pickle alike, so a
    # resumed run saves the same bytes as an uninterrupted one.
    out = {
        "history": json.loads(json.dumps(state["history"])),
        "best_epoch": state["best_epoch"] if training.patience else state["epoch"],
        "epochs_run": state["epoch"],
    }
    return out | ({"snapshots": state["snapshots"]} if training.z_epochs else {})
