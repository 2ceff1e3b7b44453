"""The `model` and `data` blocks of every family, and the names they may use: no torch here.

params.validate checks a whole study with these classes alone (get_config), so that
reading the study (`python -m pipeline validate|targets`, the Snakefile) never imports
torch. Each family module re-exports its two classes as ModelCfg and DataCfg, the names
of the Family contract (base.py); its `backbone_from` is the one given here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from pipeline.data.catalog import OGB_NAMES, SHAPES, SHIPPED, TEXTURE_SOURCES, VOC_CLASSES


@dataclass(frozen=True)
class Use:
    """One use of a backbone on a dataset, as validation sees it: a pretrain entry (no head)
    or a setting. The dataset's family checks that it can run it (FamilyConfig.check)."""

    where: str  # the study's key: "pretrain.NAME" or "settings.NAME"
    model: BaseModel  # the backbone's validated ModelCfg (of its own family)
    data: BaseModel  # the dataset's validated DataCfg
    data_name: str  # its name under `datasets`
    head: Any = None  # a setting's HeadCfg
    bn: str = "source"
    augment: tuple[tuple[str, bool], ...] = ()  # ("hp.augment", True), ...


# ---- classification -------------------------------------------------------------------

LAYER4_BLOCKS = {
    10: 1,
    18: 2,
    34: 3,
    50: 3,
}  # ResNet depth -> blocks in layer4 (reinit_blocks' range)


class Normalize(BaseModel):
    """A backbone's own input statistics, one per channel: x -> (x - mean) / std, x in [0, 1]
    (`python -m pipeline init` writes a timm model's, from its pretrained config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mean: tuple[float, ...]
    std: tuple[Annotated[float, Field(gt=0)], ...]


# `none`, `imagenet`, or a mapping of mean and std: an error names the branch the value took.
NormalizeCfg = Annotated[
    Annotated[Literal["none", "imagenet"], Tag("name")] | Annotated[Normalize, Tag("stats")],
    Discriminator(lambda v: "name" if isinstance(v, str) else "stats"),
]


def normalize_channels(normalize, channels: int) -> None:
    """A `normalize` mean and std have one value per image channel."""
    if isinstance(normalize, Normalize) and {len(normalize.mean), len(normalize.std)} != {channels}:
        raise ValueError(
            f"normalize: expected a mean and a std of {channels} values (one per channel), found "
            f"{len(normalize.mean)} and {len(normalize.std)}"
        )


class ImageModelCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    arch: Literal["mlp", "resnet", "timm"]
    name: str | None = Field(None, description="timm: the model name (timm.create_model)")
    weights: str | None = Field(
        None,
        description="timm, pretrain entries: a .safetensors or .pth file the "
        "backbone starts from (imports give theirs as `checkpoint`)",
    )
    depth: int = Field(4, description="MLP layers, or ResNet depth (10, 18, 34, 50)")
    width: int = Field(128, gt=0, description="MLP width")
    input_dim: int = Field(64, gt=0, description="MLP input size (C*H*W)")
    in_channels: Literal[1, 3] = 3
    cifar_stem: bool = False

    @model_validator(mode="after")
    def _depth(self):
        if self.arch == "resnet" and self.depth not in (10, 18, 34, 50):
            raise ValueError(f"depth: expected 10, 18, 34 or 50 for a ResNet, found {self.depth}")
        if self.arch == "mlp" and self.depth < 1:
            raise ValueError(f"depth: expected at least 1 MLP layer, found {self.depth}")
        if (self.arch == "timm") != (self.name is not None):
            raise ValueError(
                f"name: expected a timm model name exactly when arch is timm, found arch {self.arch!r} "
                f"and name {self.name!r}"
            )
        if self.weights and self.arch != "timm":
            raise ValueError(f"weights: expected only with arch timm, found arch {self.arch!r}")
        return self


class ImageDataCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: Literal[
        "digits",
        "digits012",
        "mnist012",
        "textures",
        "cifar10",
        "cifar100",
        "stl10",
        "mnist",
        "flowers102",
        "imagefolder",
    ]
    path: str | None = Field(
        None, description="imagefolder: ROOT with train/CLASS/*.png (optional val/, test/)"
    )
    size: int = Field(8, gt=0, description="the model's input size")
    store_size: int | None = Field(
        None, gt=0, description="stored size (default: size); resized on access"
    )
    normalize: NormalizeCfg = "none"
    download: bool = Field(
        False, description="real datasets only: let the prepare stage download them"
    )
    channels: Literal[1, 3] = 1
    val_fraction: float = Field(0.2, gt=0, lt=0.5)
    test_fraction: float = Field(0.2, ge=0, lt=0.5)
    n_per_class: int = Field(
        1000, gt=0, description="digits012, mnist012 and textures: samples per class"
    )
    classes: int = Field(10, description="textures: how many photographs (classes)")
    crop: int = Field(48, gt=4, description="textures: patch size in source pixels")
    rotation: float = Field(30.0, ge=0, description="digits012, mnist012: max rotation in degrees")
    zoom: tuple[float, float] = (0.8, 1.2)
    root: str = "data"
    limit: int | None = Field(None, gt=0, description="use at most this many training images")
    flip: bool = False

    @model_validator(mode="after")
    def _classes_and_path(self):
        if self.dataset == "textures" and not 2 <= self.classes <= len(TEXTURE_SOURCES):
            raise ValueError(
                f"classes: expected 2..{len(TEXTURE_SOURCES)} texture photographs, found {self.classes}"
            )
        normalize_channels(self.normalize, self.channels)
        return needs_path(self, "imagefolder", "the image folder")


def check_classification(u: Use) -> list[str]:
    """The MLP takes C*H*W inputs, has no BatchNorm and no blocks to move into the head; a
    ResNet or timm model takes its in_channels; a ResNet has LAYER4_BLOCKS blocks to move."""
    m, d, out = u.model, u.data, []
    if m.arch == "mlp":
        if m.input_dim != d.channels * d.size**2:
            out.append(
                f"{u.where}: expected inputs of {m.input_dim} values (the MLP's model.input_dim), found "
                f"datasets.{u.data_name} of {d.channels}x{d.size}x{d.size} = {d.channels * d.size**2}"
            )
        if u.head is not None and u.head.reinit_blocks:
            out.append(
                f"{u.where}.head.reinit_blocks: expected 0 for an MLP backbone (moving blocks into the head "
                f"is a ResNet option), found {u.head.reinit_blocks}"
            )
        if u.bn == "target":
            out.append(
                f"{u.where}.bn: expected 'source' for an MLP backbone (it has no BatchNorm statistics to "
                "re-estimate), found 'target'"
            )
        return out
    if m.in_channels != d.channels:
        out.append(
            f"{u.where}: expected {m.in_channels}-channel images (its {m.arch} backbone's model.in_channels), "
            f"found datasets.{u.data_name}.channels = {d.channels}"
        )
    if m.arch == "timm":
        return out + check_timm(u)
    if u.head is not None and u.head.reinit_blocks > LAYER4_BLOCKS[m.depth]:
        out.append(
            f"{u.where}.head.reinit_blocks: expected 0..{LAYER4_BLOCKS[m.depth]} (the blocks in a "
            f"ResNet{m.depth}'s layer4), found {u.head.reinit_blocks}"
        )
    return out


def needs_path(cfg: BaseModel, kind: str, what: str) -> BaseModel:
    """`path` is required for the data kinds that read a user's files."""
    if cfg.dataset == kind and not cfg.path:
        raise ValueError(f"path: expected {what} for dataset {kind!r}, found none")
    return cfg


