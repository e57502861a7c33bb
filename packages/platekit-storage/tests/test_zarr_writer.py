"""ZarrBackend.array_writer: an array written piece by piece, published whole when the
block ends, never when it fails, and never half-visible to another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

zarr = pytest.importorskip("zarr", minversion="3")

from platekit.storage.backends.zarr import ZarrBackend  # noqa: E402


@pytest.fixture(params=[3, 2], ids=["v3", "v2"])
def backend(request: pytest.FixtureRequest) -> ZarrBackend:
    return ZarrBackend(zarr_format=request.param)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "plate.zarr"


def plane(t: int, c: int, z: int) -> np.ndarray[Any, Any]:
    """A 16 x 20 plane that tells its indices apart from every other plane's (and from 0)."""
    base = np.arange(16 * 20, dtype=np.uint16).reshape(16, 20)
    result: np.ndarray[Any, Any] = base + np.uint16(1 + 1000 * t + 100 * c + 10 * z)
    return result


def staging_left(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".platekit-tmp-*")]


def test_planes_written_one_by_one_load_back(backend: ZarrBackend, store: Path) -> None:
    path = store / "A" / "1" / "0" / "0"
    shape = (2, 3, 4, 16, 20)
    with backend.array_writer(path, shape=shape, dtype="uint16", attributes={"level": 0}) as out:
        assert (out.shape, out.dtype, out.ndim) == (shape, np.dtype("uint16"), 5)
        assert out.chunks == (1, 1, 1, 16, 20)  # one chunk per plane, as save() makes them
        assert out.path == str(path)
        for t in range(2):
            for c in range(3):
                for z in range(4):
                    out[t, c, z] = plane(t, c, z)
        assert not backend.exists(path)  # nothing is published before the block ends
    data = backend.load(path)
    assert data.shape == shape and data.dtype == np.uint16
    for t in range(2):
        for c in range(3):
            for z in range(4):
                np.testing.assert_array_equal(data[t, c, z], plane(t, c, z))
    assert backend.attributes(path) == {"level": 0}
    opened = zarr.open_array(str(path), mode="r", zarr_format=backend.zarr_format)
    np.testing.assert_array_equal(opened[1, 2, 3], plane(1, 2, 3))
    assert backend.list_files(store / "A" / "1" / "0") == [str(path)]
    assert staging_left(store) == []


def test_numpy_style_assignment(backend: ZarrBackend, store: Path) -> None:
    whole = np.arange(3 * 6 * 8, dtype=np.float32).reshape(3, 6, 8)
    with backend.array_writer(store / "whole", whole.shape, whole.dtype) as out:
        out[...] = whole
    np.testing.assert_array_equal(backend.load(store / "whole"), whole)

    with backend.array_writer(store / "parts", (3, 6, 8), np.float32, chunks=(1, 3, 4)) as out:
        out[0] = whole[0]
        out[1:, :3] = whole[1:, :3]
        out[1:, 3:, ::2] = 5
    loaded = backend.load(store / "parts")
    np.testing.assert_array_equal(loaded[0], whole[0])
    np.testing.assert_array_equal(loaded[1:, :3], whole[1:, :3])
    np.testing.assert_array_equal(loaded[1:, 3:, ::2], 5)
    np.testing.assert_array_equal(loaded[1:, 3:, 1::2], 0)


def test_planes_never_written_read_back_as_the_fill_value(
    backend: ZarrBackend, store: Path
) -> None:
    with backend.array_writer(store / "zeros", (3, 16, 20), "uint16") as out:
        out[1] = plane(0, 0, 0)
    data = backend.load(store / "zeros")
    np.testing.assert_array_equal(data[1], plane(0, 0, 0))
    assert not data[0].any() and not data[2].any()

    with backend.array_writer(store / "sevens", (3, 16, 20), "uint16", fill_value=7) as out:
        out[2] = plane(0, 0, 1)
    data = backend.load(store / "sevens")
    assert (data[:2] == 7).all()
    np.testing.assert_array_equal(data[2], plane(0, 0, 1))
    # Nothing was stored for the planes never written.
    folder = store / "sevens"
    chunk_files = [
        p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "z"))
    ]
    assert len(chunk_files) == 1


