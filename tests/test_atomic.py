"""A full disk during a write (pipeline/io/atomic.py): the write fails part-way, and the target
holds its old bytes, or is not there at all; never half of a file, and no temporary left."""

from __future__ import annotations

import errno

import pytest
import torch

from pipeline.io import atomic


def full_disk(write):
    """`write`, but the disk fills up after half of the bytes."""

    def half_then_enospc(f, data):
        write(f, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    return half_then_enospc


def files(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("old", [b"the old text\n", None], ids=["over a file", "a new file"])
def test_a_text_write_that_fails_part_way(tmp_path, monkeypatch, old):
    target = tmp_path / "results" / "table1.md"
    if old is not None:
        target.parent.mkdir()
        target.write_bytes(old)
    real = atomic.Path.write_text
    monkeypatch.setattr(
        atomic.Path, "write_text", lambda p, text: full_disk(real)(p, text), raising=True
    )
    with pytest.raises(OSError, match="No space left"):
        atomic.write_text(target, "new text " * 1000)
    assert (target.read_bytes() if target.exists() else None) == old
    assert files(target.parent) == ([target.name] if old else [])


def test_a_checkpoint_write_that_fails_part_way(tmp_path, monkeypatch):
    target = tmp_path / "tau0.pt"
    atomic.save_torch(target, {"w": torch.zeros(4)})
    old = target.read_bytes()
    real = torch.save

    def save(obj, f):
        real(obj, f)
        f.truncate(f.tell() // 2)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(OSError, match="No space left"):
        atomic.save_torch(target, {"w": torch.ones(1000)})
    assert target.read_bytes() == old and files(tmp_path) == ["tau0.pt"]
