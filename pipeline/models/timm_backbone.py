"""A timm model as a backbone: f(x) = its pooled pre-logits features.

Built with timm.create_model(NAME, pretrained=False, num_classes=0): nothing downloads;
pretrained weights come from a file (an import's `checkpoint`, or a pretrain entry's
`model.weights`), loaded strictly by pipeline.io.checkpoints. The backbone keeps timm's
own class and state-dict keys, so a checkpoint saved by timm loads key by key (its
classifier, `pretrained_cfg["classifier"]`, is dropped).
"""

from __future__ import annotations

from functools import cache

import torch
from torch import nn

from pipeline.errors import PipelineError


@cache
def _pooled_class(cls: type[nn.Module]) -> type[nn.Module]:
    """`cls` whose forward returns forward_head(forward_features(x), pre_logits=True)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x), pre_logits=True)

    return type(f"Pooled{cls.__name__}", (cls,), {"forward": forward, "__module__": __name__})


def backbone(name: str, in_channels: int = 3) -> nn.Module:
    import timm

    if not timm.is_model(name):
        raise PipelineError(
            f"model.name: expected a timm model name (timm.list_models()), found {name!r}"
        )
    model = timm.create_model(name, pretrained=False, num_classes=0, in_chans=in_channels)
    model.__class__ = _pooled_class(type(model))
    classifier = model.pretrained_cfg.get("classifier") or "fc"
    model.head_keys = tuple(
        f"{c}." for c in ((classifier,) if isinstance(classifier, str) else classifier)
    )
    return model


@cache
def on_meta(name: str) -> nn.Module:
    """The model built on the meta device: its structure without memory or initialisation."""
    with torch.device("meta"):
        return backbone(name)


def data_config(name: str) -> dict:
    """The input size, mean and std that timm model `name` was pretrained with: timm's
    resolve_model_data_config on the model's pretrained_cfg, which timm ships (nothing
    downloads)."""
    from timm.data import resolve_model_data_config

    cfg = resolve_model_data_config(on_meta(name))
    return {"size": cfg["input_size"][-1], "mean": tuple(cfg["mean"]), "std": tuple(cfg["std"])}


def z_dim(name: str) -> int:
    model = on_meta(name)
    return getattr(model, "head_hidden_size", None) or model.num_features


def unsupported(name: str, reinit_blocks: int, bn: str) -> str | None:
    """Why a setting cannot run timm model `name` with this head and `bn`, or None."""
    if reinit_blocks:
        return (
            f"head.reinit_blocks: expected 0 for the timm model {name!r} (the partial backbone knows only "
            f"the layer4 blocks of arch resnet), found {reinit_blocks}"
        )
    try:
        model = on_meta(name)
    except PipelineError as err:
        return str(err)
    if bn == "target" and not any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()
    ):
        return f"bn: expected source for the timm model {name!r}, which has no BatchNorm layers, found target"
    return None
