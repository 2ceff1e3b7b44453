"""The metrics against numbers worked out by hand."""

import math

import pytest
import torch

from pipeline.metrics import energy_sigmoid, energy_softmax, feature_adaptation, squared_distance


def test_label_smoothing_is_eta_e_y_plus_uniform():
    """The classification loss's targets are eta * e_y + (1 - eta) * u (u uniform)."""
    from pipeline.families.classification import FAMILY

    q = torch.tensor([[2.0, 0.0, -1.0, 0.5]])
    target = 0.9 * torch.tensor([[0.0, 1, 0, 0]]) + 0.1 / 4
    by_hand = -(target * q.log_softmax(1)).sum()
    assert torch.allclose(FAMILY.loss(q, torch.tensor([1]), 0.9), by_hand)


def test_energy_softmax_by_hand():
    # logits (0, 0): p = (0.5, 0.5); y = 0: ||(1,0) - (0.5,0.5)|| = sqrt(0.5)
    # logits (ln 3, 0): p = (0.75, 0.25); y = 1: ||(0,1) - (0.75,0.25)|| = sqrt(0.75^2 * 2)
    q = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    e = energy_softmax(q, torch.tensor([0, 1]))
    assert e.tolist() == pytest.approx([math.sqrt(0.5), 0.75 * math.sqrt(2)])


def test_energy_sigmoid_masks_missing_labels():
    # sigmoid(0) = 0.5; labelled entries only: sample 0 has y = (1, NaN): energy 0.5;
    # sample 1 has (0, 1) with logits (0, ln 3): sigmoid = (0.5, 0.75): sqrt(0.25 + 0.0625)
    q = torch.tensor([[0.0, 5.0], [0.0, math.log(3.0)], [1.0, 1.0]])
    y = torch.tensor([[1.0, float("nan")], [0.0, 1.0], [float("nan"), float("nan")]])
    e, has = energy_sigmoid(q, y)
    assert e[:2].tolist() == pytest.approx([0.5, math.sqrt(0.3125)])
    assert has.tolist() == [True, True, False]


def test_feature_adaptation_by_hand():
    z0 = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    zT = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    m = feature_adaptation(z0, zT)
    # ||zT - z0||^2: 1 and 1 -> 1; zT.z0: 1 and 2 -> 1.5; ||zT||^2: 2 and 1 -> 1.5
    # cos: 1/sqrt(2) and 1 -> (0.7071 + 1) / 2
    assert m["z_dist_sq"] == pytest.approx(1.0)
    assert m["z_dot"] == pytest.approx(1.5)
    assert m["z_norm_sq"] == pytest.approx(1.5)
    assert m["z_cos"] == pytest.approx((1 / math.sqrt(2) + 1) / 2)


def test_feature_adaptation_is_per_sample_not_per_batch():
    # A mean over samples, not a norm of means: two opposite shifts do not cancel.
    z0 = torch.zeros(2, 3)
    zT = torch.tensor([[1.0, 0, 0], [-1.0, 0, 0]])
    assert feature_adaptation(z0, zT)["z_dist_sq"] == pytest.approx(1.0)


def test_squared_distance_by_hand():
    # per sample: ||(3, 4)||^2 = 25 and ||(0, 1)||^2 = 1 -> mean 13; symmetric; float64 sums
    a = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    assert squared_distance(a, b) == squared_distance(b, a) == 13.0
    assert squared_distance(a, a) == 0.0
    assert squared_distance(b, a) == feature_adaptation(a, b)["z_dist_sq"]
