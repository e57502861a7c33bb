"""The zarr backend: the shared contract, the path model, chunking, what other
Zarr readers see, how writes are published, and life without zarr-python."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

zarr = pytest.importorskip("zarr", minversion="3")

from platekit.registry._install import install_command  # noqa: E402
from platekit.storage import BackendRegistry, FileManager  # noqa: E402
from platekit.storage.backends import zarr as zarr_module  # noqa: E402
from platekit.storage.backends.zarr import ZarrBackend  # noqa: E402
from platekit.storage.testing import BackendContract  # noqa: E402


class TestZarrBackend(BackendContract):
    suffix = ""

    @pytest.fixture
    def backend(self) -> ZarrBackend:
        return ZarrBackend()

    @pytest.fixture
    def root(self, tmp_path: Path) -> str:
        return str(tmp_path / "plate.zarr" / "run")

    def sample(self, n: int) -> Any:
        return np.arange(24, dtype=np.uint16).reshape(4, 6) + n


class TestZarrV2Backend(TestZarrBackend):
    """The same contract, for a backend writing Zarr v2 nodes."""

    @pytest.fixture
    def backend(self) -> ZarrBackend:
        return ZarrBackend(zarr_format=2)


@pytest.fixture
def backend() -> ZarrBackend:
    return ZarrBackend()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "data" / "out.zarr"


def image(*shape: int, value: int = 0) -> np.ndarray[Any, Any]:
    return (np.arange(int(np.prod(shape))).reshape(shape) + value).astype(np.uint16)


def staging_left(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".platekit-tmp-*")]


# -- the path model ----------------------------------------------------------------------


def test_a_path_names_a_node_in_the_store_rooted_at_its_first_zarr_folder(
    backend: ZarrBackend, store: Path
) -> None:
    path = store / "A" / "1" / "0"
    backend.save(image(4, 4), path)
    assert backend.is_file(path) and not backend.is_dir(path)
    for group in (store, store / "A", store / "A" / "1"):
        assert backend.is_dir(group)
        assert json.loads((group / "zarr.json").read_text())["node_type"] == "group"
    assert not (store.parent / "zarr.json").exists()  # the store starts at out.zarr
    assert backend.list_dir(store) == ["A"]
    assert backend.list_dir(store / "A" / "1") == ["0"]
    # Inside a store, a later ".zarr" name is only a group's name.
    backend.save(image(2, 2), store / "inner.zarr" / "x")
    assert backend.list_dir(store) == ["A", "inner.zarr"]
    assert backend.is_dir(store / "inner.zarr")


def test_a_path_outside_any_store_is_an_error_naming_it(
    backend: ZarrBackend, tmp_path: Path
) -> None:
    outside = str(tmp_path / "plain" / "A01")
    calls: list[Callable[[], object]] = [
        lambda: backend.save(image(2, 2), outside),
        lambda: backend.load(outside),
        lambda: backend.exists(outside),
        lambda: backend.list_files(outside),
        lambda: backend.ensure_directory(outside),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="not inside a Zarr store") as caught:
            call()
        assert outside in str(caught.value)
    with pytest.raises(ValueError, match="local Zarr stores only"):
        backend.exists("s3://bucket/plate.zarr/A")
    with pytest.raises(ValueError, match="reserves node names"):
        backend.save(image(2, 2), tmp_path / "a.zarr" / "__meta")


def test_the_store_root_is_a_group(backend: ZarrBackend, store: Path) -> None:
    assert not backend.exists(store)
    store.mkdir(parents=True)  # made by someone else, no zarr.json yet
    assert backend.is_dir(store)
    assert backend.list_dir(store) == []
    with pytest.raises(IsADirectoryError, match="root of a Zarr store"):
        backend.save(image(2, 2), store)
    backend.save(image(2, 2), store / "0")
    assert json.loads((store / "zarr.json").read_text())["node_type"] == "group"


def test_list_files_lists_arrays_not_groups(backend: ZarrBackend, store: Path) -> None:
    backend.save(image(2, 2), store / "A" / "10")
    backend.save(image(2, 2), store / "A" / "2")
    backend.save(image(2, 2), store / "A" / "sub" / "1")
    assert backend.list_files(store / "A") == [str(store / "A" / "2"), str(store / "A" / "10")]
    assert backend.list_files(store, recursive=True) == [
        str(store / "A" / "2"),
        str(store / "A" / "10"),
        str(store / "A" / "sub" / "1"),
    ]
    assert backend.list_dir(store / "A") == ["2", "10", "sub"]
    with pytest.raises(NotADirectoryError):
        backend.list_dir(store / "A" / "2")


# -- what is written --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "chunks"),
    [((3, 16, 20), (1, 16, 20)), ((2, 3, 16, 20), (1, 1, 16, 20)), ((16, 20), (16, 20))],
)
def test_default_chunks_are_one_per_plane_and_compressed(
    backend: ZarrBackend, store: Path, shape: tuple[int, ...], chunks: tuple[int, ...]
) -> None:
    path = store / "img"
    data = image(*shape, value=1)
    backend.save(data, path)
    array = zarr.open_array(str(path), mode="r")
    assert array.chunks == chunks
    assert array.metadata.zarr_format == 3
    assert len(array.compressors) > 0
    np.testing.assert_array_equal(backend.load(path), data)


def test_chunks_compressors_and_other_zarr_options_can_be_chosen(
    backend: ZarrBackend, store: Path
) -> None:
    from zarr.codecs import BloscCodec

    data = image(16, 20, value=3)
    backend.save(data, store / "tiles", chunks=(8, 10))
    backend.save(data, store / "raw", compressors=None)
    backend.save(data, store / "blosc", compressors=[BloscCodec(cname="lz4")])
    backend.save(data, store / "named", dimension_names=["y", "x"])
    assert zarr.open_array(str(store / "tiles"), mode="r").chunks == (8, 10)
    assert zarr.open_array(str(store / "raw"), mode="r").compressors == ()
    (codec,) = zarr.open_array(str(store / "blosc"), mode="r").compressors
    assert isinstance(codec, BloscCodec)
    assert zarr.open_array(str(store / "named"), mode="r").metadata.dimension_names == ("y", "x")
    for name in ("tiles", "raw", "blosc", "named"):
        np.testing.assert_array_equal(backend.load(store / name), data)
    with pytest.raises(TypeError, match="does not take \\['compression'\\]"):
        backend.save(data, store / "typo", compression="zstd")
    assert not backend.exists(store / "typo")


def test_attributes_round_trip(backend: ZarrBackend, store: Path) -> None:
    attributes = {"channel": "DAPI", "pixel_size_um": 0.65, "wells": ["A01", "A02"]}
    backend.save(image(4, 4), store / "A" / "0", attributes=attributes)
    assert backend.attributes(store / "A" / "0") == attributes
    assert zarr.open_array(str(store / "A" / "0"), mode="r").attrs.asdict() == attributes
    assert backend.attributes(store / "A") == {}
    backend.copy(store / "A" / "0", store / "B" / "0")
    assert backend.attributes(store / "B" / "0") == attributes
    with pytest.raises(FileNotFoundError):
        backend.attributes(store / "nothing")


def test_plain_zarr_python_opens_the_store(backend: ZarrBackend, store: Path) -> None:
    plate = {
        f"{row}/{col}/0": image(2, 8, 8, value=n)
        for n, (row, col) in enumerate([("A", "1"), ("A", "2"), ("B", "1")])
    }
    for path, data in plate.items():
        backend.save(data, store / path, attributes={"well": path[:3]})
    backend.ensure_directory(store / "C")
    backend.save(image(4, 4), store / "A" / "1" / "0", overwrite=True, attributes={"well": "A/1"})
    plate["A/1/0"] = image(4, 4)
    backend.delete(store / "B" / "1" / "0")
    del plate["B/1/0"]

    assert staging_left(store) == []
    # Any stray non-node entry would make zarr-python warn, and warnings fail tests here.
    group = zarr.open_group(str(store), mode="r")
    assert group.metadata.zarr_format == 3
    assert sorted(group.group_keys()) == ["A", "B", "C"]
    arrays = {
        name: node for name, node in group.members(max_depth=None) if isinstance(node, zarr.Array)
    }
    assert sorted(arrays) == sorted(plate)
    for path, data in plate.items():
        np.testing.assert_array_equal(arrays[path][...], data)
        assert arrays[path].attrs["well"] == path[:3]


# -- non-array data ----------------------------------------------------------------------


@pytest.mark.parametrize("data", [{"wells": ["A01"]}, "some text", b"\x00\x01", [1, 2, 3], 7])
def test_non_array_data_is_refused_and_points_to_the_disk_backend(
    backend: ZarrBackend, store: Path, data: Any
) -> None:
    with pytest.raises(TypeError, match="stores arrays") as caught:
        backend.save(data, store / "meta.json")
    assert "disk backend" in str(caught.value) and "attributes=" in str(caught.value)
    assert not store.exists()


def test_object_arrays_are_refused(backend: ZarrBackend, store: Path) -> None:
    with pytest.raises(TypeError, match="Python objects"):
        backend.save(np.array([{"a": 1}], dtype=object), store / "objects")


# -- overwriting and publishing ---------------------------------------------------------------


def test_overwrite_is_refused_and_keeps_the_old_array(backend: ZarrBackend, store: Path) -> None:
    path = store / "A" / "0"
    old = image(4, 4, value=1)
    backend.save(old, path, attributes={"version": 1})
    with pytest.raises(FileExistsError, match="overwrite=True"):
        backend.save(np.ones((8, 8), dtype=np.float32), path, attributes={"version": 2})
    np.testing.assert_array_equal(backend.load(path), old)
    assert backend.load(path).dtype == np.uint16
    assert backend.attributes(path) == {"version": 1}

    new = np.ones((8, 8), dtype=np.float32)
    backend.save(new, path, overwrite=True, attributes={"version": 2})
    np.testing.assert_array_equal(backend.load(path), new)
    assert backend.attributes(path) == {"version": 2}
    assert staging_left(store) == []
    with pytest.raises(IsADirectoryError):
        backend.save(new, store / "A", overwrite=True)


def test_a_node_that_appears_during_a_write_is_not_replaced(
    backend: ZarrBackend, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = store / "0"
    backend.save(image(4, 4, value=1), path)
    # As if another writer published the node after this save checked the path.
    monkeypatch.setattr(zarr_module, "check_target", lambda *args: None)
    with pytest.raises(FileExistsError):
        backend.save(image(4, 4, value=2), path)
    np.testing.assert_array_equal(backend.load(path), image(4, 4, value=1))
    assert staging_left(store) == []


def test_a_failed_write_leaves_no_array_behind(
    backend: ZarrBackend, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.save(image(4, 4, value=1), store / "old")
    real = zarr.create_array

    def crash_after_writing(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)  # everything written, but not yet published
        raise OSError("disk full")

    monkeypatch.setattr(zarr, "create_array", crash_after_writing)
    with pytest.raises(OSError, match="disk full"):
        backend.save(image(4, 4), store / "new")
    with pytest.raises(OSError, match="disk full"):
        backend.save(image(4, 4), store / "old", overwrite=True)
    assert not backend.exists(store / "new")
    np.testing.assert_array_equal(backend.load(store / "old"), image(4, 4, value=1))
    assert backend.list_dir(store) == ["old"]
    assert staging_left(store) == []


def test_loads_during_overwrites_see_one_whole_array(backend: ZarrBackend, store: Path) -> None:
    path = store / "stack"
    frames = [np.full((6, 32, 32), n, dtype=np.uint16) for n in (1, 2)]
    backend.save(frames[0], path)
    stop = threading.Event()

    def overwrite() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            backend.save(frames[n % 2], path, overwrite=True)

    writer = threading.Thread(target=overwrite)
    writer.start()
    seen = set()
    try:
        for _ in range(60):
            try:
                data = backend.load(path)
            except FileNotFoundError:
                continue  # between the two renames of an overwrite
            values = np.unique(data)
            assert len(values) == 1 and values[0] in (1, 2), values
            seen.add(int(values[0]))
    finally:
        stop.set()
        writer.join(timeout=60)
    assert seen


def version_content(version: int) -> np.ndarray[Any, Any]:
    """Version ``version`` of a 4-plane stack: no zeros, every plane tied to the version."""
    ramp = np.arange(4 * 128 * 128, dtype=np.uint32).reshape(4, 128, 128)
    stack: np.ndarray[Any, Any] = (ramp * np.uint32(2654435761) + np.uint32(version)) % 65000 + 1
    return stack.astype(np.uint16)


KILLED_WRITER = (
    "import sys\n"
    "from typing import Any\n"
    "import numpy as np\n"
    "import zarr\n"  # imported before "ready": the kill must fall among the saves
    "from platekit.storage.backends.zarr import ZarrBackend\n"
    + inspect.getsource(version_content)
    + """
