"""Plates as lazy arrays: Plate.to_dask and Plate.to_xarray on every format."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from platekit.microscopes import BadPlaneError, PlaneKey, convert, open_plate
from platekit.microscopes.testing import write_plate, writers

# Without the arrays extra, test_arrays_extra.py checks what the methods say.
pytest.importorskip("dask.array")
pytest.importorskip("xarray")

SHAPE = (16, 24)
METADATA_FILES = {"zarr.json", ".zarray", ".zattrs", ".zgroup"}
# A plane of each kind absent: a whole field, one channel of one z, a time point.
MISSING = [
    *(PlaneKey("B02", 2, c, z, t) for c in (1, 2) for z in (1, 2) for t in (1, 2)),
    PlaneKey("A01", 1, 2, 2, 1),
    PlaneKey("A01", 2, 1, 1, 2),
]


def _plate(kind: str, folder: Path, **options: object):  # type: ignore[no-untyped-def]
    settings: dict[str, object] = {"wells": ["A01", "B02"], "sites": 2, "channels": 2, "z": 2}
    settings.update(t=2, shape=SHAPE, missing=MISSING)
    settings.update(options)
    return open_plate(write_plate(kind, folder / kind, **settings))  # type: ignore[arg-type]


def _position(plate, key: PlaneKey) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    meta = plate.metadata
    return (
        meta.wells.index(key.well),
        meta.sites.index(key.site),
        key.timepoint - 1,
        list(meta.channels).index(key.channel),
        key.z_index - 1,
    )


def _assert_equals_read(plate, array: np.ndarray, fill: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Every plane of ``array`` is Plate.read's, and every absent plane the fill value."""
    meta = plate.metadata
    assert array.shape[:5] == (
        len(meta.wells),
        meta.site_count,
        meta.t_count,
        len(meta.channels),
        meta.z_count,
    )
    present = dict(plate.planes())
    for key in meta.expected_planes():
        plane = array[_position(plate, key)]
        if key in present:
            expected = plate.read(key.well, key.site, key.channel, key.z_index, key.timepoint)
            np.testing.assert_array_equal(plane, expected, str(key))
        else:
            assert (plane == fill).all(), key


@pytest.mark.parametrize("kind", writers())
def test_the_array_is_every_plane_read_and_absent_planes_are_filled(
    kind: str, tmp_path: Path
) -> None:
    plate = _plate(kind, tmp_path)
    array = plate.to_dask(fill_value=7)
    assert array.dtype == np.uint16
    assert array.shape == (2, 2, 2, 2, 2, *SHAPE)
    _assert_equals_read(plate, array.compute(), fill=7)


@pytest.mark.parametrize("kind", writers())
def test_the_mask_is_true_where_planes_are_absent(kind: str, tmp_path: Path) -> None:
    plate = _plate(kind, tmp_path)
    mask = plate.to_dask(mask=True)
    assert mask.dtype == bool and mask.shape == plate.to_dask().shape
    computed = mask.compute()
    present = {key for key, _ in plate.planes()}
    for key in plate.metadata.expected_planes():
        assert (computed[_position(plate, key)] == (key not in present)).all(), key
    assert computed[1, 1].all() and not computed[1, 0].any()
    # OME-Zarr lists fields, not planes: a field's planes are all there or all absent.
    assert computed[0, 0, 0, 1, 1].all() == (kind != "omezarr")


def test_a_vendor_plate_is_one_chunk_per_plane(tmp_path: Path) -> None:
    array = _plate("imagexpress", tmp_path).to_dask()
    assert array.chunksize == (1, 1, 1, 1, 1, *SHAPE)
    assert array.npartitions == 2 * 2 * 2 * 2 * 2


@pytest.mark.parametrize("axes", ["tczyx", "czyx", "zyx"])
def test_an_ome_zarr_plate_is_read_by_zarr_chunks_whatever_its_axes(
    axes: str, tmp_path: Path
) -> None:
    counts = {"c": 2 if "c" in axes else 1, "z": 2, "t": 2 if "t" in axes else 1}
    plate = _plate("omezarr", tmp_path, channels=counts["c"], t=counts["t"], missing=[], axes=axes)
    array = plate.to_dask()
    # The synthetic writer chunks every plane apart; from_zarr keeps that.
    assert array.chunksize == (1, 1, 1, 1, 1, *SHAPE)
    assert "from-zarr" in "".join(str(name) for name in array.dask.layers)
    _assert_equals_read(plate, array.compute())


