"""Asking a backend whether it takes a payload, and reading a source's bytes with proof."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from platekit.storage import DiskBackend, FileManager, MemoryBackend

HAS_ZARR = importlib.util.find_spec("zarr") is not None and sys.version_info >= (3, 11)


def test_disk_accepts_by_the_format_its_suffix_picks(tmp_path: Path) -> None:
    disk = DiskBackend()
    image = np.zeros((4, 4), dtype=np.uint16)
    assert disk.accepts(image, tmp_path / "a.tif")
    assert not disk.accepts({"a": 1}, tmp_path / "a.tif")
    assert disk.accepts([], tmp_path / "empty.csv")  # empty output is output too
    assert disk.accepts("text", tmp_path / "a.tif", format="text")
    assert not list(tmp_path.glob("a.*")) and not (tmp_path / "empty.csv").exists()


@pytest.mark.skipif(not HAS_ZARR, reason="needs zarr-python 3 (Python 3.11+)")
def test_zarr_accepts_arrays_only(tmp_path: Path) -> None:
    from platekit.storage.backends.zarr import ZarrBackend

    zb = ZarrBackend()
    assert zb.accepts(np.zeros((2, 2)), tmp_path / "a.zarr" / "x")
    assert not zb.accepts({"a": 1}, tmp_path / "a.zarr" / "x")
    assert not zb.accepts(np.array([object()]), tmp_path / "a.zarr" / "x")
    with pytest.raises(ValueError, match="not inside a Zarr store"):
        zb.accepts(np.zeros(2), tmp_path / "x")


def test_disk_read_bytes_is_the_file_as_stored_whatever_its_format(tmp_path: Path) -> None:
    data = b'{"value": 1}\r\n'  # not what the JSON format would write
    (tmp_path / "receipt.json").write_bytes(data)
    fm = FileManager({"disk": DiskBackend()})
    digest = hashlib.sha256(data).hexdigest()
    assert fm.read_bytes(tmp_path / "receipt.json", "disk", sha256=digest) == data
    with pytest.raises(IsADirectoryError):
        fm.read_bytes(tmp_path, "disk")


def test_memory_read_bytes_gives_saved_bytes_and_refuses_objects() -> None:
    memory = MemoryBackend()
    memory.save(bytearray(b"abc"), "/a.bin")
    memory.save({"a": 1}, "/a.json")
    assert memory.read_bytes("/a.bin", max_bytes=3) == b"abc"
    with pytest.raises(TypeError, match="holds a dict, not bytes"):
        memory.read_bytes("/a.json")
    with pytest.raises(ValueError, match="positive integer"):
        memory.read_bytes("/absent", max_bytes=0)  # the request is checked first