root, version = sys.argv[1], int(sys.argv[2])
backend = ZarrBackend()
print("ready", flush=True)
while True:
    backend.save(version_content(version), f"{root}/s{version % 3}", overwrite=True)
    version += 1
"""
)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_writer_leaves_only_whole_arrays(backend: ZarrBackend, store: Path) -> None:
    seed = int(os.environ.get("PLATEKIT_CRASH_SEED", random.randrange(1 << 30)))
    timing = random.Random(seed)
    root = str(store / "frames")
    for round_ in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, root, str(1 + 1000 * round_)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        time.sleep(timing.uniform(0.02, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
        for path in backend.list_files(root) if backend.exists(root) else []:
            data = backend.load(path)
            version = int(data[0, 0, 0]) - 1
            np.testing.assert_array_equal(
                data, version_content(version), err_msg=f"{path}, PLATEKIT_CRASH_SEED={seed}"
            )
    assert backend.list_files(root), f"nothing was written; PLATEKIT_CRASH_SEED={seed}"


# -- groups, deleting, copying and moving ---------------------------------------------------


def test_groups_copy_and_move_as_whole_nodes(backend: ZarrBackend, tmp_path: Path) -> None:
    first, second = tmp_path / "one.zarr", tmp_path / "two.zarr"
    backend.save(image(3, 3, value=1), first / "A" / "1" / "0")
    backend.save(image(3, 3, value=2), first / "A" / "2" / "0")
    assert backend.ensure_directory(first / "B" / "empty") == str(first / "B" / "empty")
    assert isinstance(zarr.open_group(str(first / "B" / "empty"), mode="r"), zarr.Group)

    backend.copy(first / "A", second / "plate" / "A")
    np.testing.assert_array_equal(
        backend.load(second / "plate" / "A" / "2" / "0"), image(3, 3, value=2)
    )
    assert backend.is_dir(second / "plate")
    backend.move(second / "plate", tmp_path / "three.zarr")  # a group becomes a whole store
    assert not backend.exists(second / "plate")
    assert sorted(zarr.open_group(str(tmp_path / "three.zarr"), mode="r").group_keys()) == ["A"]

    with pytest.raises(ValueError, match="inside itself"):
        backend.copy(first / "A", first / "A" / "1" / "copy")
    with pytest.raises(IsADirectoryError):
        backend.move(first / "A" / "1" / "0", tmp_path / "single.zarr")
    with pytest.raises(FileExistsError):
        backend.ensure_directory(first / "A" / "1" / "0" / "below")
    with pytest.raises(NotADirectoryError):
        backend.save(image(2, 2), first / "A" / "1" / "0" / "below")

    backend.copy(first / "B", first / "A", overwrite=True)  # replaces the group as a whole
    assert backend.list_dir(first / "A") == ["empty"]
    backend.delete(first, recursive=True)
    assert not first.exists()
    assert staging_left(tmp_path) == []


def test_file_manager_routes_to_zarr(store: Path) -> None:
    fm = FileManager(BackendRegistry())
    fm.save(image(4, 4), store / "A" / "0", "zarr")
    assert fm.list_files(store / "A", "zarr") == [str(store / "A" / "0")]
    np.testing.assert_array_equal(fm.load(store / "A" / "0", "zarr"), image(4, 4))


# -- without zarr ------------------------------------------------------------------------------

HAS_DISK = importlib.util.find_spec("platekit.storage.backends.disk") is not None

PROBE = """
import json, sys
{setup}
from platekit.storage import STORAGE_BACKENDS, BackendRegistry
registry = BackendRegistry()
# platekit-storage's own backends: higher layers may add theirs through entry points.
keys = [k for k in registry if not STORAGE_BACKENDS.origin(k).startswith("entry point")]
try:
    registry["zarr"]
    outcome = "available"
