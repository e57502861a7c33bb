"""Symbolic links and stat: their meaning on disk, in memory and in Zarr stores."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from platekit.storage import DiskBackend, FileManager, FileStat, MemoryBackend

HAS_ZARR = importlib.util.find_spec("zarr") is not None and sys.version_info >= (3, 11)
needs_zarr = pytest.mark.skipif(not HAS_ZARR, reason="needs zarr-python 3 (Python 3.11+)")


@pytest.fixture
def disk() -> DiskBackend:
    return DiskBackend()


def image(n: int) -> np.ndarray:
    return np.full((4, 6), n, dtype=np.uint16)


# -- disk links --------------------------------------------------------------------------


def test_a_disk_link_is_a_real_link_holding_the_absolute_target(
    disk: DiskBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk.save(image(1), tmp_path / "plate" / "A01.tif")
    monkeypatch.chdir(tmp_path)
    disk.create_symlink("plate/A01.tif", "work/in/A01.tif")  # relative to this folder
    link = tmp_path / "work" / "in" / "A01.tif"
    assert link.is_symlink()
    assert os.readlink(link) == str(tmp_path / "plate" / "A01.tif")
    np.testing.assert_array_equal(disk.load(link), image(1))


def test_listings_follow_links_to_files_and_do_not_descend_into_linked_folders(
    disk: DiskBackend, tmp_path: Path
) -> None:
    disk.save(image(1), tmp_path / "src" / "A01.tif")
    disk.save(image(2), tmp_path / "src" / "deep" / "B01.tif")
    disk.create_symlink(tmp_path / "src" / "A01.tif", tmp_path / "view" / "A01.tif")
    disk.create_symlink(tmp_path / "src" / "deep", tmp_path / "view" / "deep")
    disk.save(image(3), tmp_path / "gone.tif")
    disk.create_symlink(tmp_path / "gone.tif", tmp_path / "view" / "dangling.tif")
    disk.delete(tmp_path / "gone.tif")
    view = tmp_path / "view"
    assert disk.list_dir(view) == ["A01.tif", "dangling.tif", "deep"]
    assert disk.list_files(view, recursive=True) == [str(view / "A01.tif")]
    assert disk.is_dir(view / "deep") and disk.is_symlink(view / "deep")
    assert disk.is_symlink(view / "dangling.tif") and not disk.exists(view / "dangling.tif")


def test_copy_follows_links_and_move_and_delete_act_on_the_link(
    disk: DiskBackend, tmp_path: Path
) -> None:
    disk.save(image(1), tmp_path / "src" / "A01.tif")
    disk.create_symlink(tmp_path / "src" / "A01.tif", tmp_path / "view" / "A01.tif")
    disk.save(image(9), tmp_path / "gone.tif")
    disk.create_symlink(tmp_path / "gone.tif", tmp_path / "view" / "dangling.tif")
    disk.delete(tmp_path / "gone.tif")
    # A copied file is the content, not a link; a copied folder skips links to nothing.
    disk.copy(tmp_path / "view" / "A01.tif", tmp_path / "copied.tif")
    assert not (tmp_path / "copied.tif").is_symlink()
    disk.copy(tmp_path / "view", tmp_path / "view2")
    assert sorted(os.listdir(tmp_path / "view2")) == ["A01.tif"]
    assert not (tmp_path / "view2" / "A01.tif").is_symlink()
    np.testing.assert_array_equal(disk.load(tmp_path / "view2" / "A01.tif"), image(1))
    # A moved link is still a link to the same file.
    disk.move(tmp_path / "view" / "A01.tif", tmp_path / "moved.tif")
    assert (tmp_path / "moved.tif").is_symlink()
    assert os.readlink(tmp_path / "moved.tif") == str(tmp_path / "src" / "A01.tif")
    disk.delete(tmp_path / "moved.tif")
    assert (tmp_path / "src" / "A01.tif").is_file()


def test_a_link_replaces_a_file_or_link_but_never_a_folder(
    disk: DiskBackend, tmp_path: Path
) -> None:
    disk.save(image(1), tmp_path / "a.tif")
    disk.save(image(2), tmp_path / "b.tif")
    disk.ensure_directory(tmp_path / "folder")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        disk.create_symlink(tmp_path / "a.tif", tmp_path / "b.tif")
    disk.create_symlink(tmp_path / "a.tif", tmp_path / "b.tif", overwrite=True)
    np.testing.assert_array_equal(disk.load(tmp_path / "b.tif"), image(1))
    with pytest.raises(IsADirectoryError):
        disk.create_symlink(tmp_path / "a.tif", tmp_path / "folder", overwrite=True)
    with pytest.raises(FileNotFoundError) as caught:
        disk.create_symlink(tmp_path / "absent.tif", tmp_path / "c.tif")
    assert "absent.tif" in str(caught.value)
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))


def test_disk_stat_follows_links(disk: DiskBackend, tmp_path: Path) -> None:
    path = tmp_path / "a.tif"
    disk.save(image(1), path)
    disk.create_symlink(path, tmp_path / "link.tif")
    found = disk.stat(tmp_path / "link.tif")
    assert found == FileStat("file", path.stat().st_size, path.stat().st_mtime)
    disk.delete(path)
    with pytest.raises(FileNotFoundError):
        disk.stat(tmp_path / "link.tif")  # a link to nothing has no target to describe
    assert disk.stat(tmp_path).kind == "folder"


# -- memory -------------------------------------------------------------------------------


def test_memory_links_follow_their_target_and_a_loop_is_an_error() -> None:
    memory = MemoryBackend()
    memory.save(image(1), "/plate/a.tif")
    memory.create_symlink("/plate", "/view/plate")  # a link to a folder lists as it
    assert memory.list_dir("/view/plate") == ["a.tif"]
    memory.create_symlink("/plate/a.tif", "/view/a.tif")
    assert memory.list_files("/view") == ["/view/a.tif"]
    memory.save(image(2), "/plate/a.tif", overwrite=True)  # the link sees the new data
    np.testing.assert_array_equal(memory.load("/view/a.tif"), image(2))
    memory.move("/view/a.tif", "/elsewhere/a.tif")  # a move takes the link itself
    assert memory.is_symlink("/elsewhere/a.tif") and not memory.exists("/view/a.tif")
    memory.create_symlink("/plate/a.tif", "/x.tif")
    memory.create_symlink("/x.tif", "/y.tif")
    memory.create_symlink("/y.tif", "/x.tif", overwrite=True)
    with pytest.raises(OSError, match="too many levels of links"):
        memory.load("/x.tif")
    assert not memory.exists("/x.tif") and memory.is_symlink("/x.tif")


def test_memory_over_a_callers_dict_shares_its_files() -> None:
    store = {"existing.txt": "data", "/plate/A01.tif": image(1)}
    memory = MemoryBackend(store)
    assert memory.load("/existing.txt") == "data" and "/existing.txt" in store
    assert memory.is_dir("/plate") and memory.list_files("/plate") == ["/plate/A01.tif"]
    memory.save(image(2), "/plate/A02.tif")
    assert store["/plate/A02.tif"] is not None
    np.testing.assert_array_equal(MemoryBackend(store).load("/plate/A02.tif"), image(2))
    memory.delete("/existing.txt")
    assert "/existing.txt" not in store


def test_memory_stat_sizes_and_times() -> None:
    memory = MemoryBackend()
    before = time.time()
    memory.save(image(1), "/p/a.tif")
    memory.save(b"12345", "/p/b.bin")
    memory.save("µm", "/p/c.txt")
    memory.save({"a": 1}, "/p/d.json")
    after = time.time()
    assert memory.stat("/p/a.tif").size == image(1).nbytes
    assert memory.stat("/p/b.bin").size == 5
    assert memory.stat("/p/c.txt").size == 3  # bytes in UTF-8
    assert memory.stat("/p/d.json").size is None  # an object of no known size
    saved = memory.stat("/p/a.tif").mtime
    assert saved is not None and before <= saved <= after
    assert memory.stat("/p") == FileStat("folder", None, memory.stat("/p").mtime)
    memory.move("/p/a.tif", "/q/a.tif")  # a move keeps the time, as a rename does
    assert memory.stat("/q/a.tif").mtime == saved
    memory.copy("/q/a.tif", "/q/b.tif")  # a copy is a new save
    copied = memory.stat("/q/b.tif").mtime
    assert copied is not None and copied >= saved
    with pytest.raises(FileNotFoundError, match="memory"):
        memory.stat("/p/a.tif")


def test_file_manager_routes_the_new_methods(tmp_path: Path) -> None:
    fm = FileManager({"disk": DiskBackend()})
    fm.save(image(1), tmp_path / "a.tif", "disk")
    fm.create_symlink(tmp_path / "a.tif", tmp_path / "b.tif", "disk")
    assert fm.is_symlink(tmp_path / "b.tif", "disk")
    assert fm.stat(tmp_path / "b.tif", "disk").kind == "file"


# -- zarr ---------------------------------------------------------------------------------


@needs_zarr
def test_zarr_stat_counts_the_bytes_stored(tmp_path: Path) -> None:
    from platekit.storage.backends.zarr import ZarrBackend

    zb = ZarrBackend()
    store = tmp_path / "plate.zarr"
    noise = np.random.default_rng(1).integers(0, 4096, (3, 64, 64), dtype=np.uint16)
    zb.save(noise, store / "A" / "noise")
    zb.save(np.zeros((3, 64, 64), dtype=np.uint16), store / "A" / "flat")
    on_disk = sum(f.stat().st_size for f in (store / "A" / "noise").rglob("*") if f.is_file())
    noisy, flat = zb.stat(store / "A" / "noise"), zb.stat(store / "A" / "flat")
    assert noisy.kind == "file" and noisy.size == on_disk
    assert flat.size is not None and flat.size < 1000 < noisy.size  # zeros compress away
    group = zb.stat(store / "A")
    assert group.kind == "folder" and group.size is None
    assert group.mtime == (store / "A" / "zarr.json").stat().st_mtime
    assert noisy.mtime == (store / "A" / "noise" / "zarr.json").stat().st_mtime
    with pytest.raises(FileNotFoundError, match="zarr backend"):
        zb.stat(store / "A" / "absent")


@needs_zarr
def test_zarr_links_are_relative_links_that_other_readers_follow(tmp_path: Path) -> None:
    import zarr

    from platekit.storage.backends.zarr import ZarrBackend

    zb = ZarrBackend()
    store = tmp_path / "plate.zarr"
    zb.save(image(1), store / "A" / "1" / "0")
    zb.create_symlink(store / "A" / "1" / "0", store / "view" / "0")
    assert os.readlink(store / "view" / "0") == os.path.join("..", "A", "1", "0")
    assert zb.list_files(store / "view") == [str(store / "view" / "0")]
    np.testing.assert_array_equal(zarr.open_array(store / "view" / "0")[...], image(1))
    os.rename(store, tmp_path / "moved.zarr")  # the store keeps its links when moved
    moved = tmp_path / "moved.zarr"
    np.testing.assert_array_equal(zb.load(moved / "view" / "0"), image(1))
    zb.move(moved / "view" / "0", moved / "deeper" / "still" / "0")  # still points right
    np.testing.assert_array_equal(zb.load(moved / "deeper" / "still" / "0"), image(1))
    with pytest.raises(IsADirectoryError, match="point to arrays"):
        zb.create_symlink(moved / "A", moved / "B")
    with pytest.raises(ValueError, match="inside its Zarr store"):
        zb.create_symlink(moved / "A" / "1" / "0", tmp_path / "other.zarr" / "0")
    zb.create_symlink(moved / "A" / "1" / "0", moved / "x")
    zb.create_symlink(moved / "x", moved / "y")
    os.remove(moved / "x")
    os.symlink("y", moved / "x")  # a loop, made by other means
    with pytest.raises(FileNotFoundError):
        zb.load(moved / "x")
