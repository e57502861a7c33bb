"""BackendRegistry, FileManager, the seed's usage, GPU backends and third-party backends."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from platekit.registry._install import install_command
from platekit.storage import (
    BackendRegistry,
    FileManager,
    MemoryBackend,
    ReadOnlyBackend,
    StorageBackend,
    natural_sorted,
)
from platekit.storage._base import STORAGE_BACKENDS
from platekit.storage._registry import OPTIONAL_BACKENDS
from platekit.storage.testing import BackendContract, ReadOnlyContract

HAS_ZARR = importlib.util.find_spec("zarr") is not None and sys.version_info >= (3, 11)
BUILTIN = ["memory", "disk", *(["zarr"] if HAS_ZARR else []), "fsspec", "zarr_fsspec"]


def own(names: list[str]) -> list[str]:
    """The backends of platekit-storage itself, leaving out those other distributions add."""
    return [n for n in names if not STORAGE_BACKENDS.origin(n).startswith("entry point")]


def test_the_seed_usage_as_written() -> None:
    from platekit.storage import DiskBackend

    registry = BackendRegistry()  # discovers backend classes, instantiates none
    assert registry._instances == {}
    assert own(list(registry.keys())) == BUILTIN
    disk = registry["disk"]  # instantiated on first access
    assert isinstance(disk, DiskBackend)
    assert registry["disk"] is disk  # and reused
    fm = FileManager(registry)
    FileManager({"memory": MemoryBackend()})

    class MyBackend(StorageBackend):
        _backend_type = "my_backend"  # registers when defined

    try:
        assert "my_backend" in registry
        assert registry.classes["my_backend"] is MyBackend
        with pytest.raises(NotImplementedError, match=r"'my_backend'.*does not implement load"):
            fm.load("/x", "my_backend")
    finally:
        STORAGE_BACKENDS._unclaim("my_backend", MyBackend, None)


def test_an_abstract_base_with_a_key_is_not_registered() -> None:
    from abc import abstractmethod

    class BaseBackend(StorageBackend):
        _backend_type = "base"

        @abstractmethod
        def custom_method(self) -> None: ...

    assert "base" not in BackendRegistry()
    assert "base" not in STORAGE_BACKENDS


def test_two_threads_get_one_instance() -> None:
    registry = BackendRegistry()
    barrier = threading.Barrier(8)
    seen: list[StorageBackend] = []

    def grab() -> None:
        barrier.wait(timeout=10)
        seen.append(registry["memory"])

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(seen) == 8 and all(backend is seen[0] for backend in seen)


def test_unknown_backends_say_what_is_available() -> None:
    registry = BackendRegistry()
    with pytest.raises(KeyError, match=r"no storage backend 'tape'\. Available: memory, disk"):
        registry["tape"]
    fm = FileManager({"memory": MemoryBackend()})
    with pytest.raises(KeyError, match="no storage backend 'disk' in this FileManager"):
        fm.load("/a", "disk")


def test_file_manager_passes_on_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(OPTIONAL_BACKENDS, "tape", ("tape", "a tape drive"))
    fm = FileManager(BackendRegistry())
    hint = f"{install_command('platekit-storage', 'tape')} (a tape drive)"
    with pytest.raises(KeyError, match=re.escape(f"backend is not installed: {hint}")):
        fm.load("/a", "tape")


def test_natural_sort() -> None:
    names = ["A10", "A2", "a1", "B1", "A01_s10", "A01_s9", "r01c10f01", "r01c02f01"]
    assert natural_sorted(["scan10", "scan1", "scan", "scan_2"]) == [
        "scan",
        "scan1",
        "scan10",
        "scan_2",
    ]
    assert natural_sorted(names) == [
        "a1",  # a name before the longer names it begins, counting numbers as numbers
        "A01_s9",
        "A01_s10",
        "A2",
        "A10",
        "B1",
        "r01c02f01",
        "r01c10f01",
    ]


def test_file_manager_routes_each_call(tmp_path: Path) -> None:
    fm = FileManager(BackendRegistry())
    image = np.arange(16, dtype=np.uint16).reshape(4, 4)
    fm.save(image, "/plate/A01.tif", "memory")
    fm.save(image, tmp_path / "plate" / "A01.tif", "disk")
    assert fm.exists("/plate/A01.tif", "memory")
    assert fm.is_file(tmp_path / "plate" / "A01.tif", "disk")
    assert fm.list_files("/plate", "memory", extensions={".TIF"}) == ["/plate/A01.tif"]
    assert fm.list_dir(tmp_path / "plate", "disk") == ["A01.tif"]
    np.testing.assert_array_equal(fm.load(tmp_path / "plate" / "A01.tif", "disk"), image)
    fm.copy("/plate/A01.tif", "/plate/A02.tif", "memory")
    fm.move("/plate/A02.tif", "/plate/A03.tif", "memory")
    assert fm.load_batch(["/plate/A01.tif", "/plate/A03.tif"], "memory")[1] is image
    fm.delete("/plate", "memory", recursive=True)
    assert not fm.is_dir("/plate", "memory")


def test_transfer_between_backends(tmp_path: Path) -> None:
    fm = FileManager(BackendRegistry())
    for n in range(3):
        fm.save(np.full((4, 4), n, dtype=np.uint16), f"/run/w{n}.tif", "memory")
    written = fm.transfer("/run", "memory", tmp_path / "out", "disk")
    assert [os.path.basename(p) for p in written] == ["w0.tif", "w1.tif", "w2.tif"]
    np.testing.assert_array_equal(fm.load(tmp_path / "out" / "w2.tif", "disk"), np.full((4, 4), 2))
    with pytest.raises(FileExistsError):
        fm.transfer("/run", "memory", tmp_path / "out", "disk")
    fm.transfer("/run/w0.tif", "memory", tmp_path / "single.tif", "disk")
    assert fm.is_file(tmp_path / "single.tif", "disk")
    with pytest.raises(FileNotFoundError):
        fm.transfer("/nowhere", "memory", tmp_path / "x", "disk")


def test_transfer_keeps_the_tree_however_the_source_spells_paths(tmp_path: Path) -> None:
    fm = FileManager(BackendRegistry())
    fm.save(np.ones((2, 2), dtype=np.uint8), "run/A/w1.npy", "memory")  # relative path
    fm.save(np.zeros((2, 2), dtype=np.uint8), "run/w10.npy", "memory")
    fm.save(np.zeros((2, 2), dtype=np.uint8), "run/w9.npy", "memory")
    written = fm.transfer("run", "memory", tmp_path / "out", "disk")
    relative = [os.path.relpath(p, tmp_path / "out") for p in written]
    assert relative == [os.path.join("A", "w1.npy"), "w9.npy", "w10.npy"]
    back = fm.transfer(tmp_path / "out", "disk", "copy", "memory")
    assert back == ["copy/A/w1.npy", "copy/w9.npy", "copy/w10.npy"]
    assert fm.load("copy/A/w1.npy", "memory").sum() == 4


# -- a third party's backend, checked by the same contract --------------------------


class PrefixedBackend(StorageBackend):
    """A backend of someone else's: every path lives under a prefix of a memory store.

    It declares no ``_backend_type``, so it stays out of the shared registry:
    the contract suite needs only an instance.
    """

    def __init__(self, prefix: str = "/tenant") -> None:
        self._store = MemoryBackend()
        self._prefix = prefix

    def _in(self, path: Any) -> str:
        text: str = os.fspath(path)
        return self._prefix + "/" + text.lstrip("/")

    def _out(self, path: str) -> str:
        return path[len(self._prefix) :]

    def load(self, path: Any, **kwargs: Any) -> Any:
        try:
            return self._store.load(self._in(path))
        except FileNotFoundError:
            raise FileNotFoundError(2, f"not in the {self.name} backend", os.fspath(path)) from None

    def save(self, data: Any, path: Any, *, overwrite: bool = False, **kwargs: Any) -> None:
        self._store.save(data, self._in(path), overwrite=overwrite)

    def list_files(self, directory: Any, **options: Any) -> list[str]:
        return [self._out(p) for p in self._store.list_files(self._in(directory), **options)]

    def list_dir(self, path: Any) -> list[str]:
        return self._store.list_dir(self._in(path))

    def exists(self, path: Any) -> bool:
        return self._store.exists(self._in(path))

    def is_file(self, path: Any) -> bool:
        return self._store.is_file(self._in(path))

    def is_dir(self, path: Any) -> bool:
        return self._store.is_dir(self._in(path))

    def delete(self, path: Any, *, recursive: bool = False) -> None:
        self._store.delete(self._in(path), recursive=recursive)

    def ensure_directory(self, path: Any) -> str:
        return self._out(self._store.ensure_directory(self._in(path)))

    def copy(self, src: Any, dst: Any, *, overwrite: bool = False) -> None:
        self._store.copy(self._in(src), self._in(dst), overwrite=overwrite)

    def move(self, src: Any, dst: Any, *, overwrite: bool = False) -> None:
        self._store.move(self._in(src), self._in(dst), overwrite=overwrite)


class TestThirdPartyBackend(BackendContract):
    suffix = ".dat"

    @pytest.fixture
    def backend(self) -> PrefixedBackend:
        return PrefixedBackend()

    @pytest.fixture
    def root(self) -> str:
        return "/data"

    def sample(self, n: int) -> Any:
        return {"frame": n, "pixels": [n] * 4}


class FrozenMemory(ReadOnlyBackend):
    """A read-only view of a memory store, for the read-only contract."""

    def __init__(self) -> None:
        self._store = MemoryBackend()
        self._store.save(b"sealed", "/sealed.bin")

    def load(self, path: Any, **kwargs: Any) -> Any:
        return self._store.load(path)

    def is_file(self, path: Any) -> bool:
        return self._store.is_file(path)


class TestReadOnlyBackend(ReadOnlyContract):
    @pytest.fixture
    def backend(self) -> FrozenMemory:
        return FrozenMemory()

    @pytest.fixture
    def existing(self) -> str:
        return "/sealed.bin"


# -- GPU backends ------------------------------------------------------------------


GPU_BACKEND = """
import sys
print("GPU BACKEND IMPORTED", file=sys.stderr)
from platekit.storage import MemoryBackend

