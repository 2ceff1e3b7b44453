"""The study's metrics as pure functions of tensors (the paper's section 3; their definitions in
docs/reference.md, "What it computes").

Everything is averaged over samples, never over batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def energy_softmax(q: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample ||e_y - softmax(q)||_2; q is (N, K) logits, y is (N,) labels."""
    p = q.float().softmax(dim=1)
    return (F.one_hot(y, q.shape[1]).float() - p).norm(dim=1)


def energy_sigmoid(q: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample ||y - sigmoid(q)||_2 over the labelled entries (y is NaN where missing).

    Returns (energies, has_label): samples with no labelled entry have energy 0 and are
    flagged False, so that callers can leave them out of the mean.
    """
    labelled = ~torch.isnan(y)
    diff = torch.where(
        labelled, y.float() - torch.sigmoid(q.float()), torch.zeros_like(q, dtype=torch.float)
    )
    return diff.norm(dim=1), labelled.any(dim=1)


def squared_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Per-sample ||a - b||^2, averaged over samples."""
    return (a.double() - b.double()).pow(2).sum(1).mean().item()


def feature_adaptation(z0: torch.Tensor, zT: torch.Tensor) -> dict[str, float]:
    """Per-sample ||zT - z0||^2, zT.z0, ||zT||^2 and cos(zT, z0), each averaged over samples."""
    z0, zT = z0.double(), zT.double()
    return {
        "z_dist_sq": squared_distance(zT, z0),
        "z_dot": (zT * z0).sum(1).mean().item(),
        "z_norm_sq": zT.pow(2).sum(1).mean().item(),
        "z_cos": F.cosine_similarity(zT, z0, dim=1, eps=1e-12).mean().item(),
    }
