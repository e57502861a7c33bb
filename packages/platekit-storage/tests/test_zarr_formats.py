"""The zarr backend's two formats: what a Zarr v2 backend writes, that either backend
reads both, and that one hierarchy never mixes them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

zarr = pytest.importorskip("zarr", minversion="3")

from platekit.storage import BackendRegistry  # noqa: E402
from platekit.storage.backends.zarr import ZarrBackend  # noqa: E402

V3, V2 = ZarrBackend(), ZarrBackend(zarr_format=2)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "plate.zarr"


def image(*shape: int, value: int = 0) -> np.ndarray[Any, Any]:
    return (np.arange(int(np.prod(shape))).reshape(shape) + value).astype(np.uint16)


def document(path: Path) -> Any:
    return json.loads(path.read_text())


# -- choosing the format -----------------------------------------------------------------


def test_the_registry_backend_writes_zarr_v3(store: Path) -> None:
    backend = BackendRegistry()["zarr"]
    assert isinstance(backend, ZarrBackend) and backend.zarr_format == 3
    assert ZarrBackend().zarr_format == 3
    backend.save(image(4, 4), store / "0")
    assert document(store / "0" / "zarr.json")["zarr_format"] == 3
    assert "zarr_format=2" in repr(V2)


@pytest.mark.parametrize("value", [1, 4, "2", 2.0, True, None])
def test_only_formats_2_and_3_are_accepted(value: Any) -> None:
    with pytest.raises(ValueError, match=r"zarr_format must be 3 .* or 2") as caught:
        ZarrBackend(zarr_format=value)
    assert repr(value) in str(caught.value)


# -- what a v2 backend writes ----------------------------------------------------------------


def test_a_v2_backend_writes_zarr_v2_with_slash_separated_chunk_keys(store: Path) -> None:
    data = image(2, 3, 8, 10, value=1)
    V2.save(data, store / "A" / "1" / "0" / "0", attributes={"level": 0})

    for group in (store, store / "A", store / "A" / "1", store / "A" / "1" / "0"):
        assert document(group / ".zgroup") == {"zarr_format": 2}
        assert not (group / "zarr.json").exists()
    path = store / "A" / "1" / "0" / "0"
    metadata = document(path / ".zarray")
    assert metadata["zarr_format"] == 2
    assert metadata["dimension_separator"] == "/"
    assert metadata["chunks"] == [1, 1, 8, 10]
    assert metadata["fill_value"] == 0
    assert (path / "1" / "2" / "0" / "0").is_file()  # the chunk of plane (1, 2)
    assert document(path / ".zattrs") == {"level": 0}

    array = zarr.open_array(str(path), mode="r", zarr_format=2)
    np.testing.assert_array_equal(array[...], data)
    assert array.attrs.asdict() == {"level": 0}
    group = zarr.open_group(str(store), mode="r", zarr_format=2)
    assert list(group.group_keys()) == ["A"]
    np.testing.assert_array_equal(V2.load(path), data)
    np.testing.assert_array_equal(V3.load(path), data)


def test_both_formats_have_the_same_chunk_and_codec_defaults(tmp_path: Path) -> None:
    store = tmp_path
    data = image(3, 16, 20)
    V3.save(data, store / "three.zarr" / "img")
    V2.save(data, store / "two.zarr" / "img")
    with V3.array_writer(store / "three.zarr" / "written", data.shape, data.dtype) as out:
        out[...] = data
    with V2.array_writer(store / "two.zarr" / "written", data.shape, data.dtype) as out:
        out[...] = data

    for name in ("img", "written"):
        three = document(store / "three.zarr" / name / "zarr.json")
        two = document(store / "two.zarr" / name / ".zarray")
        assert three["chunk_grid"]["configuration"]["chunk_shape"] == [1, 16, 20]
        assert two["chunks"] == [1, 16, 20]
        (codec,) = [c for c in three["codecs"] if c["name"] != "bytes"]
        assert codec["name"] == two["compressor"]["id"] == "blosc"
        assert codec["configuration"]["cname"] == two["compressor"]["cname"] == "lz4"
        assert codec["configuration"]["clevel"] == two["compressor"]["clevel"] == 5
        assert codec["configuration"]["shuffle"] == "shuffle"
        assert two["compressor"]["shuffle"] == 1  # numcodecs' byte shuffle


def test_a_v2_backend_refuses_dimension_names(store: Path) -> None:
    refused = "Zarr v2 arrays have no dimension_names"
    with pytest.raises(TypeError, match=refused):
        V2.save(image(4, 4), store / "named", dimension_names=["y", "x"])
    with (
        pytest.raises(TypeError, match=refused),
        V2.array_writer(store / "named", (4, 4), "uint16", dimension_names=["y", "x"]),
    ):
        pytest.fail("the block must not start")
    assert not V2.exists(store / "named")
    V2.save(image(4, 4), store / "plain", dimension_names=None)
    assert V2.is_file(store / "plain")


def test_v2_compressors_are_numcodecs_codecs(store: Path) -> None:
    from numcodecs import Blosc  # type: ignore[import-untyped]

    V2.save(image(8, 8), store / "blosc", compressors=Blosc(cname="lz4"))
    V2.save(image(8, 8), store / "raw", compressors=None)
    assert document(store / "blosc" / ".zarray")["compressor"]["cname"] == "lz4"
    assert document(store / "raw" / ".zarray")["compressor"] is None
    np.testing.assert_array_equal(V3.load(store / "blosc"), image(8, 8))


# -- reading either format -----------------------------------------------------------------


@pytest.mark.parametrize("writer", [V3, V2], ids=["v3-store", "v2-store"])
@pytest.mark.parametrize("reader", [V3, V2], ids=["v3-backend", "v2-backend"])
def test_either_backend_reads_lists_and_removes_nodes_of_both_formats(
    writer: ZarrBackend, reader: ZarrBackend, store: Path
) -> None:
    writer.save(image(4, 4, value=1), store / "A" / "1" / "0", attributes={"well": "A1"})
    writer.save(image(4, 4, value=2), store / "A" / "2" / "0")
    writer.ensure_directory(store / "B")

    assert reader.list_dir(store) == ["A", "B"]
    assert reader.list_files(store, recursive=True) == [
        str(store / "A" / "1" / "0"),
        str(store / "A" / "2" / "0"),
    ]
    assert reader.is_dir(store / "A") and reader.is_file(store / "A" / "1" / "0")
    assert reader.exists(store / "B") and not reader.exists(store / "C")
    np.testing.assert_array_equal(reader.load(store / "A" / "2" / "0"), image(4, 4, value=2))
    assert reader.attributes(store / "A" / "1" / "0") == {"well": "A1"}
    with pytest.raises(IsADirectoryError):
        reader.load(store / "A")

    reader.copy(store / "A" / "1", store / "A" / "3")
    reader.move(store / "A" / "2", store / "C" / "2")
    assert reader.list_dir(store / "A") == ["1", "3"]
    np.testing.assert_array_equal(reader.load(store / "A" / "3" / "0"), image(4, 4, value=1))
    np.testing.assert_array_equal(reader.load(store / "C" / "2" / "0"), image(4, 4, value=2))
    reader.delete(store / "A" / "1", recursive=True)
    assert reader.list_dir(store / "A") == ["3"]

    # Copies and moves keep the format, and so do the groups they create.
    for node in (store / "A" / "3", store / "C", store / "C" / "2"):
        assert node_format(node) == writer.zarr_format
    group = zarr.open_group(str(store), mode="r", zarr_format=writer.zarr_format)
    assert sorted(name for name, _ in group.members(max_depth=None)) == [
        "A",
        "A/3",
        "A/3/0",
        "B",
        "C",
        "C/2",
        "C/2/0",
    ]


def node_format(folder: Path) -> int:
    if (folder / "zarr.json").exists():
        return int(document(folder / "zarr.json")["zarr_format"])
    assert (folder / ".zgroup").exists() or (folder / ".zarray").exists(), folder
    return 2


def test_a_v2_store_moved_whole_stays_v2(tmp_path: Path) -> None:
    V2.save(image(3, 3), tmp_path / "old.zarr" / "A" / "0")
    V3.move(tmp_path / "old.zarr" / "A", tmp_path / "new.zarr")
    V3.copy(tmp_path / "new.zarr", tmp_path / "copy.zarr")
    for root in ("new.zarr", "copy.zarr"):
        assert document(tmp_path / root / ".zgroup") == {"zarr_format": 2}
        assert not (tmp_path / root / "zarr.json").exists()
        np.testing.assert_array_equal(V3.load(tmp_path / root / "0"), image(3, 3))


def test_a_root_without_metadata_takes_the_format_of_its_first_write(tmp_path: Path) -> None:
    for backend, name in ((V2, "two.zarr"), (V3, "three.zarr")):
        root = tmp_path / name
        root.mkdir()
        assert backend.is_dir(root) and backend.attributes(root) == {}
        backend.ensure_directory(root / "A")
        assert node_format(root) == node_format(root / "A") == backend.zarr_format


# -- one format per hierarchy ------------------------------------------------------------


@pytest.mark.parametrize(("writer", "other"), [(V3, V2), (V2, V3)], ids=["v3-in-v2", "v2-in-v3"])
def test_a_backend_refuses_to_write_into_a_store_of_the_other_format(
    writer: ZarrBackend, other: ZarrBackend, store: Path
) -> None:
    other.save(image(4, 4, value=1), store / "A" / "1" / "0")
    before = sorted(str(p.relative_to(store)) for p in store.rglob("*"))
    theirs, ours = f"Zarr v{other.zarr_format}", f"Zarr v{writer.zarr_format}"

    attempts: list[Callable[[], object]] = [
        lambda: writer.save(image(4, 4), store / "A" / "1" / "1"),
        lambda: writer.save(image(4, 4), store / "B" / "new" / "0"),
        lambda: writer.save(image(4, 4), store / "A" / "1" / "0", overwrite=True),
        lambda: writer.ensure_directory(store / "A" / "2"),
        lambda: writer.ensure_directory(store),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError, match="holds nodes of one format") as caught:
            attempt()
        message = str(caught.value)
        assert theirs in message and ours in message, message
        assert f"ZarrBackend(zarr_format={other.zarr_format})" in message
    with (
        pytest.raises(ValueError, match=f"is a {theirs} group"),
        writer.array_writer(store / "A" / "1" / "1", (4, 4), "uint16"),
    ):
        pytest.fail("the block must not start")
    # An existing node is still reported as existing first.
    with pytest.raises(FileExistsError):
        writer.save(image(4, 4), store / "A" / "1" / "0")

    assert sorted(str(p.relative_to(store)) for p in store.rglob("*")) == before
    np.testing.assert_array_equal(writer.load(store / "A" / "1" / "0"), image(4, 4, value=1))
    other.save(image(4, 4), store / "A" / "1" / "1")  # its own format is welcome
    assert other.list_files(store / "A" / "1") == [
        str(store / "A" / "1" / "0"),
        str(store / "A" / "1" / "1"),
    ]


def test_a_node_is_not_copied_into_a_store_of_the_other_format(tmp_path: Path) -> None:
    two, three = tmp_path / "two.zarr", tmp_path / "three.zarr"
    V2.save(image(3, 3), two / "A" / "0")
    V3.save(image(3, 3), three / "A" / "0")
    for backend in (V2, V3):
        with pytest.raises(ValueError, match=r"three\.zarr' is a Zarr v3 group, and a Zarr v2"):
            backend.copy(two / "A" / "0", three / "A" / "1")
        with pytest.raises(ValueError, match="is a Zarr v2 group, and a Zarr v3"):
            backend.move(three / "A", two / "B")
        with pytest.raises(ValueError, match="is a Zarr v2 array, and a Zarr v3"):
            backend.copy(three / "A" / "0", two / "A" / "0", overwrite=True)
    assert V3.list_dir(three / "A") == ["0"] and V2.list_dir(two) == ["A"]


def test_v2_metadata_names_are_not_node_names(store: Path) -> None:
    for name in (".zarray", ".zgroup", ".zattrs", ".zmetadata", "zarr.json"):
        with pytest.raises(ValueError, match="reserved"):
            V2.save(image(2, 2), store / name)
