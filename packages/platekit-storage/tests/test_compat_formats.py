"""platekit.storage.compat's format names, format registry and Zarr compressor factories."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from platekit.storage.compat import config, disk, formats

HAS_NUMCODECS = importlib.util.find_spec("numcodecs") is not None
HAS_ZARR = importlib.util.find_spec("zarr") is not None and sys.version_info >= (3, 11)


def test_format_members_answer_with_platekits_suffixes() -> None:
    assert formats.FileFormat.PNG.extensions == (".png",)
    assert formats.FileFormat.TIFF.extensions == (".tif", ".tiff")
    assert formats.FileFormat.RASTER_IMAGE.extensions == (".bmp", ".gif", ".jpeg", ".jpg")
    assert formats.FileFormat.PNG.value == "png"
    assert formats.FileFormat.RASTER_IMAGE.formats == ("bmp", "gif", "jpeg")


@pytest.mark.parametrize(
    ("given", "member"),
    [
        ("png", "PNG"),
        (".PNG", "PNG"),
        ("tif", "TIFF"),
        (".Tiff", "TIFF"),
        ("jpg", "RASTER_IMAGE"),
        (".npy", "NUMPY"),
        ("mat", "MATLAB"),
        ("txt", "TEXT"),
    ],
)
def test_format_from_extension(given: str, member: str) -> None:
    assert formats.get_format_from_extension(given) is formats.FileFormat[member]


def test_unknown_extension_is_named() -> None:
    with pytest.raises(ValueError, match=r"Unknown file extension: \.pt;.*\.png"):
        formats.get_format_from_extension("pt")


def test_format_registry_refuses_a_second_codec_for_a_suffix() -> None:
    registry = disk.FileFormatRegistry()

    def writer(path: Path, data: object) -> None:
        path.write_text(str(data))

    def reader(path: Path) -> str:
        return path.read_text()

    registry.register(".Foo", writer, reader)
    registry.register(".foo", writer, reader)  # the same pair again is no conflict
    assert registry.is_registered(".FOO") and not registry.is_registered(".bar")
    assert registry.get_writer(".foo") is writer and registry.get_reader(".foo") is reader
    assert registry.resolve_extension("/a/b.x.foo") == ".foo"
    assert registry.resolve_extension("/a/b.png") is None
    with pytest.raises(ValueError, match=r"'\.foo' already has a writer and a reader"):
        registry.register(".foo", lambda path, data: None, reader)
    with pytest.raises(KeyError):
        registry.get_writer(".bar")


def test_disk_saves_and_loads_a_registered_suffix_with_its_codec(tmp_path: Path) -> None:
    backend = disk.DiskBackend()
    written: list[tuple[Path, object, dict[str, object]]] = []

    def writer(path: Path, data: object, **kwargs: object) -> None:
        written.append((path, data, kwargs))
        path.write_text(repr(data))

    target = tmp_path / "deep" / "objects.witness.zip"
    assert not backend.accepts_payload({"id": 1}, target)  # bytes only, until registered
    backend.format_registry.register(".witness.zip", writer, lambda path: path.read_text())
    assert backend.accepts_payload({"id": 1}, target)
    backend.save({"id": 1}, target, source="test")
    assert written == [(target, {"id": 1}, {"source": "test"})]
    assert backend.load(target) == "{'id': 1}"
    with pytest.raises(FileExistsError):
        backend.save({"id": 2}, target)
    assert backend.load(target) == "{'id': 1}"
    backend.save({"id": 2}, target, overwrite=True)
    assert backend.load(target) == "{'id': 2}"
    # Other backends keep platekit's formats: the registry is this backend's own.
    other = disk.DiskBackend()
    assert other.load(target) == b"{'id': 2}"


def test_each_compressor_has_one_factory() -> None:
    assert set(config.ZarrCompressorFactory.__registry__) == set(config.ZarrCompressor)
    factory = config.ZarrCompressorFactory.__registry__[config.ZarrCompressor.NONE]
    assert factory.compressor is config.ZarrCompressor.NONE
    assert factory().create(3) is None
    with pytest.raises(TypeError, match="subclass"):
        config.ZarrCompressorFactory().create(3)


@pytest.mark.skipif(not HAS_NUMCODECS, reason="needs numcodecs (the zarr extra)")
def test_factories_make_platekits_codecs() -> None:
    import numcodecs

    made = {
        compressor: config.ZarrCompressorFactory.__registry__[compressor]().create(4)
        for compressor in config.ZarrCompressor
    }
    assert made[config.ZarrCompressor.ZLIB] == numcodecs.Zlib(level=4)
    assert made[config.ZarrCompressor.ZSTD] == numcodecs.Zstd(level=4)
    assert made[config.ZarrCompressor.LZ4] == numcodecs.LZ4(acceleration=4)
    blosc = made[config.ZarrCompressor.BLOSC]
    assert (blosc.cname, blosc.clevel, blosc.shuffle) == ("lz4", 4, numcodecs.Blosc.SHUFFLE)
    unshuffled = config.BloscZarrCompressorFactory().create(4, shuffle=False)
    assert unshuffled.shuffle == numcodecs.Blosc.NOSHUFFLE
    with pytest.raises(ValueError, match="level for zlib"):
        config.ZlibZarrCompressorFactory().create(12)


@pytest.mark.skipif(not HAS_ZARR, reason="needs zarr-python 3 (Python 3.11+)")
def test_zarr_backend_names_its_compressor(tmp_path: Path) -> None:
    import numcodecs

    from platekit.storage.compat import zarr

    backend = zarr.ZarrStorageBackend(config.ZarrConfig(compressor=config.ZarrCompressor.ZSTD))
    assert backend.compressor == numcodecs.Zstd(level=3)
    assert (
        zarr.ZarrStorageBackend(config.ZarrConfig(compressor=config.ZarrCompressor.NONE)).compressor
        is None
    )
    assert zarr.ZarrStorageBackend._backend_type == "zarr"
    pixels = np.arange(24, dtype=np.uint16).reshape(2, 3, 4)
    backend.save(pixels, tmp_path / "a.zarr" / "x")
    np.testing.assert_array_equal(backend.load(tmp_path / "a.zarr" / "x"), pixels)


def test_zarr_config_documents_each_field() -> None:
    import dataclasses

    doc = config.ZarrConfig.__doc__ or ""
    assert all(f"{field.name}:" in doc for field in dataclasses.fields(config.ZarrConfig))


def test_compat_backends_carry_polystores_names_but_platekit_registers_its_own() -> None:
    from platekit.storage import BackendRegistry
    from platekit.storage.backends.disk import DiskBackend as PlatekitDisk
    from platekit.storage.backends.memory import MemoryBackend as PlatekitMemory
    from platekit.storage.compat import memory

    assert (disk.DiskBackend._backend_type, memory.MemoryBackend._backend_type) == (
        "disk",
        "memory",
    )
    classes = BackendRegistry().classes
    assert classes["disk"] is PlatekitDisk and classes["memory"] is PlatekitMemory