except KeyError as exc:
    outcome = str(exc)
try:
    from platekit.storage.backends.zarr import ZarrBackend
    imported = "imported"
except ImportError as exc:
    imported = str(exc)
print(json.dumps([keys, outcome, imported, sys.modules.get("zarr") is not None]))
"""


def probe(setup: str, cache: Path) -> list[Any]:
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache))
    code = textwrap.dedent(PROBE).replace("{setup}", setup)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: list[Any] = json.loads(done.stdout)
    return result


@pytest.mark.slow
@pytest.mark.parametrize(
    "setup",
    [
        pytest.param("sys.modules['zarr'] = None", id="zarr-not-installed"),
        pytest.param("sys.hexversion = 0x030A08F0", id="python-3.10"),
    ],
)
def test_without_zarr_the_backend_is_absent_and_says_how_to_install_it(
    setup: str, tmp_path: Path
) -> None:
    for _ in range(2):  # cold, then warm
        keys, outcome, imported, zarr_loaded = probe(setup, tmp_path / "cache-without-zarr")
        # The object-storage backends are listed with or without zarr; zarr is not.
        assert keys == (["memory", "disk"] if HAS_DISK else ["memory"]) + [
            "fsspec",
            "zarr_fsspec",
        ]
        assert "platekit-storage[zarr]" in outcome and "Python 3.11" in outcome
        assert install_command("platekit-storage", "zarr") in outcome
        assert install_command("platekit-storage", "zarr") in imported
        assert zarr_loaded is False


@pytest.mark.slow
def test_listing_and_instantiating_the_backend_do_not_import_zarr(tmp_path: Path) -> None:
    keys, outcome, imported, zarr_loaded = probe("", tmp_path / "cache-with-zarr")
    assert keys[:3] == ["memory", "disk", "zarr"]
    assert outcome == "available" and imported == "imported"
    assert zarr_loaded is False
