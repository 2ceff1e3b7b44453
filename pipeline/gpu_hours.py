"""GPU-hours of a study, from rates measured on a card (pipeline.gpu_check) and the
paper's dataset sizes (Table 4 of the paper; OGB's scaffold splits; VOC 2012's lists).

Every pass of the study is counted, as the stages make it: pretraining, HP (through the
frozen backbone when `hp.augment`, else one feature pass and head epochs on cached
features), FT with its per-epoch validation, evaluation (validation, test, the energy
pass over the training split, and z over `z_split`), and the head exchange. FT is
counted at its epoch cap: an upper bound, since early stopping ends most runs sooner.
"""
from __future__ import annotations

import json

from .errors import PipelineError

# dataset kind -> (training pool, test set); a validation share is drawn from the pool.
POOLS = {"stl10": (5000, 8000), "cifar10": (50000, 10000), "cifar100": (50000, 10000),
         "flowers102": (6149, 2040), "mnist": (60000, 10000), "voc2012": (1464, 1449)}
# OGB's fixed scaffold splits: (train, val, test).
FIXED = {"ogbg-moltox21": (6264, 783, 784), "ogbg-molpcba": (350343, 43793, 43793),
         "ogbg-molhiv": (32901, 4113, 4113)}
CLASSES = {"stl10": 10, "cifar10": 10, "cifar100": 100, "flowers102": 102, "mnist": 10, "mnist012": 3,
           "digits012": 3, "voc2012": 21, "ogbg-moltox21": 12, "ogbg-molpcba": 128, "ogbg-molhiv": 1}


def split_sizes(data) -> dict[str, int]:
    """Samples per split of a dataset entry (its family's DataCfg) at the paper's scale."""
    kind = data.dataset
    if kind in FIXED:
        return dict(zip(("train", "val", "test"), FIXED[kind]))
    if kind in ("mnist012", "digits012"):
        total = 3 * data.n_per_class
        val, test = round(total * data.val_fraction), round(total * data.test_fraction)
        return {"train": total - val - test, "val": val, "test": test}
    if kind not in POOLS:
        raise PipelineError(f"dataset {kind!r}: expected one of {sorted(POOLS) + sorted(FIXED)} "
                            "(the paper's datasets, whose sizes are known), found another")
    pool, test = POOLS[kind]
    val = round(pool * data.val_fraction)
    return {"train": pool - val, "val": val, "test": test}


def num_outputs(data) -> int:
    return CLASSES.get(data.dataset, 10)


def workload_key(family: str, model: dict, size: int | None, head: str, batch: int) -> str:
    """One measured workload: the network, its input size, its head and its batch size."""
    arch = json.dumps(model, sort_keys=True, separators=(",", ":"))
    return f"{family} {arch} {size or '-'}px head={head} batch={batch}"


def setting_hours(n: dict[str, int], taus: list[int], hp_augment: bool, ft_epochs: int,
                  hp_rates: dict, ft_rates: dict, exchange: int, z_split: str = "train") -> dict:
    """Seconds of one setting's HP, FT, evaluation and exchange (rates in samples/s):
    hp_rates and ft_rates each hold `train`, `frozen`, `head` and `eval`."""
    tau_max, tr, va, te = max(taus), n["train"], n["val"], n["test"]
    nz = n[z_split]
    if hp_augment:
        hp = tau_max * tr / hp_rates["frozen"] + tr / hp_rates["eval"]
    else:
        hp = tr / hp_rates["eval"] + tau_max * tr / hp_rates["head"]
    ft = len(taus) * ft_epochs * (tr / ft_rates["train"] + va / ft_rates["eval"])
    evaluate = nz / ft_rates["eval"] + len(taus) * (va + te + tr + nz) / ft_rates["eval"]
    ex = exchange ** 2 * (tr + va) / ft_rates["eval"]
    return {"hp": hp, "ft": ft, "evaluate": evaluate, "exchange": ex}


def pretrain_seconds(n: dict[str, int], epochs: int, rates: dict) -> float:
    return epochs * (n["train"] / rates["train"] + n["val"] / rates["eval"])
