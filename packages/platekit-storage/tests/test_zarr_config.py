"""ZarrConfig: codec, level, chunking and shards as one object, for the backend or one call."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

from platekit.storage import ZarrConfig

HAS_ZARR = importlib.util.find_spec("zarr") is not None and sys.version_info >= (3, 11)
needs_zarr = pytest.mark.skipif(not HAS_ZARR, reason="needs zarr-python 3 (Python 3.11+)")

STACK = (np.arange(2 * 3 * 32 * 40, dtype=np.uint16).reshape(2, 3, 32, 40) % 977).astype(np.uint16)


def metadata(array: Path) -> dict[str, Any]:
    """The array's metadata document, whichever format it is in."""
    for name in ("zarr.json", ".zarray"):
        if (array / name).exists():
            document: dict[str, Any] = json.loads((array / name).read_text(encoding="utf-8"))
            return document
    raise AssertionError(f"no array at {array}")


def codec_names(array: Path) -> list[str]:
    document = metadata(array)
    if document["zarr_format"] == 2:
        compressor = document["compressor"]
        return [] if compressor is None else [compressor["id"]]
    return [codec["name"] for codec in document["codecs"]][1:]  # after the bytes codec


# -- the object itself ----------------------------------------------------------------------


def test_the_default_is_blosc_lz4_level_5_shuffled_per_plane_without_shards() -> None:
    config = ZarrConfig()
    assert (
        config.codec,
        config.blosc_compressor,
        config.effective_level,
        config.shuffle,
        config.chunking,
        config.shards,
    ) == ("blosc", "lz4", 5, True, "plane", None)
    assert config.chunk_shape((2, 3, 32, 40)) == (1, 1, 32, 40)
    assert ZarrConfig(chunking="well").chunk_shape((2, 3, 32, 40)) == (2, 3, 32, 40)
    assert ZarrConfig(shards="well").shard_shape((2, 3, 32, 40)) == (2, 3, 32, 40)
    assert ZarrConfig(codec="zlib").effective_level == 6
    assert ZarrConfig(chunking=[1, 2, 16, 16]).chunking == (1, 2, 16, 16)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"codec": "lzma"}, "codec must be one of 'zstd', 'zlib', 'gzip', 'blosc', 'lz4', 'none'"),
        ({"codec": "lz4", "level": 0}, "level for lz4 must be a whole number from 1 to 65537"),
        ({"codec": "blosc", "blosc_compressor": "lzma"}, "blosc_compressor must be one of"),
        ({"codec": "blosc", "shuffle": "yes"}, "shuffle must be True, False or 'bit'"),
        ({"codec": "zlib", "level": 12}, "level for zlib must be a whole number from 0 to 9"),
        ({"codec": "zstd", "level": 2.5}, "level for zstd must be a whole number"),
        ({"codec": "none", "level": 1}, "level must be None for codec='none'"),
        ({"chunking": "site"}, "chunking must be 'plane', 'well' or a shape"),
        ({"chunking": (1, 0, 4)}, "sizes of at least 1"),
        ({"shards": "plate"}, "shards must be None, 'well' or a shape"),
    ],
)
def test_a_wrong_field_is_refused_naming_it(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ZarrConfig(**fields)


# -- in the backend ---------------------------------------------------------------------------


@needs_zarr
@pytest.mark.parametrize("zarr_format", [3, 2])
def test_the_default_config_writes_exactly_what_no_config_wrote(
    tmp_path: Path, zarr_format: Any
) -> None:
    from platekit.storage.backends.zarr import ZarrBackend

    plain = ZarrBackend(zarr_format=zarr_format)
    configured = ZarrBackend(zarr_format=zarr_format, zarr_config=ZarrConfig())
    plain.save(STACK, tmp_path / "a.zarr" / "x", compressors="auto")
    configured.save(STACK, tmp_path / "b.zarr" / "x")
    with configured.array_writer(tmp_path / "c.zarr" / "x", STACK.shape, STACK.dtype) as out:
        out[...] = STACK
    explicit = ZarrBackend(
        zarr_format=zarr_format,
        zarr_config=ZarrConfig(codec="blosc", level=5, blosc_compressor="lz4", shuffle=True),
    )
    explicit.save(STACK, tmp_path / "d.zarr" / "x")
    files = [
        sorted(
            (p.relative_to(root).as_posix(), p.read_bytes())
            for p in (root / "x").rglob("*")
            if p.is_file()
        )
        for root in (tmp_path / f"{n}.zarr" for n in "abc")
    ]
    assert files[0] == files[1] == files[2]  # metadata and chunks, byte for byte
    assert metadata(tmp_path / "d.zarr" / "x") == metadata(tmp_path / "a.zarr" / "x")


@needs_zarr
@pytest.mark.parametrize(
    ("codec", "v3", "v2"),
    [
        ("zstd", ["zstd"], ["zstd"]),
        ("zlib", ["numcodecs.zlib"], ["zlib"]),
        ("gzip", ["gzip"], ["gzip"]),
        ("blosc", ["blosc"], ["blosc"]),
        ("lz4", ["numcodecs.lz4"], ["lz4"]),
        ("none", [], []),
    ],
)
def test_each_codec_is_written_and_reads_back(
    tmp_path: Path, codec: Any, v3: list[str], v2: list[str]
) -> None:
    import zarr

    from platekit.storage.backends.zarr import ZarrBackend

    config = ZarrConfig(codec=codec, level=None if codec == "none" else 3)
    formats: list[tuple[Literal[2, 3], list[str]]] = [(3, v3), (2, v2)]
    for zarr_format, names in formats:
        backend = ZarrBackend(zarr_format=zarr_format, zarr_config=config)
        path = tmp_path / f"v{zarr_format}.zarr" / codec
        backend.save(STACK, path)
        assert codec_names(path) == names
        np.testing.assert_array_equal(backend.load(path), STACK)
        with warnings.catch_warnings():  # zarr-python's own word on numcodecs codecs in v3
            warnings.simplefilter("ignore")
            np.testing.assert_array_equal(zarr.open_array(str(path), mode="r")[...], STACK)


@needs_zarr
def test_levels_reach_the_codec(tmp_path: Path) -> None:
    from platekit.storage.backends.zarr import ZarrBackend

    ZarrBackend(zarr_config=ZarrConfig(codec="zlib", level=3)).save(STACK, tmp_path / "a.zarr/x")
    codecs = metadata(tmp_path / "a.zarr" / "x")["codecs"]
    assert codecs[-1]["configuration"]["level"] == 3
    ZarrBackend(2, zarr_config=ZarrConfig(codec="zstd", level=7)).save(STACK, tmp_path / "b.zarr/x")
    assert metadata(tmp_path / "b.zarr" / "x")["compressor"]["level"] == 7


@needs_zarr
def test_chunking_per_well_and_shards(tmp_path: Path) -> None:
    from platekit.storage.backends.zarr import ZarrBackend

    well = ZarrBackend(zarr_config=ZarrConfig(chunking="well"))
    well.save(STACK, tmp_path / "a.zarr" / "x")
    grid = metadata(tmp_path / "a.zarr" / "x")["chunk_grid"]["configuration"]
    assert grid["chunk_shape"] == list(STACK.shape)
    sharded = ZarrBackend(zarr_config=ZarrConfig(shards="well"))
    sharded.save(STACK, tmp_path / "b.zarr" / "x")
    document = metadata(tmp_path / "b.zarr" / "x")
    assert document["chunk_grid"]["configuration"]["chunk_shape"] == list(STACK.shape)  # shard
    inner = document["codecs"][0]
    assert inner["name"] == "sharding_indexed"
    assert inner["configuration"]["chunk_shape"] == [1, 1, 32, 40]  # planes inside
    chunk_files = [p for p in (tmp_path / "b.zarr" / "x").rglob("*") if p.name != "zarr.json"]
    assert len([p for p in chunk_files if p.is_file()]) == 1  # one file for the whole array
    np.testing.assert_array_equal(sharded.load(tmp_path / "b.zarr" / "x"), STACK)


@needs_zarr
def test_a_call_config_replaces_the_backends_and_explicit_options_win(tmp_path: Path) -> None:
    from platekit.storage.backends.zarr import ZarrBackend

    backend = ZarrBackend(zarr_config=ZarrConfig(codec="gzip"))
    backend.save(STACK, tmp_path / "a.zarr" / "backend")
    backend.save(STACK, tmp_path / "a.zarr" / "call", zarr_config=ZarrConfig(codec="zstd"))
    backend.save(STACK, tmp_path / "a.zarr" / "none", compressors=None)
    backend.save(STACK, tmp_path / "a.zarr" / "chunks", chunks=(1, 3, 16, 20))
    with backend.array_writer(
        tmp_path / "a.zarr" / "writer", STACK.shape, STACK.dtype, zarr_config=ZarrConfig()
    ) as out:
        out[...] = STACK
    assert codec_names(tmp_path / "a.zarr" / "backend") == ["gzip"]
    assert codec_names(tmp_path / "a.zarr" / "call") == ["zstd"]
    assert codec_names(tmp_path / "a.zarr" / "none") == []
    assert codec_names(tmp_path / "a.zarr" / "chunks") == ["gzip"]
    grid = metadata(tmp_path / "a.zarr" / "chunks")["chunk_grid"]["configuration"]
    assert grid["chunk_shape"] == [1, 3, 16, 20]
    assert codec_names(tmp_path / "a.zarr" / "writer") == ["blosc"]
    assert backend.zarr_config == ZarrConfig(codec="gzip")
    assert "codec='gzip'" in repr(backend) and "ZarrConfig" not in repr(ZarrBackend())


@needs_zarr
def test_what_a_config_cannot_do_is_refused_before_writing(tmp_path: Path) -> None:
    from platekit.storage.backends.zarr import ZarrBackend

    with pytest.raises(TypeError, match="zarr_format=2 backend cannot take a ZarrConfig with"):
        ZarrBackend(zarr_format=2, zarr_config=ZarrConfig(shards="well"))
    with pytest.raises(TypeError, match=r"zarr_config must be a platekit\.storage\.ZarrConfig"):
        ZarrBackend(zarr_config={"codec": "zlib"})  # type: ignore[arg-type]
    v2 = ZarrBackend(zarr_format=2)
    with pytest.raises(TypeError, match="Zarr v2 arrays have no shards"):
        v2.save(STACK, tmp_path / "a.zarr" / "x", zarr_config=ZarrConfig(shards="well"))
    with pytest.raises(TypeError, match="zarr_config must be"):
        v2.save(STACK, tmp_path / "a.zarr" / "x", zarr_config="zlib")
    assert not (tmp_path / "a.zarr" / "x").exists()


@needs_zarr
@pytest.mark.parametrize("zarr_format", [3, 2])
def test_blosc_takes_its_inner_compressor_and_shuffle(tmp_path: Path, zarr_format: Any) -> None:
    from platekit.storage.backends.zarr import ZarrBackend

    config = ZarrConfig(codec="blosc", blosc_compressor="zstd", shuffle=False, level=4)
    backend = ZarrBackend(zarr_format=zarr_format, zarr_config=config)
    path = tmp_path / "a.zarr" / "x"
    backend.save(STACK, path)
    np.testing.assert_array_equal(backend.load(path), STACK)
    written = json.dumps(metadata(path))
    assert '"zstd"' in written and '"lz4"' not in written
    assert ('"noshuffle"' if zarr_format == 3 else '"shuffle": 0') in written


@needs_zarr
@pytest.mark.parametrize("zarr_format", [3, 2])
def test_blosc_shuffles_bits_when_told(tmp_path: Path, zarr_format: Any) -> None:
    from platekit.storage.backends.zarr import ZarrBackend

    backend = ZarrBackend(zarr_format=zarr_format, zarr_config=ZarrConfig(shuffle="bit"))
    path = tmp_path / "a.zarr" / "x"
    backend.save(STACK, path)
    np.testing.assert_array_equal(backend.load(path), STACK)
    document = metadata(path)
    if zarr_format == 3:
        (codec,) = [c for c in document["codecs"] if c["name"] == "blosc"]
        assert codec["configuration"]["shuffle"] == "bitshuffle"
    else:
        assert document["compressor"]["shuffle"] == 2  # numcodecs' BITSHUFFLE
