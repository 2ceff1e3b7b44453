"""Semantic segmentation: smp's DeepLabV3 at output stride 8 (as in the paper, appendix B.3).

The backbone is smp's ResNet encoder (torchvision's ResNet without fc, layer3 and
layer4 dilated), so a backbone pretrained by the classification family loads into it
key by key. z is the encoder's deepest feature map (N, C, H/8, W/8), the only input of
DeepLabV3's decoder. The task head is the whole DeepLabV3 head: ASPP, a 3x3 conv,
a 1x1 classifier and bilinear upsampling by 8 back to the input size.

Per-pixel quantities ignore the void label 255: the loss, pixel accuracy (the
HP-train-acc) and the energy ||e_y - softmax(q)||_2 are averaged over labelled pixels.
The score is mIoU over classes from one confusion matrix of the whole split
(torchmetrics; classes absent from both prediction and target are left out).
The z metrics use z spatially averaged per image (Family.pool): one vector per image.
"""

from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from pipeline.data import segmentation as seg
from pipeline.data.images import split_indices
from pipeline.families.base import Family, Splits
from pipeline.families.configs import CONFIGS, OUTPUT_STRIDE
from pipeline.families.configs import ImageModelCfg as ModelCfg
from pipeline.families.configs import SegmentationDataCfg as DataCfg
from pipeline.metrics import energy_softmax
from pipeline.runtime.seeding import derive, generator, worker_init_fn

ATROUS_RATES = (12, 24, 36)  # DeepLabV3's rates at output stride 8 (smp's default)


@cache
def _encoder_class() -> type[nn.Module]:
    from segmentation_models_pytorch.encoders.resnet import ResNetEncoder

    class DilatedResNetEncoder(ResNetEncoder):
        """smp's ResNet encoder (torchvision's ResNet minus fc and avgpool); f(x) = its deepest map."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x)[-1]

    return DilatedResNetEncoder


def encoder(depth: int, in_channels: int) -> nn.Module:
    """smp's ResNet encoder for one of pipeline.models.resnet's layouts, dilated to output stride 8
    (the strides and dilations change, the parameters and their keys do not)."""
    import torchvision.models.resnet as tv  # smp imports it anyway

    from pipeline.models.resnet import LAYOUTS

    block, layers = LAYOUTS[depth]
    # torchvision's own BasicBlock / Bottleneck, as smp's encoders use.
    block = getattr(tv, block.__name__)
    widths = [3, 64] + [c * block.expansion for c in (64, 128, 256, 512)]
    enc = _encoder_class()(out_channels=widths, block=block, layers=layers)
    enc.set_in_channels(in_channels, pretrained=False)
    enc.make_dilated(OUTPUT_STRIDE)
    return enc


def z_channels(m: ModelCfg) -> int:
    from pipeline.models.resnet import LAYOUTS

    return 512 * LAYOUTS[m.depth][0].expansion


class DeepLabHead(nn.Module):
    """DeepLabV3's head g(z) -> q: smp's decoder (ASPP + 3x3 conv) and segmentation head
    (1x1 conv, bilinear upsampling by the output stride back to the input size)."""

    def __init__(self, in_channels: int, num_classes: int, channels: int = 256):
        from segmentation_models_pytorch.base import SegmentationHead
        from segmentation_models_pytorch.decoders.deeplabv3.decoder import DeepLabV3Decoder

        super().__init__()
        self.decoder = DeepLabV3Decoder(
            in_channels, channels, ATROUS_RATES, aspp_separable=False, aspp_dropout=0.5
        )
        self.segmentation_head = SegmentationHead(
            channels, num_classes, kernel_size=1, upsampling=OUTPUT_STRIDE
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.segmentation_head(self.decoder([z]))


class MeanIoU:
    """mIoU over classes with the void label ignored, from torchmetrics' confusion matrix."""

    def __init__(self, num_classes: int):
        from torchmetrics.classification import MulticlassJaccardIndex

        self.metric = MulticlassJaccardIndex(num_classes, average="macro", ignore_index=seg.VOID)

    def update(self, q: torch.Tensor, y: torch.Tensor) -> None:
        self.metric.update(q.argmax(1).cpu(), y.cpu())

    def compute(self) -> float:
        return float(self.metric.compute())


