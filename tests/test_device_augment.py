"""Batched decoding and per-sample augmentation (pipeline/data/device_augment.py, batches.py),
the batched loader of in-memory images, and the 1x1-output convolution (models/resnet.py):
the same values as the paths they replace, on tiny tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.data import device_augment as aug
from pipeline.data.batches import ImageBatches
from pipeline.data.images import TensorImages
from pipeline.families.classification import FAMILY
from pipeline.models.resnet import Conv2d
from pipeline.runtime.speed import fast_paths

CPU = torch.device("cpu")


def images(n=10, c=3, side=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, side, side), generator=g, dtype=torch.uint8), torch.arange(
        n
    )


def test_the_batches_are_the_dataloaders_bit_for_bit_without_augmentation():
    x, y = images(11, side=12)
    ds = TensorImages(x, y, 8, normalize="imagenet")  # resized from 12 to 8 px
    for shuffle in (False, True):
        with fast_paths(False):
            old = list(FAMILY.loader(ds, 4, shuffle, 3))
        new = FAMILY.loader(ds, 4, shuffle, 3)
        assert isinstance(new, ImageBatches) and len(new) == len(old) == 3
        for (xo, yo), raw in zip(old, new, strict=True):
            xn, yn = FAMILY.unpack(raw, CPU)
            assert torch.equal(yo, yn) and torch.equal(xo, xn)


def test_each_sample_gets_its_own_crop_and_flip():
    x = torch.arange(2 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8).expand(2, 2, 8, 8)
    draws = aug.Draws(torch.tensor([[0, 2], [1, 1]]), torch.tensor([True, False]))
    out = aug.crop_flip(x.contiguous(), draws)
    padded = F.pad(x, (1,) * 4, mode="replicate")  # pad = 8 // 8 = 1
    assert torch.equal(out[0], padded[0, :, 0:8, 2:10].flip(-1))
    assert torch.equal(out[1], padded[1, :, 1:9, 1:9])  # offset (1, 1): the image itself
    assert torch.equal(out[1], x[1])


def test_the_draws_have_the_per_sample_distribution():
    """Offsets uniform on 0..2*pad in each direction, flips at rate 1/2: chi-square over
    20,000 draws (critical value of chi2 with 4 d.f. at 1e-4: 23.5)."""
    g = torch.Generator().manual_seed(0)
    n, size = 20_000, 16  # pad 2: five offsets
    d = aug.draw(n, size, True, g)
    for col in range(2):
        counts = torch.bincount(d.offsets[:, col], minlength=5).double()
        assert len(counts) == 5
        chi2 = float(((counts - n / 5) ** 2 / (n / 5)).sum())
        assert chi2 < 23.5, chi2
    rate = d.flips.double().mean().item()
    assert abs(rate - 0.5) < 4 * (0.25 / n) ** 0.5
    assert not aug.draw(50, size, False, g).flips.any()


def test_augmented_batches_repeat_for_one_seed_and_differ_between_seeds():
    x, y = images(9)
    ds = TensorImages(x, y, 8, augment=True, flip=True)

    def epoch(seed):
        torch.manual_seed(seed)  # fit seeds the draws once per epoch
        return torch.cat([FAMILY.unpack(b, CPU)[0] for b in FAMILY.loader(ds, 4, True, 1)])

    assert torch.equal(epoch(5), epoch(5))
    assert not torch.equal(epoch(5), epoch(6))


def test_a_1x1_output_convolution_is_the_same_sum():
    torch.manual_seed(0)
    cases = [  # (kernel, stride, padding, input side)
        (3, 1, 1, 1),
        (3, 2, 1, 1),
        (3, 2, 1, 2),  # layer3's first conv at 16 px: 2x2 in, 1x1 out
        (1, 2, 0, 2),
        (7, 2, 3, 1),
    ]
    for k, s, p, side in cases:
        conv = Conv2d(5, 4, k, s, p, bias=True)
        x = torch.randn(3, 5, side, side, requires_grad=True)
        assert conv._window(x) is not None
        fast = conv(x)
        fast.sum().backward()
        g_fast, gx_fast = conv.weight.grad.clone(), x.grad.clone()
        conv.weight.grad, x.grad = None, None
        with fast_paths(False):
            slow = conv(x)
        slow.sum().backward()
        assert torch.allclose(fast, slow, atol=1e-5)
        assert torch.allclose(g_fast, conv.weight.grad, atol=1e-5)
        assert torch.allclose(gx_fast, x.grad, atol=1e-5)
    assert Conv2d(5, 4, 3, 1, 1)._window(torch.randn(1, 5, 2, 2)) is None  # a 2x2 output
