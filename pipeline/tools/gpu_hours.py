"""GPU-hours of a study, from rates measured on a card (pipeline.tools.gpu_check) and the
paper's dataset sizes (Table 4 of the paper; OGB's scaffold splits; VOC 2012's lists).

Every pass of the study is counted, as the stages make it: pretraining, HP (through the
frozen backbone when `hp.augment`, else one feature pass and head epochs on cached
features), FT with its per-epoch validation, evaluation (validation, test, the energy
pass over the training split, and z over `z_split`), and the head exchange, once per
replicate seed (`seeds`); pretraining once per pretraining seed. With `bn: target`, every
job that builds the backbone first re-estimates its BatchNorm statistics (one evaluation
pass over the training split). FT is counted at its epoch cap: an upper bound, since
early stopping ends most runs sooner.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipeline.data.catalog import CLASSES, FIXED, POOLS
from pipeline.errors import PipelineError


def split_sizes(data) -> dict[str, int]:
    """Samples per split of a dataset entry (its family's DataCfg) at the paper's scale."""
    kind = data.dataset
    if kind in FIXED:
        return dict(zip(("train", "val", "test"), FIXED[kind], strict=True))
    if kind in ("mnist012", "digits012"):
        total = 3 * data.n_per_class
        val, test = round(total * data.val_fraction), round(total * data.test_fraction)
        return {"train": total - val - test, "val": val, "test": test}
    if kind not in POOLS:
        raise PipelineError(
            f"dataset {kind!r}: expected one of {sorted(POOLS) + sorted(FIXED)} "
            "(the paper's datasets, whose sizes are known), found another"
        )
    pool, test = POOLS[kind]
    val = round(pool * data.val_fraction)
    return {"train": pool - val, "val": val, "test": test}


def num_outputs(data) -> int:
    return CLASSES.get(data.dataset, 10)


def workload_key(family: str, model: dict, size: int | None, head: str, batch: int) -> str:
    """One measured workload: the network, its input size, its head and its batch size."""
    arch = json.dumps(model, sort_keys=True, separators=(",", ":"))
    return f"{family} {arch} {size or '-'}px head={head} batch={batch}"


def setting_hours(
    n: dict[str, int],
    taus: list[int],
    hp_augment: bool,
    ft_epochs: int,
    hp_rates: dict,
    ft_rates: dict,
    exchange: int,
    z_split: str = "train",
    bn_target: bool = False,
) -> dict:
    """Seconds of one setting's HP, FT, evaluation and exchange at one replicate seed
    (rates in samples/s): hp_rates and ft_rates each hold `train`, `frozen`, `head` and
    `eval`. `bn_target`: HP, each FT run and evaluation's z_0 first re-estimate the
    BatchNorm statistics (one evaluation pass over the training split each)."""
    tau_max, tr, va, te = max(taus), n["train"], n["val"], n["test"]
    nz = n[z_split]
    if hp_augment:
        hp = tau_max * tr / hp_rates["frozen"] + tr / hp_rates["eval"]
    else:
        hp = tr / hp_rates["eval"] + tau_max * tr / hp_rates["head"]
    ft = len(taus) * ft_epochs * (tr / ft_rates["train"] + va / ft_rates["eval"])
    evaluate = nz / ft_rates["eval"] + len(taus) * (va + te + tr + nz) / ft_rates["eval"]
    ex = exchange**2 * (tr + va) / ft_rates["eval"]
    if bn_target:
        hp += tr / hp_rates["eval"]
        ft += len(taus) * tr / ft_rates["eval"]
        evaluate += tr / ft_rates["eval"]
    return {"hp": hp, "ft": ft, "evaluate": evaluate, "exchange": ex}


def pretrain_seconds(n: dict[str, int], epochs: int, rates: dict) -> float:
    return epochs * (n["train"] / rates["train"] + n["val"] / rates["eval"])


def _setting(study, name: str):
    """A setting's resolved configs (the same at every replicate seed)."""
    from pipeline.engine.setting import Setting

    return Setting(study, name, study.seeds[0])


def key_of(study, setting: str, batch: int) -> str:
    """The workload of a setting's HP or FT at `batch`."""
    ctx = _setting(study, setting)
    return workload_key(
        ctx.family.name,
        ctx.pre.model,
        getattr(ctx.data_cfg, "size", None),
        ctx.family.head_label(ctx.cfg.head),
        batch,
    )


def pretrain_workload(study, name: str) -> tuple[str, object]:
    """(key, dataset config) of a backbone trained here, with its pretraining (linear) head."""
    from pipeline.families import get_family

    p = study.pretrain[name]
    data = get_family(p.family).DataCfg(**study.data_cfg(p.data))
    return workload_key(
        p.family, p.model, getattr(data, "size", None), "linear", p.batch_size
    ), data


def _mixed(rates: dict, n: dict[str, int], stage: str) -> float:
    """The step rate of one epoch as a stage runs it: FT trains on `train` and then
    validates; HP steps through the frozen backbone (augmented) or on cached features."""
    if stage == "ft":
        return (n["train"] + n["val"]) / (n["train"] / rates["train"] + n["val"] / rates["eval"])
    return rates[stage]


def calibration(study, report: dict) -> dict[str, dict[str, float]]:
    """Per family, real-epoch rate / step rate for FT and HP, from the real epochs of
    gpu_check (data loading, validation and the stage's own work included); 1 where no
    real epoch of the family was measured."""
    out = {}
    for setting, e in report.get("epochs", {}).items():
        if setting not in study.settings:
            continue
        ctx, n = _setting(study, setting), e["sizes"]
        ft = _mixed(report["rates"][key_of(study, setting, ctx.cfg.ft.batch_size)], n, "ft")
        hp = _mixed(
            report["rates"][key_of(study, setting, ctx.cfg.hp.batch_size)],
            n,
            "frozen" if e["hp_augment"] else "head",
        )
        out[ctx.family.name] = {"ft": e["ft_images_per_s"] / ft, "hp": e["hp_images_per_s"] / hp}
    return out


def study_seconds(study, rates: dict, factors: dict) -> dict[str, dict[str, float]]:
    """Seconds per setting (hp, ft, evaluate, exchange; every replicate seed) and per
    pretraining (every pretraining seed), from step rates, each divided by its family's
    real-epoch factor (1 if none)."""
    out = {}
    seeds, pretrain_seeds = len(study.seeds), len(study.pretrain_seeds)
    for name, s in study.settings.items():
        ctx = _setting(study, name)
        f = factors.get(ctx.family.name, {"hp": 1.0, "ft": 1.0})
        secs = setting_hours(
            split_sizes(ctx.data_cfg),
            study.taus_of(name),
            s.hp.augment,
            s.ft.epochs,
            rates[key_of(study, name, s.hp.batch_size)],
            rates[key_of(study, name, s.ft.batch_size)],
            len(study.exchange.get(name, [])),
            study.z_split,
            bn_target=s.bn == "target",
        )
        out[name] = {k: seeds * v / (f["hp"] if k == "hp" else f["ft"]) for k, v in secs.items()}
    for name, p in study.pretrain.items():
        key, data = pretrain_workload(study, name)
        f = factors.get(p.family, {"ft": 1.0})["ft"]
        out[f"pretrain {name}"] = {
            "pretrain": pretrain_seeds
            * pretrain_seconds(split_sizes(data), p.epochs, rates[key])
            / f
        }
    return out


def markdown(study, report: dict) -> str:
    """The GPU-hours of a study on the measured card: per setting and in total, from step
    rates alone and calibrated by the real epochs."""
    factors = calibration(study, report)
    raw = study_seconds(study, report["rates"], {})
    cal = study_seconds(study, report["rates"], factors)
    rows = []
    for name in raw:
        r, c = raw[name], cal[name]
        rows.append(
            f"| {name} | "
            + " | ".join(
                f"{c.get(k, 0) / 3600:.2f}"
                for k in ("pretrain", "hp", "ft", "evaluate", "exchange")
            )
            + f" | {sum(r.values()) / 3600:.2f} | {sum(c.values()) / 3600:.2f} |"
        )
    total_raw = sum(sum(v.values()) for v in raw.values()) / 3600
    total_cal = sum(sum(v.values()) for v in cal.values()) / 3600
    fac = "; ".join(
        f"{fam}: FT x{1 / f['ft']:.2f}, HP x{1 / f['hp']:.2f}" for fam, f in sorted(factors.items())
    )
    epochs = "\n".join(
        f"- {s}: {e['sizes']} samples; one HP epoch {e['hp_epoch_s']:.2f} s "
        f"({e['hp_images_per_s']:,.0f} samples/s, {'through the backbone' if e['hp_augment'] else 'cached features'}); "
        f"one FT epoch with validation {e['ft_epoch_s']:.2f} s ({e['ft_images_per_s']:,.0f} samples/s); "
        f"FT repeats bit for bit: {'yes' if e['ft_bitwise_repeatable'] else 'no'}"
        for s, e in report.get("epochs", {}).items()
    )
    rates = "\n".join(
        f"| {k} | " + " | ".join(f"{v[r]:,.0f}" for r in ("train", "frozen", "head", "eval")) + " |"
        for k, v in report["rates"].items()
    )
    replicates = ""
    if len(study.seeds) > 1 or len(study.pretrain_seeds) > 1:
        replicates = (
            f"\nEvery setting is counted at its {len(study.seeds)} replicate seeds {study.seeds}, every "
            f"backbone trained here at its {len(study.pretrain_seeds)} pretraining seeds.\n"
        )
    return f"""# GPU-hours of {report["params"]} on {report["card"]}

Generated by `python -m pipeline gpu_hours` from the measurements of `python -m pipeline gpu_check`
(torch {report["torch"]}, {report["steps"]} timed steps per rate, bf16 autocast, channels_last,
deterministic kernels). FT is counted at its epoch cap: an upper bound, since early stopping
ends most runs sooner. Step rates time the GPU work alone; the calibrated column divides each
family's time by what its real epoch (real stages on synthetic data of the paper's sizes) showed
against the step rates ({fac or "no real epoch measured"}; families without one keep their step
rates).

**Total: {total_raw:,.1f} GPU-hours from step rates, {total_cal:,.1f} calibrated by the real epochs.**
{replicates}
## Real epochs

{epochs or "_none measured_"}

## GPU-hours per setting (calibrated) and in total

| setting | pretrain | HP | FT | evaluate | exchange | total (step rates) | total (calibrated) |
|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

## Step rates (samples/s)

| workload | train step | HP step through the frozen backbone | head step on cached features | evaluation |
|---|---:|---:|---:|---:|
{rates}
"""


README_BLOCK = (
    "gpu-figures",
    "python -m pipeline gpu_hours --readme",
)  # pipeline.tools.readme markers


def replace_block(text: str, block: str) -> str:
    """README text with the gpu-figures block replaced by `block`."""
    from pipeline.tools.readme import replace_block as replace

    name, command = README_BLOCK
    return replace(text, name, block, command)


def _pinned_torch() -> str | None:
    """The torch version requirements.txt pins, if it is there."""
    req = Path(__file__).resolve().parents[2] / "requirements.txt"
    found = re.search(r"^torch==(\S+)$", req.read_text(), re.M) if req.is_file() else None
    return found and found.group(1)


def summary(study, report: dict, source: str) -> str:
    """The README's lines: the card, the ResNet50 224 px rates, the real epochs, and the
    study's GPU-hours, all read off the measurements (nothing typed by hand)."""
    factors = calibration(study, report)
    raw = sum(sum(v.values()) for v in study_seconds(study, report["rates"], {}).values()) / 3600
    cal = (
        sum(sum(v.values()) for v in study_seconds(study, report["rates"], factors).values()) / 3600
    )
    r50 = next(
        (
            v
            for k, v in report["rates"].items()
            if k.startswith('classification {"arch":"resnet","depth":50')
            and " 224px head=linear " in k
        ),
        None,
    )
    pinned = _pinned_torch()
    older = (
        f"; the lent machine's torch, not the pinned {pinned}"
        if pinned and not report["torch"].startswith(pinned)
        else ""
    )
    lines = [
        f"Measured on **{report['card']}** (torch {report['torch']}{older}, bf16 autocast, "
        f"channels_last, deterministic kernels), from `{source}`:",
        "",
    ]
    if r50:
        lines.append(
            f"- ResNet50 at 224 px, batch 128: FT step {r50['train']:,.0f} images/s (forward + backward + "
            f"SGD), HP step through the frozen backbone {r50['frozen']:,.0f} images/s, evaluation "
            f"{r50['eval']:,.0f} images/s."
        )
    for name, e in report.get("epochs", {}).items():
        lines.append(
            f"- `{name}`, a real epoch of the stages on synthetic data ({e['sizes']['train']:,} training "
            f"samples): FT with validation {e['ft_images_per_s']:,.0f} samples/s, HP "
            f"{e['hp_images_per_s']:,.0f} samples/s ({'through the backbone' if e['hp_augment'] else 'cached features'}); "
            f"FT repeats bit for bit: {'yes' if e['ft_bitwise_repeatable'] else 'no'}."
        )
    lines.append(
        f"- `{report['params']}` in all: **{cal:,.0f} GPU-hours** calibrated by the real epochs "
        f"({raw:,.0f} from step rates alone), FT counted at its epoch cap."
    )
    return "\n".join(lines)


def read_report(path, names: dict[str, str] | None = None) -> dict:
    """gpu_check's JSON, or the log of a run cut short before it wrote one (its lines hold
    the same measurements); `names` renames the real epochs of a log (label -> setting)."""
    import ast

    text = Path(path).read_text()
    if path.endswith(".json"):
        return json.loads(text)
    report = {"rates": {}, "epochs": {}, "steps": 20, "params": "studies/paper.yaml"}
    for line in text.splitlines():
        if m := re.match(r"\[gpu_check\] (.+), torch (\S+)$", line):
            report["card"], report["torch"] = m.groups()
        elif m := re.match(r"\[gpu_check\] (.+ batch=\d+): (.*)$", line):
            report["rates"][m.group(1)] = {
                k: float(v.replace(",", ""))
                for k, v in re.findall(r"(\w+) ([\d,.]+)/s", m.group(2))
            }
        elif m := re.match(r"(?:\[gpu_check\] )?(\w+):? (\{'sizes'.*\})", line):
            report["epochs"][(names or {}).get(m.group(1), m.group(1))] = ast.literal_eval(
                m.group(2)
            )
    return report


def main() -> None:
    import argparse

    from pipeline.io.atomic import write_text
    from pipeline.params import load

    ap = argparse.ArgumentParser(description="GPU-hours of a study from gpu_check's measurements")
    ap.add_argument("reports", nargs="+", help="gpu_check's --out JSON, or its logs")
    ap.add_argument("--params", default="studies/paper.yaml")
    ap.add_argument("--out", help="write the Markdown here")
    ap.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="LABEL=SETTING",
        help="the setting a log's real-epoch line LABEL measured",
    )
    ap.add_argument(
        "--readme", help="also rewrite the summary between the gpu-figures markers of this file"
    )
    args = ap.parse_args()
    names = dict(n.split("=", 1) for n in args.name)
    report = {"rates": {}, "epochs": {}}
    for path in args.reports:
        part = read_report(path, names)
        report = {
            **part,
            **report,
            "rates": {**report["rates"], **part["rates"]},
            "epochs": {**report["epochs"], **part["epochs"]},
        }
    study = load(args.params, check_files=False)
    text = markdown(study, report)
    if args.out:
        write_text(args.out, text)
    if args.readme:
        readme = Path(args.readme)
        write_text(
            readme,
            replace_block(readme.read_text(), summary(study, report, args.out or args.reports[0])),
        )
    print(text)


if __name__ == "__main__":
    main()
