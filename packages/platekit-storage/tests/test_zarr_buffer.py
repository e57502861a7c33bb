"""The zarr backend's writes test chunks for the fill value quickly, with zarr's own answers."""

from __future__ import annotations

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
def array_equal_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each numpy.array_equal call (zarr-python's own fill-value test), by the array's size."""
    calls: list[int] = []
    original = np.array_equal

    def counting(a: Any, b: Any, *args: Any, **kwargs: Any) -> bool:
        calls.append(np.size(a))
        return bool(original(a, b, *args, **kwargs))

    monkeypatch.setattr(np, "array_equal", counting)
    return calls


# Planes of a (3, 16, 20) array: a zero one (the fill value), a mixed one, a constant one.
PLANES = [
    np.zeros((16, 20), "uint16"),
    np.arange(16 * 20, dtype="uint16").reshape(16, 20),
    np.full((16, 20), 9, "uint16"),
]


METADATA = {"zarr.json", ".zarray", ".zattrs", ".zgroup"}


def chunk_files(array: Path) -> dict[str, bytes]:
    """The array's chunk files (its metadata documents left out), by path inside it."""
    return {
        path.relative_to(array).as_posix(): path.read_bytes()
        for path in sorted(array.rglob("*"))
        if path.is_file() and path.name not in METADATA
    }


def zarrs_own(store: Path, zarr_format: int, data: np.ndarray) -> Path:
    """The same array written by zarr-python's plain assignment, plane by plane."""
    reference = store.parent / "reference.zarr"
    ours = zarr.open_array(store / "A" / "0", mode="r")
    array = zarr.create_array(
        zarr.storage.LocalStore(reference),
        shape=data.shape,
        dtype=data.dtype,
        chunks=ours.chunks,
        compressors=ours.compressors,
        zarr_format=zarr_format,
        **({"chunk_key_encoding": {"name": "v2", "separator": "/"}} if zarr_format == 2 else {}),
        **({"dimension_names": None} if zarr_format == 3 else {}),
    )
    for index, plane in enumerate(data):
        array[index] = plane
    return reference


def test_array_writer_skips_the_fill_value_chunks_zarr_skips_without_zarrs_slow_test(
    backend: ZarrBackend, tmp_path: Path, array_equal_calls: list[int]
) -> None:
    store = tmp_path / "out.zarr"
    with backend.array_writer(store / "A" / "0", shape=(3, 16, 20), dtype="uint16") as out:
        for index, plane in enumerate(PLANES):
            out[index] = plane
    assert array_equal_calls == []
    np.testing.assert_array_equal(backend.load(store / "A" / "0"), np.stack(PLANES))
    ours = chunk_files(store / "A" / "0")
    prefix = "c/" if backend.zarr_format == 3 else ""
    assert set(ours) == {f"{prefix}1/0/0", f"{prefix}2/0/0"}  # the zero plane left out
    assert ours == chunk_files(zarrs_own(store, backend.zarr_format, np.stack(PLANES)))


def test_save_writes_the_same_chunks_without_zarrs_slow_test(
    backend: ZarrBackend, tmp_path: Path, array_equal_calls: list[int]
) -> None:
    store = tmp_path / "out.zarr"
    backend.save(np.stack(PLANES), store / "A" / "0")
    assert array_equal_calls == []
    ours = chunk_files(store / "A" / "0")
    assert len(ours) == 2
    assert ours == chunk_files(zarrs_own(store, backend.zarr_format, np.stack(PLANES)))


def test_floats_keep_zarrs_own_test(
    backend: ZarrBackend, tmp_path: Path, array_equal_calls: list[int]
) -> None:
    # -0.0 is not the fill value 0.0 to zarr (it compares bit patterns): the chunk is kept.
    store = tmp_path / "out.zarr"
    data = np.stack([np.zeros((16, 20), "float32"), np.full((16, 20), -0.0, "float32")])
    with backend.array_writer(store / "A" / "0", shape=data.shape, dtype="float32") as out:
        out[0] = data[0]
        out[1] = data[1]
    assert len(array_equal_calls) == 2
    loaded = backend.load(store / "A" / "0")
    assert np.signbit(loaded[1]).all() and not np.signbit(loaded[0]).any()


def test_a_plane_goes_to_zarr_as_its_chunk_not_copied_into_a_new_one(
    backend: ZarrBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platekit.storage._zarr_buffer import _quick_prototype

    buffers = _quick_prototype().nd_buffer
    created: list[Any] = []
    create = buffers.create

    def counting(**options: Any) -> Any:
        created.append(options["shape"])
        return create(**options)

    monkeypatch.setattr(buffers, "create", counting)
    store = tmp_path / "out.zarr"
    with backend.array_writer(store / "A" / "0", shape=(2, 3, 16, 20), dtype="uint16") as out:
        for index, plane in enumerate(PLANES):
            out[1, index] = plane
    assert created == []
    loaded = backend.load(store / "A" / "0")
    np.testing.assert_array_equal(loaded[1], np.stack(PLANES))
    assert not loaded[0].any()


def test_a_plane_handed_over_is_written_as_it_is_and_an_assigned_one_copied(
    backend: ZarrBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platekit.storage._zarr_writer import ArrayWriter

    written: list[Any] = []
    monkeypatch.setattr(ArrayWriter, "_write", lambda self, index, data: written.append(data))
    plane = PLANES[1].copy()
    with backend.array_writer(
        tmp_path / "out.zarr" / "A", shape=(2, 16, 20), dtype="uint16"
    ) as out:
        out.write(0, plane, copy=False)
        out[1] = plane
    assert np.shares_memory(written[0], plane)
    assert not np.shares_memory(written[1], plane)