def test_an_exception_in_the_block_publishes_nothing(backend: ZarrBackend, store: Path) -> None:
    backend.save(np.full((2, 16, 20), 9, dtype=np.uint16), store / "old")
    writers: list[Any] = []

    def fail_midway(path: Path, overwrite: bool) -> None:
        with backend.array_writer(path, (2, 16, 20), "uint16", overwrite=overwrite) as out:
            writers.append(out)
            out[0] = plane(0, 0, 0)
            raise RuntimeError("source plane unreadable")

    for path, overwrite in ((store / "new", False), (store / "old", True)):
        writers.clear()
        with pytest.raises(RuntimeError, match="source plane unreadable"):
            fail_midway(path, overwrite)
        (out,) = writers
        with pytest.raises(ValueError, match="closed"):
            out[1] = plane(0, 0, 1)
    assert not backend.exists(store / "new")
    np.testing.assert_array_equal(backend.load(store / "old"), 9)
    assert backend.list_dir(store) == ["old"]
    assert staging_left(store) == []
    assert sorted(os.listdir(store)) == (
        ["old", "zarr.json"] if backend.zarr_format == 3 else [".zgroup", "old"]
    )


def test_overwrite_rules_are_those_of_save(backend: ZarrBackend, store: Path) -> None:
    backend.save(np.full((4, 4), 9, dtype=np.uint16), store / "A" / "0")
    refused: list[tuple[type[OSError], str, Path, bool]] = [
        (FileExistsError, "overwrite=True", store / "A" / "0", False),
        (IsADirectoryError, "an array cannot replace it", store / "A", True),
        (IsADirectoryError, "root of a Zarr store", store, True),
        (NotADirectoryError, "in the way", store / "A" / "0" / "below", False),
    ]
    for error, message, path, overwrite in refused:
        with (
            pytest.raises(error, match=message),
            backend.array_writer(path, (4, 4), "uint16", overwrite=overwrite),
        ):
            pytest.fail(f"the block must not start for {path}")
    np.testing.assert_array_equal(backend.load(store / "A" / "0"), 9)

    with backend.array_writer(store / "A" / "0", (2, 4), "float32", overwrite=True) as out:
        out[...] = 1.5
        np.testing.assert_array_equal(backend.load(store / "A" / "0"), 9)  # still the old one
    replaced = backend.load(store / "A" / "0")
    assert replaced.shape == (2, 4) and replaced.dtype == np.float32 and (replaced == 1.5).all()
    assert staging_left(store) == []


def test_a_node_published_during_the_block_is_not_replaced(
    backend: ZarrBackend, store: Path
) -> None:
    writer = backend.array_writer(store / "0", (4, 4), "uint16")
    out = writer.__enter__()
    out[...] = 1
    backend.save(np.full((4, 4), 2, dtype=np.uint16), store / "0")  # another writer
    with pytest.raises(FileExistsError, match="overwrite=True"):
        writer.__exit__(None, None, None)
    np.testing.assert_array_equal(backend.load(store / "0"), 2)
    assert staging_left(store) == []


def test_options_are_checked_before_the_block_starts(backend: ZarrBackend, store: Path) -> None:
    attempts: list[tuple[type[Exception], str, dict[str, Any]]] = [
        (TypeError, "does not take \\['compression'\\]", {"compression": "zstd"}),
        (TypeError, "not JSON-safe", {"attributes": {"x": np.int64(1)}}),
        (TypeError, "Python objects", {"dtype": object}),
        (TypeError, "sequence of ints", {"shape": (2.5, 3)}),
        (ValueError, "negative size", {"shape": (-1, 3)}),
    ]
    for error, message, change in attempts:
        arguments: dict[str, Any] = {"shape": (2, 3), "dtype": "uint16", **change}
        with pytest.raises(error, match=message), backend.array_writer(store / "x", **arguments):
            pytest.fail(f"the block must not start with {change}")
    assert not store.exists()


