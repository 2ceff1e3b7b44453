"""Head exchange (figure 3): after HP(tau)-FT for several tau, pair every finetuned
backbone with every finetuned head, without further training, and score each pair
on the train and validation splits, at every replicate seed. Rows: the backbone's tau;
columns: the head's; each cell of the heat-map is the mean over seeds."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from pipeline.engine.loop import TaskModel, assess
from pipeline.engine.setting import Setting, load_ft_model
from pipeline.io import paths
from pipeline.io.atomic import atomic_path
from pipeline.params import Study
from pipeline.runtime.device import Runtime


def run(study: Study, setting: str, rt: Runtime) -> pd.DataFrame:
    taus = study.exchange[setting]
    table = pd.DataFrame(
        [row for seed in study.seeds for row in exchange(Setting(study, setting, seed), taus, rt)]
    )
    with atomic_path(paths.exchange(setting, "csv")) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    plot(
        table,
        setting,
        taus,
        Setting(study, setting, study.seeds[0]).family.metric,
        len(study.seeds),
    )
    return table


def exchange(ctx: Setting, taus: list[int], rt: Runtime) -> list[dict]:
    """Every (backbone, head) pair of one seed's FT models, scored on train and val."""
    splits = ctx.splits(augment=False)
    models = {}
    for tau in taus:
        model = TaskModel(*ctx.parts(splits, rt, bn="source"))
        load_ft_model(model, paths.ft_model(ctx.name, ctx.seed, tau))
        models[tau] = rt.prepare(model).eval()
    rows = []
    for split in ("train", "val"):
        loader = ctx.family.loader(splits.get(split), ctx.cfg.ft.batch_size, False, ctx.study.seed)
        for tb in taus:
            for th in taus:
                pair = TaskModel(models[tb].backbone, models[th].head)
                rows.append(
                    {
                        "seed": ctx.seed,
                        "split": split,
                        "backbone_tau": tb,
                        "head_tau": th,
                        "score": assess(pair, loader, ctx.family, rt, splits.num_outputs)["score"],
                    }
                )
    return rows


def plot(table: pd.DataFrame, setting: str, taus: list[int], metric: str, n_seeds: int) -> None:
    """Train and val heat-maps of the mean score over seeds."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    for ax, split in zip(axes, ("train", "val"), strict=True):
        grid = table[table["split"] == split].pivot_table(
            index="backbone_tau", columns="head_tau", values="score", aggfunc="mean"
        )
        im = ax.imshow(grid.values, cmap="viridis")
        ax.set_xticks(range(len(taus)), taus)
        ax.set_yticks(range(len(taus)), taus)
        ax.set_xlabel("head from HP(tau)-FT")
        ax.set_ylabel("backbone from HP(tau)-FT")
        ax.set_title(f"{setting}: {split} {metric}, mean of {n_seeds} seeds")
        for i in range(len(taus)):
            for j in range(len(taus)):
                ax.text(
                    j,
                    i,
                    f"{grid.values[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="w",
                )
        fig.colorbar(im, ax=ax, fraction=0.046)
    with atomic_path(paths.exchange(setting, "png")) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
