"""GPU check: one HP and one FT of a setting, for a fixed number of steps, on synthetic
inputs of the setting's shape (so no dataset is needed on the GPU box); prints images/s.

    python -m pipeline.gpu_check [--params studies/paper.yaml] [--setting NAME] [--steps 50]

Without --setting it takes the paper profile's smallest image setting. It uses the same
runtime as the pipeline: one claimed device, bf16 autocast, channels_last.
"""
from __future__ import annotations

import argparse
import time

import torch

from .context import Setting
from .device import runtime
from .loop import TaskModel, freeze, sgd
from .params import load


def _smallest_image_setting(study) -> str:
    sized = [(Setting(study, s).data_cfg.size, s) for s in study.settings
             if Setting(study, s).family.name == "classification"]
    return min(sized)[1]


def _rate(step, batch: int, steps: int, sync) -> float:
    for _ in range(3):  # warm-up (cuDNN autotuning, allocator)
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="studies/paper.yaml")
    ap.add_argument("--setting")
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    study = load(args.params, check_files=False)
    name = args.setting or _smallest_image_setting(study)
    ctx = Setting(study, name)
    rt = runtime(study.device)
    data, model_cfg = ctx.data_cfg, ctx.model_cfg
    channels = getattr(model_cfg, "in_channels", 3)
    backbone = ctx.family.backbone(model_cfg)
    backbone, head = ctx.family.task_model(backbone, model_cfg, ctx.cfg.head, 100)
    backbone, head = rt.prepare(backbone), rt.prepare(head)
    sync = torch.cuda.synchronize if rt.device.type == "cuda" else (lambda: None)
    mf = torch.channels_last if rt.channels_last else torch.contiguous_format

    def batch(bs):
        x = torch.rand(bs, channels, data.size, data.size, device=rt.device).to(memory_format=mf)
        return x, torch.randint(0, 100, (bs,), device=rt.device)

    hp_bs, ft_bs = ctx.cfg.hp.batch_size, ctx.cfg.ft.batch_size
    freeze(backbone)
    x, y = batch(hp_bs)
    opt = sgd(head.parameters(), ctx.cfg.hp.lr, 0.0)

    def hp_step():  # HP through the frozen backbone: forward only, then the head's step
        with torch.no_grad(), rt.autocast():
            z = backbone(x)
        with rt.autocast():
            loss = ctx.family.loss(head(z), y, 1.0)
        opt.zero_grad(), loss.backward(), opt.step()

    hp_rate = _rate(hp_step, hp_bs, args.steps, sync)
    model = TaskModel(backbone, head)
    for p in model.parameters():
        p.requires_grad_(True)
    model.train()
    x, y = batch(ft_bs)
    opt = sgd(model.parameters(), ctx.cfg.ft.lr, 0.0)

    def ft_step():
        with rt.autocast():
            loss = ctx.family.loss(model(x), y, 1.0)
        opt.zero_grad(), loss.backward(), opt.step()

    ft_rate = _rate(ft_step, ft_bs, args.steps, sync)
    card = torch.cuda.get_device_name(rt.device) if rt.device.type == "cuda" else "CPU"
    print(f"{name} ({data.size}x{data.size}, {card}): HP {hp_rate:.0f} images/s (frozen backbone forward + "
          f"head step), FT {ft_rate:.0f} images/s (forward + backward + SGD); FT / HP {ft_rate / hp_rate:.2f}")


if __name__ == "__main__":
    main()