def labelled(q: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, K) logits and (M,) labels of the pixels whose label is not void."""
    keep = y != seg.VOID
    return q.movedim(1, -1)[keep], y[keep]


class Segmentation(Family):
    name, metric = "segmentation", "miou"
    ModelCfg, DataCfg = ModelCfg, DataCfg
    backbone_from = CONFIGS["segmentation"].backbone_from

    def prepare(self, data: DataCfg, seed: int) -> dict:
        if data.dataset == "voc2012":
            x, y = seg.voc(data.root, "train", data.size, data.limit, data.download)
            train, val, _ = split_indices(len(y), (data.val_fraction, 0.0), seed)
            return {
                "train": (x[train], y[train]),
                "val": (x[val], y[val]),
                "test": seg.voc(data.root, "val", data.size, data.limit, data.download),
            }
        if data.dataset == "maskfolder":
            return seg.mask_folder(
                data.path,
                data.size,
                data.num_classes,
                (data.val_fraction, data.test_fraction),
                seed,
            )
        counts = {"train": data.n_train, "val": data.n_val, "test": data.n_test}
        return {
            split: seg.shapes(
                n, data.size, data.num_classes, data.max_objects, derive(seed, "shapes", split)
            )
            for split, n in counts.items()
        }

    def synthetic(self, data: DataCfg, sizes: dict[str, int], num_outputs: int, seed: int) -> dict:
        g, s = torch.Generator().manual_seed(seed), data.size
        return {
            k: (
                torch.randint(0, 256, (n, 3, s, s), generator=g, dtype=torch.uint8),
                torch.randint(0, num_outputs, (n, s, s), generator=g).to(torch.uint8),
            )
            for k, n in sizes.items()
        }

    def splits(self, prepared: dict, data: DataCfg, augment: bool) -> Splits:
        ds = {
            k: seg.MaskedImages(x, y, flip=data.flip, normalize=data.normalize)
            for k, (x, y) in prepared.items()
        }
        return Splits(
            ds["train"].with_augment(augment), ds["train"], ds["val"], ds["test"], data.num_classes
        )

    def loader(self, ds, batch_size, shuffle, seed, workers=0, pin_memory=False) -> DataLoader:
        """As Family.loader, except that a training loader drops a last batch of one image:
        BatchNorm in ASPP's image-pooling branch cannot normalise a single 1x1 map."""
        return DataLoader(
            ds,
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator(seed),
            num_workers=workers,
            worker_init_fn=worker_init_fn,
            pin_memory=pin_memory,
            drop_last=shuffle and len(ds) % batch_size == 1,
        )

    def backbone(self, m: ModelCfg) -> nn.Module:
        return encoder(m.depth, m.in_channels)

    def pretrain_head(self, m: ModelCfg, num_outputs: int) -> nn.Module:
        return DeepLabHead(z_channels(m), num_outputs)

    def head_label(self, head_cfg) -> str:
        return f"aspp{head_cfg.hidden}"

    def task_model(self, backbone, m, head_cfg, num_outputs):
        """The whole DeepLabV3 head is the task head; head.hidden sets its width (paper: 256).
        Params validation (configs.check_segmentation) admits only this head and ResNets."""
        return backbone, DeepLabHead(z_channels(m), num_outputs, head_cfg.hidden)

    def loss(self, q, y, eta):
        if not (y != seg.VOID).any():
            return q.sum() * 0.0
        return F.cross_entropy(q, y, ignore_index=seg.VOID, label_smoothing=1.0 - eta)

    def correct(self, q, y):
        q, y = labelled(q, y)
        return (q.argmax(1) == y).sum().item(), len(y)

    def energy(self, q, y):
        e = energy_softmax(*labelled(q, y))
        return e.sum().item(), len(e)

    def scorer(self, num_outputs):
        return MeanIoU(num_outputs)


FAMILY = Segmentation()