def test_choosing_by_the_names_plate_read_takes(tmp_path: Path) -> None:
    for kind in ("opera_phenix", "omezarr"):
        plate = _plate(kind, tmp_path)
        name = plate.metadata.channels[2].name
        everything = plate.to_dask().compute()
        one = plate.to_dask(well="b2", site=1, channel=name, z=2, t=1)
        assert one.shape == SHAPE
        np.testing.assert_array_equal(one.compute(), plate.read("B02", 1, 2, 2, 1))
        # A list keeps its dimension, in the order given.
        some = plate.to_dask(well=["B02", "A01"], channel=[2], z=[2, 1]).compute()
        assert some.shape == (2, 2, 2, 1, 2, *SHAPE)
        np.testing.assert_array_equal(some, everything[[1, 0]][:, :, :, [1]][..., [1, 0], :, :])
        by_number = plate.to_dask(well="A01", site=2, channel=1, t=2).compute()
        np.testing.assert_array_equal(by_number, everything[0, 1, 1, 0])


def test_choosing_what_the_plate_lacks_names_it(tmp_path: Path) -> None:
    plate = _plate("cellvoyager", tmp_path)
    with pytest.raises(KeyError, match="no well 'H12'; it has A01, B02"):
        plate.to_dask(well="H12")
    with pytest.raises(KeyError, match="no channel named 'GFP'"):
        plate.to_dask(channel="GFP")
    with pytest.raises(KeyError, match="no z 3"):
        plate.to_xarray(z=3)
    with pytest.raises(TypeError, match=r"site='1': give a number"):
        plate.to_dask(site="1")
    with pytest.raises(ValueError, match="fill_value -1 does not fit this plate's uint16"):
        plate.to_dask(fill_value=-1)


def test_building_the_graph_of_a_384_well_plate_reads_no_pixels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, columns = "ABCDEFGHIJKLMNOP", range(1, 25)
    wells = [f"{row}{column:02d}" for row in rows for column in columns]
    folder = write_plate(
        "imagexpress",
        tmp_path / "p384",
        wells=wells,
        channels=2,
        shape=(8, 8),
        plate_format=(16, 24),
    )
    plate = open_plate(folder)
    reads: list[PlaneKey] = []
    original = type(plate.handler).read_plane

    def counted(handler, path, address):  # type: ignore[no-untyped-def]
        reads.append(address)
        return original(handler, path, address)

    monkeypatch.setattr(type(plate.handler), "read_plane", counted)
    array = plate.to_dask()
    xarray = plate.to_xarray()
    assert array.shape == (384, 1, 1, 2, 1, 8, 8) and xarray.shape == array.shape
    assert reads == []
    plane = array[200, 0, 0, 1, 0].compute(scheduler="sync")
    assert len(reads) == 1
    np.testing.assert_array_equal(plane, plate.read(wells[200], channel=2))