def test_zarr_options_pass_through(store: Path) -> None:
    from zarr.codecs import BloscCodec

    backend = ZarrBackend()
    with backend.array_writer(
        store / "img",
        (2, 32, 32),
        "uint16",
        chunks=(1, 16, 16),
        shards=(1, 32, 32),
        compressors=[BloscCodec(cname="lz4")],
        dimension_names=["c", "y", "x"],
    ) as out:
        out[...] = 3
    array = zarr.open_array(str(store / "img"), mode="r")
    assert array.chunks == (1, 16, 16) and array.shards == (1, 32, 32)
    assert array.metadata.dimension_names == ("c", "y", "x")
    assert (array[...] == 3).all()
    with backend.array_writer(store / "raw", (4, 4), "uint8", compressors=None) as out:
        out[...] = 1
    assert zarr.open_array(str(store / "raw"), mode="r").compressors == ()


def test_the_array_is_created_once_for_all_planes(
    backend: ZarrBackend, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = zarr.open_array
    opened: list[Any] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        opened.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(zarr, "open_array", counting)
    real_create = zarr.create_array
    created: list[Any] = []

    def counting_create(*args: Any, **kwargs: Any) -> Any:
        created.append(args)
        return real_create(*args, **kwargs)

    monkeypatch.setattr(zarr, "create_array", counting_create)
    with backend.array_writer(store / "img", (20, 8, 8), "uint16") as out:
        for index in range(20):
            out[index] = index
    assert len(created) == 1 and opened == []
    assert backend.load(store / "img")[19, 0, 0] == 19


# -- other processes ------------------------------------------------------------------------

WRITER = """
import os, signal, sys
import numpy as np
from platekit.storage.backends.zarr import ZarrBackend

path, zarr_format, ending = sys.argv[1], int(sys.argv[2]), sys.argv[3]
backend = ZarrBackend(zarr_format=zarr_format)
with backend.array_writer(path, (6, 64, 64), "uint16", overwrite=True) as out:
    for index in range(3):
        out[index] = index + 1
    print("half written", flush=True)
    if ending == "kill":
        if hasattr(signal, "SIGKILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(1)
    sys.stdin.readline()  # wait until the other process has looked
    for index in range(3, 6):
        out[index] = index + 1
print("published", flush=True)
"""


def run_writer(path: Path, zarr_format: int, ending: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(zarr_format), ending],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "half written\n"
    return child


def arrays(backend: ZarrBackend, store: Path) -> list[str]:
    """The arrays in the store, as this backend lists them and zarr-python finds them."""
    names = [str(Path(p).relative_to(store)) for p in backend.list_files(store, recursive=True)]
    group = zarr.open_group(str(store), mode="r", zarr_format=backend.zarr_format)
    for name in ("A/img", "A/other"):
        assert (name in group) == (name in names), name
    return names


@pytest.mark.slow
def test_another_process_sees_no_array_until_the_block_ends(
    backend: ZarrBackend, store: Path
) -> None:
    backend.save(np.zeros((2, 2), dtype=np.uint8), store / "A" / "other")
    path = store / "A" / "img"
    child = run_writer(path, backend.zarr_format, "wait")
    try:
        assert not backend.exists(path)
        assert arrays(backend, store) == ["A/other"]
        assert backend.list_dir(store / "A") == ["other"]
        assert staging_left(store)  # the array being built is there, hidden
        with pytest.raises(FileNotFoundError):
            backend.load(path)
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("go on\n")
        child.stdin.flush()
        assert child.stdout.readline() == "published\n"
    finally:
        child.communicate(timeout=60)
    assert child.returncode == 0
    assert arrays(backend, store) == ["A/img", "A/other"]
    group = zarr.open_group(str(store), mode="r", zarr_format=backend.zarr_format)
    assert sorted(name for name, _ in group.members(max_depth=None)) == ["A", "A/img", "A/other"]
    data = backend.load(path)
    for index in range(6):
        assert (data[index] == index + 1).all()
    assert staging_left(store) == []


@pytest.mark.slow
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_a_writer_killed_in_the_block_leaves_no_array(
    backend: ZarrBackend, store: Path, existing: bool
) -> None:
    path = store / "A" / "img"
    old = np.full((6, 64, 64), 99, dtype=np.uint16)
    if existing:
        backend.save(old, path)
    else:
        backend.ensure_directory(store / "A")
    child = run_writer(path, backend.zarr_format, "kill")
    child.communicate(timeout=60)
    assert child.returncode != 0

    if existing:
        np.testing.assert_array_equal(backend.load(path), old)
        assert arrays(backend, store) == ["A/img"]
    else:
        assert not backend.exists(path)
        assert arrays(backend, store) == []
        assert backend.list_dir(store / "A") == []
    # What the killed writer built is at most one hidden folder, which is no node.
    assert len(staging_left(store)) <= 1
    group_metadata = store / "A" / ("zarr.json" if backend.zarr_format == 3 else ".zgroup")
    assert json.loads(group_metadata.read_text())["zarr_format"] == backend.zarr_format


def test_remove_leftovers_takes_what_killed_writers_left_and_nothing_else(tmp_path: Path) -> None:
    from platekit.storage.backends.zarr import ZarrBackend

    backend = ZarrBackend()
    store = tmp_path / "out.zarr"
    backend.save(np.zeros((2, 3), np.uint8), str(store / "A" / "1" / "0"))
    left_file = store / "A" / ".platekit-tmp-0123456789ab"
    left_file.write_text("{}")
    left_folder = store / "A" / "1" / ".platekit-tmp-folder"
    (left_folder / "new").mkdir(parents=True)
    removed = backend.remove_leftovers(str(store))
    assert sorted(removed) == sorted([str(left_file), str(left_folder)])
    assert not left_file.exists() and not left_folder.exists()
    np.testing.assert_array_equal(backend.load(str(store / "A" / "1" / "0")), np.zeros((2, 3)))
    assert backend.remove_leftovers(str(store)) == []
    with pytest.raises(FileNotFoundError):
        backend.remove_leftovers(str(tmp_path / "none.zarr"))


# -- writes overlap the caller ----------------------------------------------------------------


class HeldArray:
    """A zarr array whose writes wait until the test lets them go (bounded), or fail."""

    def __init__(self, array: Any, fail: bool = False) -> None:
        self.array = array
        self.fail = fail
        self.released = threading.Event()
        self.failed = threading.Event()
        self.waited: list[bool] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.array, name)

    def __setitem__(self, index: Any, value: Any) -> None:
        if self.fail:
            self.failed.set()
            raise OSError(28, "No space left on device")
        # True when the test released the write while the assignment had already returned.
        self.waited.append(self.released.wait(timeout=10))
        self.array[index] = value


