"""The contract between the generic HP / FT / evaluate loop and a task family.

A family says how to get its data, build its backbone f(x) -> z and heads g(z) -> q,
compare q with targets y (loss, accuracy, energy, score) and pool z for the
feature-adaptation metrics. The loop in pipeline/engine/loop.py knows nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from pydantic import BaseModel
from torch import nn
from torch.utils.data import DataLoader, Dataset

from pipeline.runtime.seeding import generator, worker_init_fn


@dataclass
class Splits:
    """A task's data: `train` may be augmented; `train_plain` never is."""

    train: Dataset
    train_plain: Dataset
    val: Dataset
    test: Dataset | None
    num_outputs: int

    def get(self, name: str) -> Dataset:
        return {"train": self.train_plain, "val": self.val, "test": self.test}[name]


class Scorer(Protocol):
    """Streams (q, y) batches, then returns the downstream score in [0, 1]."""

    def update(self, q: torch.Tensor, y: torch.Tensor) -> None: ...
    def compute(self) -> float: ...


class Family(ABC):
    name: str  # the `family` column of results/summary.csv
    metric: str  # the `metric` column: what score() measures
    ModelCfg: type[BaseModel]  # how its own pretrain entries describe a backbone
    DataCfg: type[BaseModel]  # how a `datasets` entry of this family is described
    backbone_from: tuple[str, ...] = ()  # other families whose pretrained backbones it takes
    # Table 1's HP-train-acc: "acc" (accuracy, per pixel for segmentation) or "score" (the
    # downstream score on the training split: ROC-AUC for multi-label molecules, where the
    # per-entry label accuracy of imbalanced tasks says little).
    hp_fit: str = "acc"

    # ---- data -----------------------------------------------------------------
    @abstractmethod
    def prepare(self, data: BaseModel, seed: int) -> Any:
        """Build the dataset once (generate, featurise, read files); the `prepare` stage saves
        what this returns with torch.save, and every later stage reads that file."""

    @abstractmethod
    def synthetic(self, data: BaseModel, sizes: dict[str, int], num_outputs: int, seed: int) -> Any:
        """Random data in the format `prepare` returns, of the given split sizes, input shape
        and output count: what pipeline.tools.gpu_check times the real stages on, with no dataset."""

    @abstractmethod
    def splits(self, prepared: Any, data: BaseModel, augment: bool) -> Splits:
        """Datasets over the prepared data; `augment` switches train-time augmentation."""

    def loader(
        self,
        ds: Dataset,
        batch_size: int,
        shuffle: bool,
        seed: int,
        workers: int = 0,
        pin_memory: bool = False,
    ) -> DataLoader:
        return DataLoader(
            ds,
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator(seed),
            num_workers=workers,
            worker_init_fn=worker_init_fn,
            pin_memory=pin_memory,
        )

    def unpack(self, batch: Any, device: torch.device) -> tuple[Any, torch.Tensor]:
        """A loader batch -> (inputs for the backbone, targets) on `device`."""
        x, y = batch
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    # ---- models ---------------------------------------------------------------
    @abstractmethod
    def backbone(self, model: BaseModel) -> nn.Module:
        """The pretrained network without its head: f(x) -> z. `model` is the ModelCfg of
        the pretrain entry's family (this one, or one of `backbone_from`)."""

    @abstractmethod
    def pretrain_head(self, model: BaseModel, num_outputs: int) -> nn.Module:
        """The source task's head used while pretraining (discarded afterwards)."""

    def head_label(self, head_cfg) -> str:
        """The `head` column of the results: linear, mlp, or linear-L4xK (partial backbone)."""
        return head_cfg.kind + (f"-L4x{head_cfg.reinit_blocks}" if head_cfg.reinit_blocks else "")

    @abstractmethod
    def task_model(
        self, backbone: nn.Module, model: BaseModel, head_cfg, num_outputs: int
    ) -> tuple[nn.Module, nn.Module]:
        """Split a pretrained backbone into (frozen-during-HP backbone, new head)."""

    # ---- objective and scores -------------------------------------------------
    @abstractmethod
    def loss(self, q: torch.Tensor, y: torch.Tensor, eta: float) -> torch.Tensor:
        """Training loss with targets eta * e_y + (1 - eta) * u."""

    @abstractmethod
    def correct(self, q: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        """(number correct, number counted) for the accuracy of q against y."""

    @abstractmethod
    def energy(self, q: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        """(sum over samples of ||e_y - p||_2, number of samples) for E_aie."""

    @abstractmethod
    def scorer(self, num_outputs: int) -> Scorer:
        """A fresh accumulator for the downstream score."""

    def pool(self, z: torch.Tensor) -> torch.Tensor:
        """z as one vector per sample, for the feature-adaptation metrics."""
        return z.flatten(1) if z.dim() <= 2 else z.float().mean(dim=tuple(range(2, z.dim())))