# ---- molecules ------------------------------------------------------------------------


class MoleculeModelCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layers: int = Field(5, ge=1, description="GCN layers (the paper: 5)")
    hidden: int = Field(300, gt=0, description="embedding width, also the size of z (OGB: 300)")
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout after every layer (OGB: 0.5)")


class MoleculeDataCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: Literal["fragments", "solubility", "csv", *OGB_NAMES]
    sources: list[Literal[tuple(SHIPPED)]] = Field(
        ["nci5k"], min_length=1, description="fragments: shipped SMILES files"
    )
    min_prevalence: float = Field(
        0.01,
        ge=0,
        lt=0.5,
        description="fragments: keep tasks with both classes at least this frequent",
    )
    path: str | None = Field(None, description="csv: the file")
    smiles_column: str = "smiles"
    label_columns: list[str] | None = Field(
        None, description="csv: 0/1 columns (default: all but SMILES)"
    )
    split: Literal["scaffold", "random"] = Field("scaffold", description="csv: how to split")
    val_fraction: float = Field(0.1, gt=0, lt=0.5)
    test_fraction: float = Field(0.1, ge=0, lt=0.5, description="fragments and csv")
    root: str = Field("data", description="OGB datasets: the folder holding ogbg_mol*/")
    download: bool = Field(
        False, description="OGB datasets: let the prepare stage download missing files"
    )
    limit: int | None = Field(None, gt=0, description="use at most this many training molecules")

    @model_validator(mode="after")
    def _csv_path(self):
        return needs_path(self, "csv", "the CSV file")


def check_timm(u: Use) -> list[str]:
    """A linear or MLP head fits every timm model; the partial backbone and `bn: target` are
    checked on the model itself (built on the meta device: torch and timm are imported only
    for such a check)."""
    if u.head is None or (not u.head.reinit_blocks and u.bn == "source"):
        return []
    from pipeline.models.timm_backbone import unsupported

    why = unsupported(u.model.name, u.head.reinit_blocks, u.bn)
    return [f"{u.where}: {why}"] if why else []


