"""Image classification: a torchvision ResNet or the paper's MLP toy, softmax heads.

z is the pooled penultimate feature vector (for the partial backbone: the feature
map before the moved blocks, spatially averaged for the z metrics). The score is
accuracy over the split.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.data import images
from pipeline.data.batches import ImageBatches, RawBatch
from pipeline.families.base import Family, Splits
from pipeline.families.configs import ImageDataCfg as DataCfg
from pipeline.families.configs import ImageModelCfg as ModelCfg
from pipeline.metrics import energy_softmax
from pipeline.models.heads import make_head
from pipeline.models.mlp import mlp_backbone
from pipeline.runtime.speed import fast


class AccuracyScorer:
    def __init__(self):
        self.correct = self.total = 0

    def update(self, q, y):
        self.correct += (q.argmax(1) == y).sum().item()
        self.total += len(y)

    def compute(self) -> float:
        return self.correct / max(self.total, 1)


class Classification(Family):
    name, metric = "classification", "accuracy"
    ModelCfg, DataCfg = ModelCfg, DataCfg

    def _raw(self, d: DataCfg, seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        fractions = (d.val_fraction, d.test_fraction)
        if d.dataset == "imagefolder":
            from pipeline.data.imagefolder import read

            return read(d.path, d.store_size or d.size, fractions, seed)
        if d.dataset in ("digits012", "mnist012"):
            source = (
                images.digits()
                if d.dataset == "digits012"
                else images.torchvision_split("mnist", d.root, True, d.download, 28)
            )
            return images.digits012(*source, d.n_per_class, d.rotation, d.zoom, fractions, seed)
        if d.dataset in images.TORCHVISION:
            store = d.store_size or d.size
            x, y = images.torchvision_split(d.dataset, d.root, True, d.download, store)
            tr, va, _ = images.split_indices(len(y), (d.val_fraction, 0.0), seed, labels=y.numpy())
            return {
                "train": (x[tr], y[tr]),
                "val": (x[va], y[va]),
                "test": images.torchvision_split(d.dataset, d.root, False, d.download, store),
            }
        x, y = (
            images.digits()
            if d.dataset == "digits"
            else images.textures(d.n_per_class, d.classes, d.crop, seed)
        )
        return {
            name: (x[i], y[i])
            for name, i in zip(
                ("train", "val", "test"),
                images.split_indices(len(y), fractions, seed, labels=y.numpy()),
                strict=True,
            )
        }

    def prepare(self, data: DataCfg, seed: int) -> dict:
        raw = self._raw(data, seed)
        if data.limit:
            raw["train"] = tuple(t[: data.limit] for t in raw["train"])
        return {
            k: (images.to_uint8(x, data.channels, data.store_size or data.size), y)
            for k, (x, y) in raw.items()
        }

    def synthetic(self, data: DataCfg, sizes: dict[str, int], num_outputs: int, seed: int) -> dict:
        g, side = torch.Generator().manual_seed(seed), data.store_size or data.size
        return {
            k: (
                torch.randint(
                    0, 256, (n, data.channels, side, side), generator=g, dtype=torch.uint8
                ),
                torch.arange(n) % num_outputs,
            )
            for k, n in sizes.items()
        }

    def splits(self, prepared: dict, data: DataCfg, augment: bool) -> Splits:
        ds = {
            k: images.TensorImages(x, y, data.size, flip=data.flip, normalize=data.normalize)
            for k, (x, y) in prepared.items()
        }
        num = int(max(int(y.max()) for _, y in prepared.values() if len(y)) + 1)
        return Splits(
            ds["train"].with_augment(augment), ds["train"], ds["val"], ds.get("test"), num
        )

    def loader(self, ds, batch_size, shuffle, seed, workers=0, pin_memory=False):
        """In-memory images as ImageBatches (data/batches.py: gathered by index, decoded and
        augmented per batch on the job's device by `unpack`); TASKHEAD_FAST=0: torch's
        DataLoader over the per-image dataset, with its `workers`."""
        if fast() and isinstance(ds, images.TensorImages):
            return ImageBatches(ds, batch_size, shuffle, seed, pin_memory)
        return super().loader(ds, batch_size, shuffle, seed, workers, pin_memory)

    def unpack(self, batch, device):
        return (
            batch.decode(device) if isinstance(batch, RawBatch) else super().unpack(batch, device)
        )

    def backbone(self, m: ModelCfg):
        if m.arch == "mlp":
            return mlp_backbone(m.input_dim, m.width, m.depth)
        if m.arch == "timm":
            from pipeline.models import timm_backbone

            return timm_backbone.backbone(m.name, m.in_channels)
        from pipeline.models.resnet import ResNetBackbone  # torchvision: imported only where used

        return ResNetBackbone(m.depth, m.in_channels, m.cifar_stem)

    def _z_dim(self, m: ModelCfg) -> int:
        if m.arch == "mlp":
            return m.width
        if m.arch == "timm":
            from pipeline.models.timm_backbone import z_dim

            return z_dim(m.name)
        from pipeline.models.resnet import LAYOUTS

        return 512 * LAYOUTS[m.depth][0].expansion

    def pretrain_head(self, m, num_outputs):
        return make_head("linear", self._z_dim(m), num_outputs)

    def task_model(self, backbone, m, head_cfg, num_outputs):
        top = make_head(head_cfg.kind, self._z_dim(m), num_outputs, head_cfg.hidden)
        if head_cfg.reinit_blocks == 0:
            return backbone, top
        from pipeline.models.resnet import split_partial

        return split_partial(backbone, head_cfg.reinit_blocks, top)

    def loss(self, q, y, eta):
        return F.cross_entropy(q, y, label_smoothing=1.0 - eta)

    def correct(self, q, y):
        return (q.argmax(1) == y).sum().item(), len(y)

    def energy(self, q, y):
        e = energy_softmax(q, y)
        return e.sum().item(), len(e)

    def scorer(self, num_outputs):
        return AccuracyScorer()


FAMILY = Classification()
