"""torchvision's real loaders, offline, on fixture files in each dataset's own format."""

import pytest
import torch
import torchvision.datasets as tvd
from image_fixtures import WRITERS

from pipeline.data import images
from pipeline.errors import PipelineError
from pipeline.families.classification import FAMILY, DataCfg

SHAPES = {
    "cifar10": (3, 32),
    "cifar100": (3, 32),
    "stl10": (3, 96),
    "mnist": (1, 28),
    "flowers102": (3, 256),
}


@pytest.fixture
def no_md5(monkeypatch):
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.flowers102 as flowers

    for cls in (tvd.CIFAR10, tvd.CIFAR100, tvd.STL10):
        monkeypatch.setattr(cls, "_check_integrity", lambda self: True)
    monkeypatch.setattr(cifar, "check_integrity", lambda *a, **k: True)
    monkeypatch.setattr(flowers, "check_integrity", lambda *a, **k: True)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_loader_reads_the_real_format(name, tmp_path, no_md5):
    WRITERS[name](tmp_path)
    x, y = images.torchvision_split(name, str(tmp_path), train=True)
    channels, side = SHAPES[name]
    assert x.shape[1:] == (channels, side, side) and x.dtype == torch.uint8  # as on disk
    assert len(x) == len(y) and int(y.min()) >= 0
    cfg = DataCfg(
        dataset=name,
        root=str(tmp_path),
        size=16,
        store_size=24,
        channels=3,
        val_fraction=0.25,
        normalize="imagenet",
    )
    prepared = FAMILY.prepare(cfg, seed=0)
    splits = FAMILY.splits(prepared, cfg, augment=True)
    xb, yb = splits.train[0]
    assert xb.shape == (3, 16, 16) and len(splits.test) == len(
        images.torchvision_split(name, str(tmp_path), False)[1]
    )


def test_stl10_labels_are_zero_based(tmp_path, no_md5):
    WRITERS["stl10"](tmp_path)
    _, y = images.torchvision_split("stl10", str(tmp_path), train=True)
    assert y.tolist()[:3] == [0, 1, 2]


def test_missing_files_say_where_and_that_nothing_is_downloaded(tmp_path):
    with pytest.raises(PipelineError, match="download: true"):
        images.torchvision_split("cifar10", str(tmp_path), train=True)


def test_flowers_splits_follow_the_paper(tmp_path, no_md5):
    """Table 4 of the paper: 6,149 training images (torchvision's `test` split) and 2,040
    test images (`train` + `val`). The fixture has 16 `test` and 4 + 4 `train` / `val` files."""
    from scipy.io import loadmat

    WRITERS["flowers102"](tmp_path)
    x, y = images.torchvision_split("flowers102", str(tmp_path), train=True, store_size=32)
    labels = loadmat(tmp_path / "flowers-102" / "imagelabels.mat")["labels"][0] - 1
    tst = loadmat(tmp_path / "flowers-102" / "setid.mat")["tstid"][0]
    assert x.shape == (16, 3, 32, 32) and y.tolist() == labels[tst - 1].tolist()
    xt, _ = images.torchvision_split("flowers102", str(tmp_path), train=False, store_size=32)
    assert len(xt) == 8


def test_mnist012_is_the_paper_toy_from_mnist(tmp_path, no_md5):
    WRITERS["mnist"](tmp_path)
    cfg = DataCfg(
        dataset="mnist012",
        root=str(tmp_path),
        size=28,
        n_per_class=20,
        rotation=30,
        val_fraction=0.2,
        test_fraction=0.2,
    )
    prepared = FAMILY.prepare(cfg, seed=0)
    assert prepared["train"][0].shape[1:] == (1, 28, 28)
    for split, n in (("train", 12), ("val", 4), ("test", 4)):
        assert prepared[split][1].bincount().tolist() == [n, n, n], split
