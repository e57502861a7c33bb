"""platekit.storage.compat: polystore 0.6.3's names and call forms over platekit's backends."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import tifffile

from platekit.storage import StorageError, compat
from platekit.storage.compat import atomic, backend_registry, config

HAS_ZARR = importlib.util.find_spec("zarr") is not None and sys.version_info >= (3, 11)


def test_names_load_on_first_use_and_are_platekit_backends() -> None:
    from platekit.storage import DiskBackend, MemoryBackend

    assert compat.__version__ == "0.6.3"
    assert set(compat.__all__) <= set(dir(compat))
    assert compat.DiskStorageBackend is compat.DiskBackend
    assert isinstance(compat.DiskBackend(), DiskBackend)
    assert isinstance(compat.MemoryBackend(), MemoryBackend)
    assert compat.MemoryBackend().name == "memory"  # its errors name the backend as before
    with pytest.raises(AttributeError, match="nothing"):
        compat.nothing  # noqa: B018


def test_polystore_calls_on_the_memory_backend() -> None:
    shared: dict[str, object] = {}
    memory = compat.MemoryBackend(shared_dict=shared)
    assert memory._memory_store is shared
    assert memory.ensure_directory("/plate") == PurePosixPath("/plate")
    memory.save(np.ones((2, 2)), "/plate/a.npy")
    memory.create_symlink("/plate/a.npy", "/plate/link.npy")
    assert memory.list_files("/plate", None, {".npy"}) == [
        Path("/plate/a.npy"),
        Path("/plate/link.npy"),
    ]
    assert memory.stat("/plate/link.npy") == {
        "path": "/plate/link.npy",
        "type": "symlink",
        "target": "/plate/a.npy",
        "exists": True,
    }
    assert memory.stat("/plate")["type"] == "directory"
    assert memory.stat("/nothing") == {"path": "/nothing", "type": "missing", "exists": False}
    assert memory.accepts_payload([], "/plate/empty.csv")
    memory.clear_files_only()
    assert shared == {} and memory.is_dir("/plate")
    memory.save("x", "/plate/b.txt")
    memory.delete_all("/plate")
    assert not memory.exists("/plate")


def test_file_manager_reads_verified_source_bytes_and_finds_files(tmp_path: Path) -> None:
    data = b'{"value": 1}\r\n'
    tmp_path = tmp_path / "data"
    (tmp_path / "deep").mkdir(parents=True)
    (tmp_path / "deep" / "receipt.json").write_bytes(data)
    fm = compat.FileManager({"disk": compat.DiskBackend()})
    digest = hashlib.sha256(data).hexdigest()
    got = fm.read_verified_source_bytes(
        "deep/receipt.json", "disk", base_path=tmp_path, expected_sha256=digest
    )
    assert got == data
    with pytest.raises(ValueError, match="SHA256 does not match"):
        fm.read_verified_source_bytes(
            "deep/receipt.json", "disk", base_path=tmp_path, expected_sha256="0" * 64
        )
    found = fm.find_file_recursive(tmp_path, "receipt.json", "disk")
    assert found == str(tmp_path / "deep" / "receipt.json")
    assert fm.find_file_recursive(tmp_path, "absent.json", "disk") is None
    fm.save(np.zeros((4, 4), np.uint16), tmp_path / "img.tif", "disk")
    assert fm.list_image_files(tmp_path, "disk", None, None, True) == [
        str(tmp_path / "deep" / "receipt.json"),
        str(tmp_path / "img.tif"),
    ]
    assert fm.list_image_files(tmp_path, "disk", recursive=True) == [str(tmp_path / "img.tif")]


def test_file_manager_over_memory_answers_as_polystores(tmp_path: Path) -> None:
    given = {"memory": compat.MemoryBackend(), "disk": compat.DiskBackend()}
    fm = compat.FileManager(given)
    fm.save("x", "/plate/img10.txt", "memory")
    fm.save("x", "/plate/sub/img2.txt", "memory")
    assert fm.list_image_files("/plate", "memory", extensions={".txt"}, recursive=True) == [
        "/plate/img10.txt",
        "/plate/sub/img2.txt",
    ]
    assert fm.find_file_recursive("/plate", "img2.txt", "memory") == Path("/plate/sub/img2.txt")
    assert fm.physical_source_path("/plate/img10.txt", "memory", base_path="/") == (
        "/plate/img10.txt"
    )
    assert fm.resolve_listed_address("entry", "memory", directory="/plate") == "entry"
    assert fm.contextual_save_kwargs("disk", images_dir=str(tmp_path)) == {}
    extra = compat.MemoryBackend()
    fm.register_backend("scratch", extra)
    assert fm.registry["scratch"] is extra and fm.registry["disk"] is given["disk"]
    assert "scratch" not in given


def test_unknown_backend_is_polystores_error_and_a_key_error() -> None:
    fm = compat.FileManager({"memory": compat.MemoryBackend()})
    for call in (lambda: fm.load("/a", "nope"), lambda: fm._get_backend("nope")):
        with pytest.raises(compat.StorageResolutionError, match="no storage backend 'nope'"):
            call()
        with pytest.raises(KeyError):
            call()


def test_opaque_source_is_refused_with_polystores_error(tmp_path: Path) -> None:
    class Opaque(compat.DiskBackend):
        def physical_source_path(self, backend_address: object, *, base_path: object) -> None:
            return None

    with pytest.raises(compat.StorageResolutionError, match="Opaque source") as caught:
        Opaque().read_verified_source_bytes("x", base_path=tmp_path, expected_sha256="0" * 64)
    assert isinstance(caught.value, (ValueError, StorageError))


def test_lock_of_a_lock_file_times_out_as_polystore_says(tmp_path: Path) -> None:
    lock = tmp_path / "resource.lock"
    with (
        atomic.file_lock(lock),
        pytest.raises(atomic.FileLockTimeoutError),
        atomic.file_lock(lock, timeout=0),
    ):
        pytest.fail("a held lock must not be entered")
    assert lock.is_file() and not (tmp_path / "resource.lock.lock").exists()
    path = tmp_path / "m.json"
    atomic.atomic_write_json(path, {"a": 1})
    assert path.read_text() == '{"a": 1}'
    atomic.atomic_update_json(path, lambda doc: {**doc, "b": 2})
    assert atomic.LockConfig(LOCK_SUFFIX=".guard").lock_path(path) == tmp_path / "m.json.guard"
    with pytest.raises(atomic.FileLockError, match="Atomic JSON write failed"):
        atomic.atomic_write_json(path, {"x": object()})
    with pytest.raises(atomic.FileLockError, match="Update function failed"):
        atomic.atomic_update_json(path, lambda doc: 1 / 0)
    assert path.read_text().startswith("{")


def test_tiff_config_is_checked_and_reaches_the_tiff(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="disagrees"):
        config.TiffConfig(
            photometric=config.TiffPhotometric.RGB,
            axes="SYX",
            planarconfig=config.TiffPlanarConfig.CONTIG,
        )
    with pytest.raises(ValueError, match="sample axis"):
        config.TiffConfig(photometric=config.TiffPhotometric.RGB, axes="SZYX")
    declared = config.TiffConfig(
        compression=config.TiffCompression.DEFLATE,
        photometric=config.TiffPhotometric.MINISBLACK,
        axes="ZYX",
    )
    disk = compat.DiskBackend()
    disk.save(np.zeros((3, 8, 8), np.uint16), tmp_path / "v.tif", tiff_config=declared)
    with tifffile.TiffFile(tmp_path / "v.tif") as image:
        assert image.series[0].axes == "ZYX" and image.pages[0].compression.value != 1
    assert config.tiff_write_batches(("a.csv", "b.tif", "c.TIFF", "d.npy"), declared) == (
        ((0,), None),
        ((1, 2), declared),
        ((3,), None),
    )


def test_shared_instances_and_cleanup_callbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_registry, "_backend_instances", {})
    monkeypatch.setattr(backend_registry, "_cleanup_callbacks", [])
    memory = backend_registry.get_backend_instance("MEMORY")
    assert isinstance(memory, compat.MemoryBackend)
    assert backend_registry.get_backend_instance("memory") is memory
    events: list[str] = []
    backend_registry.register_cleanup_callback(lambda: events.append("one"))
    backend_registry.cleanup_backend_connections()
    assert events == []
    backend_registry.cleanup_all_backends()
    assert events == ["one"] and backend_registry.get_backend_instance("memory") is not memory
    with pytest.raises(KeyError, match="not registered"):
        backend_registry.get_backend_instance("nope")


@pytest.mark.skipif(not HAS_ZARR, reason="needs zarr-python 3 (Python 3.11+)")
def test_polystores_zarr_config_becomes_platekits(tmp_path: Path) -> None:
    from platekit.storage import ZarrConfig

    settings = config.ZarrConfig(compressor=config.ZarrCompressor.LZ4, compression_level=2)
    assert settings.platekit() == ZarrConfig(codec="lz4", level=2, chunking="well")
    backend = compat.ZarrStorageBackend(settings)
    assert backend.zarr_config == settings.platekit()
    backend.save(np.ones((2, 3, 3), np.uint8), tmp_path / "a.zarr" / "x")
    np.testing.assert_array_equal(backend.load(tmp_path / "a.zarr" / "x"), np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match="level for zlib"):
        config.ZarrConfig(compression_level=12)