class ViewerBackend(MemoryBackend):
    _backend_type = "viewer_stream"
    _requires_gpu = True
"""


def test_no_gpu_leaves_a_gpu_backend_out_without_importing_it(
    tmp_path: Path, cache_root: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "pk_viewer_backend.py").write_text(GPU_BACKEND)
    dist = site / "pk_viewer-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-viewer\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[platekit.storage_backends]\nviewer_stream = pk_viewer_backend:ViewerBackend [gpu]\n"
    )
    code = textwrap.dedent(
        """
        import json, sys
        from platekit.storage import STORAGE_BACKENDS, BackendRegistry
        registry = BackendRegistry()
        names = list(registry)
        # Backends of installed distributions other than this test's own.
        others = [
            n for n in names
            if STORAGE_BACKENDS.origin(n).startswith("entry point") and n != "viewer_stream"
        ]
        names = [n for n in names if n not in others]
        try:
            registry["viewer_stream"]
            outcome = "available"
        except KeyError as exc:
            outcome = str(exc)
        print(json.dumps([names, "pk_viewer_backend" in sys.modules, outcome]))
        """
    )

    def run(no_gpu: bool) -> list[Any]:
        env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root), PYTHONPATH=str(site))
        env.pop("PLATEKIT_SUBPROCESS_NO_GPU", None)
        if no_gpu:
            env["PLATEKIT_SUBPROCESS_NO_GPU"] = "1"
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        names: list[Any] = json.loads(done.stdout)
        return names

    for _ in range(2):  # cold, then warm
        names, imported, outcome = run(no_gpu=False)
        assert "viewer_stream" in names and outcome == "available"
        names, imported, outcome = run(no_gpu=True)
        assert names == BUILTIN
        assert imported is False
        assert "left out because PLATEKIT_SUBPROCESS_NO_GPU=1" in outcome


# -- a third-party backend that fails to import ---------------------------------------


BROKEN_BACKEND = """
from pk_glow_missing_dependency import glow  # never installed