@pytest.mark.parametrize("ngff", ["0.5", "0.4"])
def test_an_ome_zarr_graph_reads_metadata_only_and_one_plane_one_chunk(
    ngff: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zarr.storage

    plate = _plate("omezarr", tmp_path, ngff=ngff)
    reads: list[str] = []
    original = zarr.storage.LocalStore.get

    async def counted(store, key, *args, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(key)
        return await original(store, key, *args, **kwargs)

    monkeypatch.setattr(zarr.storage.LocalStore, "get", counted)
    array = plate.to_dask()
    assert reads and all(key.rsplit("/", 1)[-1] in METADATA_FILES for key in reads)
    reads.clear()
    plane = array[0, 1, 1, 0, 1].compute(scheduler="sync")
    assert len(reads) == 1 and reads[0].rsplit("/", 1)[-1] not in METADATA_FILES
    np.testing.assert_array_equal(plane, plate.read("A01", 2, 1, 2, 2))


def test_a_plane_unlike_the_others_is_named_when_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plate = _plate("opera_phenix", tmp_path)
    array = plate.to_dask(well="A01", site=1, t=1)
    monkeypatch.setattr(
        type(plate.handler), "read_plane", lambda handler, path, address: np.zeros((4, 4), "u2")
    )
    with pytest.raises(
        BadPlaneError,
        match=r"plane A01 site 1 channel \d z \d t 1 is 4 x 4 pixels where the plate.s are 16 x 24",
    ):
        array.compute(scheduler="sync")


def test_ome_zarr_fields_of_two_sizes_are_named_as_the_array_is_built(tmp_path: Path) -> None:
    plate = _plate("omezarr", tmp_path, missing=[])
    smaller = _plate("omezarr", tmp_path / "small", missing=[], shape=(8, 8))
    shutil.rmtree(plate.path / "B" / "2")
    shutil.copytree(smaller.path / "B" / "2", plate.path / "B" / "2")
    plate = open_plate(plate.path)
    with pytest.raises(
        ValueError, match=r"\('A01', 1\) is \(16, 24\) and \('B02', 1\) is \(8, 8\)"
    ):
        plate.to_dask()
    assert plate.to_dask(well="B02").shape == plate.to_dask(well="B02", mask=True).shape
    assert plate.to_dask(well="B02").shape == (2, 2, 2, 2, 8, 8)


def test_the_array_pickles_and_computes_elsewhere(tmp_path: Path) -> None:
    for kind in ("imagexpress", "omezarr"):
        plate = _plate(kind, tmp_path)
        array = plate.to_dask(well="A01")
        again = pickle.loads(pickle.dumps(array))
        np.testing.assert_array_equal(again.compute(), array.compute())
        np.testing.assert_array_equal(
            pickle.loads(pickle.dumps(plate.to_xarray(mask=True))).values,
            plate.to_dask(mask=True).compute(),
        )


def test_the_xarray_names_channels_and_places_pixels_in_micrometres(tmp_path: Path) -> None:
    plate = _plate("opera_phenix", tmp_path, pixel_size_um=0.5, z_step_um=3.0)
    array = plate.to_xarray(well="B02")
    assert array.dims == ("field", "t", "c", "z", "y", "x")
    assert list(array.c.values) == [plate.metadata.channels[n].name for n in (1, 2)]
    assert list(array.channel.values) == [1, 2]
    assert array.well.item() == "B02"
    np.testing.assert_allclose(array.z.values, [0.0, 3.0])
    np.testing.assert_allclose(array.x.values[:3], [0.0, 0.5, 1.0])
    assert array.x.attrs["units"] == array.z.attrs["units"] == "µm"
    assert array.attrs["pixel_size_um"] == 0.5 and array.attrs["fill_value"] == 0
    name = plate.metadata.channels[2].name
    np.testing.assert_array_equal(
        array.sel(c=name, z=3.0, field=1, t=1).values, plate.read("B02", 1, 2, 2, 1)
    )


@pytest.mark.parametrize("ngff", ["0.5", "0.4"])
def test_a_conversion_reads_back_as_the_source_plate(ngff: str, tmp_path: Path) -> None:
    plate = _plate("imagexpress", tmp_path)
    convert(plate.path, tmp_path / "out.zarr", ngff=ngff)
    converted = open_plate(tmp_path / "out.zarr")
    np.testing.assert_array_equal(converted.to_dask().compute(), plate.to_dask().compute())
    # The absent planes it recorded are absent again, whatever the fill value.
    np.testing.assert_array_equal(
        converted.to_dask(fill_value=9).compute(), plate.to_dask(fill_value=9).compute()
    )
    np.testing.assert_array_equal(
        converted.to_dask(mask=True).compute(), plate.to_dask(mask=True).compute()
    )
    source = plate.to_xarray()
    back = converted.to_xarray()
    assert list(back.c.values) == list(source.c.values)
    np.testing.assert_allclose(back.x.values, source.x.values)
    np.testing.assert_allclose(back.z.values, source.z.values)


def test_real_harmony_exports_read_as_arrays(pe2loaddata_exports: Path) -> None:
    for version in ("Version1", "Version5", "Version7"):
        plate = open_plate(pe2loaddata_exports / version)
        _assert_equals_read(plate, plate.to_dask().compute())


def test_the_real_cv8000_export_reads_as_an_array(cellvoyager_exports: Path) -> None:
    plate = open_plate(cellvoyager_exports / "CV8000-Minimal-DataSet-2C-3W-4S-FP2-stack")
    array = plate.to_dask()
    present = dict(plate.planes())
    assert array.shape[:5] == (3, 4, 1, 2, 4) and len(present) == 96
    # Plane by plane: the whole export is 768 MB of pixels.
    for key in plate.metadata.expected_planes():
        plane = array[_position(plate, key)].compute()
        np.testing.assert_array_equal(plane, plate.read_plane(key), str(key))


@pytest.mark.slow
def test_the_array_computes_on_dask_distributed_worker_processes(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    plates = [_plate(kind, tmp_path) for kind in ("cellvoyager", "omezarr")]
    arrays = [plate.to_dask(well="A01", fill_value=5) for plate in plates]
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # A random port: the default 8787 may be another cluster's, and its warning an error.
            dashboard_address="127.0.0.1:0",
            timeout=60,
        ) as cluster,
        distributed.Client(cluster, timeout=60) as client,
    ):
        # The arrays cross to a worker process, pickled, and their planes are read there.
        futures = client.compute(arrays)
        distributed.wait(futures, timeout=60)
        computed = client.gather(futures)
    for array, result in zip(arrays, computed, strict=True):
        np.testing.assert_array_equal(result, array.compute(scheduler="sync"))
