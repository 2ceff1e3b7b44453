"""torchvision's real loaders, offline, on fixture files in each dataset's own format."""
import pytest
import torchvision.datasets as tvd

from image_fixtures import WRITERS
from pipeline.data import images
from pipeline.errors import PipelineError
from pipeline.families.classification import FAMILY, DataCfg

SHAPES = {"cifar10": (3, 32), "cifar100": (3, 32), "stl10": (3, 96), "mnist": (1, 28), "flowers102": (3, 256)}


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
    assert x.shape[1:] == (channels, side, side) and x.min() >= 0 and x.max() <= 1
    assert len(x) == len(y) and int(y.min()) >= 0
    cfg = DataCfg(dataset=name, root=str(tmp_path), size=16, store_size=24, channels=3, val_fraction=0.25,
                  normalize="imagenet")
    prepared = FAMILY.prepare(cfg, seed=0)
    splits = FAMILY.splits(prepared, cfg, augment=True)
    xb, yb = splits.train[0]
    assert xb.shape == (3, 16, 16) and len(splits.test) == len(images.torchvision_split(name, str(tmp_path), False)[1])


def test_stl10_labels_are_zero_based(tmp_path, no_md5):
    WRITERS["stl10"](tmp_path)
    _, y = images.torchvision_split("stl10", str(tmp_path), train=True)
    assert y.tolist()[:3] == [0, 1, 2]


def test_missing_files_say_where_and_that_nothing_is_downloaded(tmp_path):
    with pytest.raises(PipelineError, match="download: true"):
        images.torchvision_split("cifar10", str(tmp_path), train=True)


def test_flowers_train_pool_is_train_plus_val(tmp_path, no_md5):
    WRITERS["flowers102"](tmp_path)
    x, y = images.torchvision_split("flowers102", str(tmp_path), train=True, store_size=32)
    assert x.shape == (16, 3, 32, 32) and set(y.tolist()) <= set(range(4))