def check_molecules(u: Use) -> list[str]:
    """Graphs have no augmentation here, and the GCN no blocks to move into the head."""
    out = [
        f"{u.where}.{key}: expected false for molecules (graphs have no augmentation here), found true"
        for key, on in u.augment
        if on
    ]
    if u.head is not None and u.head.reinit_blocks:
        out.append(
            f"{u.where}.head.reinit_blocks: expected 0 for the GCN (moving blocks into the head is a ResNet "
            f"option), found {u.head.reinit_blocks}"
        )
    return out


# ---- segmentation (its backbones are classification's ResNets: ImageModelCfg) ----------

OUTPUT_STRIDE = 8


class SegmentationDataCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: Literal["shapes", "voc2012", "maskfolder"]
    path: str | None = Field(
        None,
        description="maskfolder: ROOT with images/, masks/ (index PNGs, 255 = void) "
        "and optional train.txt, val.txt, test.txt of stems",
    )
    size: int = Field(64, gt=0, multiple_of=OUTPUT_STRIDE, description="images are size x size")
    classes: int | None = Field(
        None,
        description="shapes: background + object classes (2..5, default 5); "
        "voc2012: 21; maskfolder: required",
    )
    n_train: int = Field(64, gt=1, description="shapes: generated training scenes")
    n_val: int = Field(32, gt=0, description="shapes: generated validation scenes")
    n_test: int = Field(32, gt=0, description="shapes: generated test scenes")
    max_objects: int = Field(3, gt=0, description="shapes: at most this many objects per scene")
    root: str = Field("data", description="voc2012: the folder holding VOCdevkit/")
    download: bool = Field(False, description="voc2012: let the prepare stage download it")
    val_fraction: float = Field(
        0.2,
        gt=0,
        lt=0.5,
        description="voc2012, maskfolder: share of the training "
        "images drawn for validation (maskfolder: when val.txt is missing)",
    )
    test_fraction: float = Field(
        0.2, gt=0, lt=0.5, description="maskfolder: share drawn for test when test.txt is missing"
    )
    limit: int | None = Field(
        None, gt=0, description="voc2012: read at most this many images of each list"
    )
    flip: bool = Field(True, description="augmentation: random horizontal flips")
    normalize: NormalizeCfg = Field(
        "none",
        description="imagenet: standardise with the "
        "ImageNet mean and std (for ImageNet-pretrained encoders); or {mean: [...], std: [...]}",
    )

    @model_validator(mode="after")
    def _classes(self):
        if self.dataset == "voc2012" and self.classes not in (None, VOC_CLASSES):
            raise ValueError(f"classes: expected {VOC_CLASSES} for voc2012, found {self.classes}")
        if (
            self.dataset == "shapes"
            and self.classes is not None
            and not 2 <= self.classes <= len(SHAPES) + 1
        ):
            raise ValueError(
                f"classes: expected 2..{len(SHAPES) + 1} for shapes (background and "
                f"{', '.join(SHAPES)}), found {self.classes}"
            )
        if self.dataset == "maskfolder" and (self.classes or 0) < 2:
            raise ValueError(
                f"classes: expected at least 2 (background included) for maskfolder, found {self.classes}"
            )
        normalize_channels(self.normalize, 3)
        return needs_path(self, "maskfolder", "the mask folder")

    @property
    def num_classes(self) -> int:
        return VOC_CLASSES if self.dataset == "voc2012" else (self.classes or len(SHAPES) + 1)


def check_segmentation(u: Use) -> list[str]:
    """DeepLabV3 takes a 3-channel ResNet with torchvision's stem; its head is DeepLabV3's."""
    m, out = u.model, []
    if getattr(m, "arch", None) != "resnet" or m.cifar_stem or m.in_channels != 3:
        out.append(
            f"{u.where}: expected a 3-channel ResNet with torchvision's stem for DeepLabV3 (its backbone's "
            f"model), found {m.model_dump(include={'arch', 'in_channels', 'cifar_stem'})}"
        )
    if u.head is not None and (u.head.kind != "linear" or u.head.reinit_blocks):
        out.append(
            f"{u.where}.head: expected kind 'linear' and reinit_blocks 0 for segmentation (the head is "
            f"DeepLabV3's; `hidden` sets its width), found kind {u.head.kind!r}, "
            f"reinit_blocks {u.head.reinit_blocks}"
        )
    return out


# ---- the registry ---------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyConfig:
    """What params validation needs of a family: its two block classes, the other families
    whose pretrained backbones it takes, and `check`, the problems ("KEY: expected ...,
    found ...") of one Use of a backbone on one of its datasets."""

    ModelCfg: type[BaseModel]
    DataCfg: type[BaseModel]
    check: Callable[[Use], list[str]]
    backbone_from: tuple[str, ...] = ()


CONFIGS = {
    "classification": FamilyConfig(ImageModelCfg, ImageDataCfg, check_classification),
    "molecules": FamilyConfig(MoleculeModelCfg, MoleculeDataCfg, check_molecules),
    "segmentation": FamilyConfig(
        ImageModelCfg, SegmentationDataCfg, check_segmentation, backbone_from=("classification",)
    ),
}