from platekit.storage import MemoryBackend

class GlowBackend(MemoryBackend):
    _backend_type = "glow"
"""

BROKEN_PROBE = """
import json, logging
from platekit.storage import BackendRegistry, FileManager

logging.disable(logging.WARNING)
outcomes = {}
for name, attempt in [
    ("registry", lambda: BackendRegistry()["glow"]),
    ("classes", lambda: BackendRegistry().classes["glow"]),
    ("file_manager", lambda: FileManager(BackendRegistry()).load("/a", "glow")),
    ("unknown", lambda: BackendRegistry()["tape"]),
]:
    try:
        attempt()
    except Exception as exc:
        cause = exc.__cause__
        outcomes[name] = {
            "raised": [t.__name__ for t in type(exc).__mro__],
            "message": str(exc),
            "cause": None if cause is None else f"{type(cause).__name__}: {cause}",
        }
print(json.dumps(outcomes))
"""


def test_a_broken_backend_says_why_through_the_registry_and_the_file_manager(
    tmp_path: Path, cache_root: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "pk_glow_backend.py").write_text(BROKEN_BACKEND)
    dist = site / "pk_glow-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-glow\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[platekit.storage_backends]\nglow = pk_glow_backend:GlowBackend\n"
    )
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root), PYTHONPATH=str(site))
    missing = "ModuleNotFoundError: No module named 'pk_glow_missing_dependency'"
    for _ in range(2):  # cold, then warm
        done = subprocess.run(
            [sys.executable, "-c", BROKEN_PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outcomes = json.loads(done.stdout)
        for way in ("registry", "classes", "file_manager"):
            broken = outcomes[way]
            # The registry's error, with StorageError mixed in.
            assert {"PluginImportError", "ImportError", "StorageError"} <= set(broken["raised"])
            assert broken["cause"] == missing
            assert "storage backend 'glow' is unavailable" in broken["message"]
            assert "entry point 'glow' of pk-glow failed to import" in broken["message"]
            assert missing in broken["message"]
            assert "fix or reinstall that plugin" in broken["message"]
        unknown = outcomes["unknown"]
        assert {"KeyError", "StorageError"} <= set(unknown["raised"])
        assert "no storage backend 'tape'" in unknown["message"]
        assert "Failed to import: entry point 'glow' of pk-glow" in unknown["message"]


def test_backend_authors_get_the_contract_helpers() -> None:
    from platekit.storage import name_filter, not_found, suffixes

    assert suffixes("TIF") == (".tif",)
    assert suffixes({".ome.tif"}) == (".ome.tif",)
    assert suffixes(None) is None
    for wrong in (".", "", "..", 7):
        with pytest.raises(ValueError, match="extensions must be file suffixes"):
            suffixes([wrong])  # type: ignore[list-item]
    keep = name_filter("A01_*", {".tif"})
    assert keep("A01_s1.TIF") and not keep("B01_s1.tif") and not keep("A01_s1.png")
    assert not name_filter(None, ".tif")(".tif")
    with pytest.raises(ValueError, match="suffixes"):
        name_filter(None, {"."})
    error = not_found(MemoryBackend(), Path("/plate/A01.tif"))
    assert isinstance(error, FileNotFoundError)
    assert error.errno == 2 and error.filename == "/plate/A01.tif"
    assert "memory backend" in str(error)


def test_the_listing_contract_is_the_helpers_contract(tmp_path: Path) -> None:
    # Every built-in backend keeps list_files's documented ValueError.
    for backend, root in ((MemoryBackend(), "/data"), (BackendRegistry()["disk"], str(tmp_path))):
        backend.save(b"x", root + "/a.bin")
        with pytest.raises(ValueError, match="extensions must be file suffixes"):
            backend.list_files(root, extensions={"."})


def test_close_closes_each_backend_made_and_runs_the_callbacks_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[str] = []
    monkeypatch.setattr(MemoryBackend, "close", lambda self: events.append(f"closed {id(self)}"))
    registry = BackendRegistry()
    first = registry["memory"]

    def callback() -> None:
        events.append("callback")

    registry.on_close(callback)
    registry.on_close(callback)  # given twice, called once
    registry.close()
    assert events == [f"closed {id(first)}", "callback"]
    assert registry["memory"] is not first  # a fresh backend after closing
    with registry:
        pass
    assert events[-1] == "callback" and len(events) == 4


def test_close_closes_the_rest_when_one_fails_and_raises_the_failure() -> None:
    registry = BackendRegistry()
    registry["memory"]
    registry.on_close(lambda: 1 / 0)
    calls: list[int] = []
    registry.on_close(lambda: calls.append(1))
    with pytest.raises(ZeroDivisionError):
        registry.close()
    assert calls == [1]