def test_an_assignment_returns_while_its_chunks_are_written(
    backend: ZarrBackend, store: Path
) -> None:
    path = store / "A" / "1" / "0" / "0"
    with backend.array_writer(path, shape=(2, 16, 20), dtype="uint16") as out:
        held = HeldArray(out._array)
        out._array = held
        pixels = plane(0, 0, 0)
        out[0] = pixels  # returns before the write ends: the write waits for the release
        pixels[...] = 7  # the caller reuses its buffer; what was assigned is a copy
        held.released.set()
        out[1] = plane(0, 0, 1)
    assert held.waited == [True, True]
    data = backend.load(path)
    np.testing.assert_array_equal(data[0], plane(0, 0, 0))
    np.testing.assert_array_equal(data[1], plane(0, 0, 1))


def fail_at_the_next_assignment(backend: ZarrBackend, path: Path) -> None:
    with backend.array_writer(path, shape=(3, 16, 20), dtype="uint16") as out:
        held = HeldArray(out._array, fail=True)
        out._array = held
        out[0] = plane(0, 0, 0)
        assert held.failed.wait(timeout=10)
        out._pending[0].exception(timeout=10)  # the failed write has ended
        out[1] = plane(0, 0, 1)
        pytest.fail("the assignment after a failed write must raise")


def fail_at_the_end(backend: ZarrBackend, path: Path) -> None:
    with backend.array_writer(path, shape=(3, 16, 20), dtype="uint16") as out:
        out._array = HeldArray(out._array, fail=True)
        out[0] = plane(0, 0, 0)


@pytest.mark.parametrize("where", [fail_at_the_next_assignment, fail_at_the_end])
def test_a_failed_write_raises_and_publishes_nothing(
    backend: ZarrBackend, store: Path, where: Any
) -> None:
    path = store / "A" / "1" / "0" / "0"
    with pytest.raises(OSError, match="No space left"):
        where(backend, path)
    assert not backend.exists(path)
    assert staging_left(store) == []
