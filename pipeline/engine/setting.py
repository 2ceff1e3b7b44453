"""One setting of the study, resolved: its family, configs, data and pretrained parts."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from pydantic import BaseModel

from pipeline.engine.batchnorm import reestimate_bn
from pipeline.families import get_family
from pipeline.families.base import Family, Splits
from pipeline.io import paths
from pipeline.io.artifacts import load_weights, read_prepared, read_torch
from pipeline.io.checkpoints import load_strict, read_state
from pipeline.params import ImportCfg, PretrainCfg, SettingCfg, Study
from pipeline.runtime.device import Runtime
from pipeline.runtime.seeding import derive, seed_everything


@dataclass
class Setting:
    """One setting at one replicate seed (`seed`, one of the study's `seeds`)."""

    study: Study
    name: str
    seed: int

    @property
    def cfg(self) -> SettingCfg:
        return self.study.settings[self.name]

    @property
    def pre(self) -> PretrainCfg | ImportCfg:
        return self.study.backbones[self.cfg.pretrain]

    @property
    def family(self) -> Family:
        """The family of the downstream dataset: it runs HP, FT and evaluation."""
        return get_family(self.study.datasets[self.cfg.data]["family"])

    @property
    def model_cfg(self) -> BaseModel:
        """The backbone's description, in the terms of the pretrain entry's family."""
        return get_family(self.pre.family).ModelCfg(**self.pre.model)

    @property
    def data_cfg(self) -> BaseModel:
        return self.family.DataCfg(**self.study.data_cfg(self.cfg.data))

    def splits(self, augment: bool) -> Splits:
        prepared = read_prepared(paths.dataset(self.cfg.data), self.family.name)
        return self.family.splits(prepared, self.data_cfg, augment)

    def seed_for(self, purpose: str) -> int:
        """A seed shared by settings that differ only in eta or optimiser values (a setting
        and its label-smoothed companion start from the same head and see the same draws)."""
        return derive(
            self.seed, purpose, self.cfg.pretrain, self.cfg.data, self.cfg.head.model_dump()
        )

    @property
    def backbone_path(self):
        return paths.backbone(self.cfg.pretrain, self.study.backbone_seed(self.seed))

    @cached_property
    def backbone_state(self) -> dict:
        return read_state(self.backbone_path)

    def parts(self, splits: Splits, rt: Runtime, bn: str | None = None):
        """(backbone, head) on the job's device: the pretrained backbone loaded strictly, and
        a fresh head whose initialisation (and that of re-initialised blocks) depends only
        on the seed. With `bn` (default: the setting's) "target", the backbone's BatchNorm
        statistics are re-estimated on the unaugmented downstream training split."""
        backbone = self.family.backbone(self.model_cfg)
        load_strict(backbone, self.backbone_state, self.backbone_path)
        seed_everything(self.seed_for("head"))
        backbone, head = self.family.task_model(
            backbone, self.model_cfg, self.cfg.head, splits.num_outputs
        )
        backbone, head = rt.prepare(backbone), rt.prepare(head)
        if (bn or self.cfg.bn) == "target":
            loader = self.family.loader(
                splits.train_plain,
                self.cfg.hp.batch_size,
                False,
                self.seed_for("bn"),
                rt.workers,
                rt.pin_memory,
            )
            with rt.autocast():  # the precision HP, FT and evaluation compute features in
                reestimate_bn(backbone, loader, self.family, rt.device)
        return backbone, head

    def row_labels(self) -> dict:
        """The descriptive columns of results/summary.csv for this setting."""
        return {
            "setting": self.name,
            "family": self.family.name,
            "pretrain": self.cfg.pretrain,
            "downstream": self.data_cfg.dataset,
            "head": self.family.head_label(self.cfg.head),
            "eta_hp": self.cfg.hp.eta,
            "eta_ft": self.cfg.ft.eta,
            "bn": self.cfg.bn,
            "metric": self.family.metric,
            "seed": self.seed,
        }


def settings_at_seeds(study: Study, name: str) -> list[Setting]:
    return [Setting(study, name, seed) for seed in study.seeds]


def load_head(head: torch.nn.Module, path) -> None:
    """An HP head, as the `probe` stage saved it, into this setting's `head`."""
    saved = read_torch(path, "an HP head", "probe", keys=("state_dict",))
    load_weights(head, saved["state_dict"], path, "an HP head of this setting's shape", "probe")


FT_KEYS = ("state_dict", "best_epoch", "epochs_run", "epochs", "history")


def load_ft_model(model: torch.nn.Module, path) -> dict:
    """A finetuned model, as the `finetune` stage saved it, into `model`; returns the record."""
    saved = read_torch(path, "an FT model", "finetune", keys=FT_KEYS)
    load_weights(
        model, saved["state_dict"], path, "an FT model of this setting's shape", "finetune"
    )
    return saved
