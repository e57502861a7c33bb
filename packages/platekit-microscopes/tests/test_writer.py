"""PlateWriter: plates of a pipeline's results, written field by field from many processes."""

from __future__ import annotations

import hashlib
import multiprocessing
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import zarr

from platekit.microscopes import (
    FieldWrittenError,
    PlateLayout,
    PlateWriter,
    convert,
    open_plate,
)
from platekit.microscopes._ngff import unwrap
from platekit.microscopes.testing import write_plate

SHAPE = (24, 32)


def layout(**changes: object) -> PlateLayout:
    found: dict[str, object] = {
        "wells": ("A01", "B02"),
        "fields": 2,
        "channels": ("DAPI", ("GFP", "00FF00")),
        "image_shape": SHAPE,
        "dtype": "uint16",
    }
    return PlateLayout(**{**found, **changes})  # type: ignore[arg-type]


def image(seed: int, shape: tuple[int, ...] = (1, 2, 1, *SHAPE), dtype: str = "uint16"):
    return np.random.default_rng(seed).integers(0, 4000, size=shape).astype(dtype)


def validate(out: Path, ngff: str, labels: bool) -> None:
    """ome-zarr-models reads the plate, its wells, images and label images without complaint."""
    from importlib import import_module

    version = "v05" if ngff == "0.5" else "v04"

    hcs = import_module(f"ome_zarr_models.{version}.hcs").HCS
    image_model = import_module(f"ome_zarr_models.{version}.image").Image
    labels_model = import_module(f"ome_zarr_models.{version}.labels").Labels
    label_model = import_module(f"ome_zarr_models.{version}.image_label").ImageLabel
    plate = hcs.from_zarr(zarr.open_group(str(out), mode="r"))
    assert plate.n_wells > 0
    for entry in plate.ome_attributes.plate.wells:
        well = zarr.open_group(str(out / entry.path), mode="r")
        for name in well.group_keys():
            image_model.from_zarr(zarr.open_group(str(out / entry.path / name), mode="r"))
            if labels:
                group = out / entry.path / name / "labels"
                found = labels_model.from_zarr(zarr.open_group(str(group), mode="r"))
                assert found is not None
                for label in unwrap(ngff, dict(zarr.open_group(str(group)).attrs))["labels"]:
                    label_model.from_zarr(zarr.open_group(str(group / label), mode="r"))


# -- the round trip ------------------------------------------------------------------------


@pytest.mark.parametrize("ngff", ["0.5", "0.4"])
def test_a_max_projection_written_as_a_plate_reads_back_everywhere(
    tmp_path: Path, ngff: str
) -> None:
    pytest.importorskip("dask")
    source = write_plate(
        "imagexpress",
        tmp_path / "plate",
        wells=["A01", "B02"],
        sites=2,
        channels=2,
        z=3,
        shape=SHAPE,
        pixel_size_um=0.5,
    )
    plate = open_plate(source)
    pixels = plate.to_dask()  # well, field, t, c, z, y, x
    projected = pixels.max(axis=4, keepdims=True)
    out = tmp_path / "projected.zarr"
    writer = PlateWriter(out, PlateLayout.from_plate(plate, z_count=1, levels=2), ngff=ngff)
    masks = {}
    for w, well in enumerate(plate.metadata.wells):
        for field in range(plate.metadata.site_count):
            writer.write_field(well, field, projected[w, field].compute())
            mask = (projected[w, field, :, 0].compute() > 1000).astype("uint16")  # t, z, y, x
            masks[well, field] = mask
            writer.write_labels(well, field, "bright", mask, colors={1: (255, 0, 0, 255)})
    writer.finish()

    expected = projected.compute()
    # Our own reader.
    back = open_plate(out)
    assert back.metadata.wells == ["A01", "B02"]
    assert [c.name for c in back.metadata.channels.values()] == [
        c.name for c in plate.metadata.channels.values()
    ]
    np.testing.assert_array_equal(back.to_dask().compute(), expected)

    # ome-zarr-py: the field image, and its label image as a Label node.
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Multiscales, Reader

    nodes = list(Reader(parse_url(str(out / "B" / "2" / "1")))())
    multiscales = [n for n in nodes if any(isinstance(s, Multiscales) for s in n.specs)]
    labels = [n for n in nodes if any(isinstance(s, Label) for s in n.specs)]
    assert len(labels) == 1
    image_node = next(n for n in multiscales if n not in labels)
    np.testing.assert_array_equal(np.asarray(image_node.data[0]), expected[1, 1, 0, :, 0])
    np.testing.assert_array_equal(np.asarray(labels[0].data[0]), masks["B02", 1][0, 0])
    assert np.asarray(labels[0].data[1]).shape == (12, 16)

    validate(out, ngff, labels=True)


def test_the_layout_of_a_plate_is_copied_and_changed(tmp_path: Path) -> None:
    source = write_plate(
        "imagexpress",
        tmp_path / "plate",
        wells=["A01", "C03"],
        sites=3,
        channels=2,
        z=2,
        shape=SHAPE,
        pixel_size_um=0.65,
    )
    found = PlateLayout.from_plate(open_plate(source), z_count=1)
    assert found.wells == ("A01", "C03")
    assert (found.fields, found.z_count, found.pixel_size_um) == (3, 1, 0.65)
    assert found.shape == (1, 2, 1, *SHAPE)
    assert PlateLayout.from_json(found.as_json()) == found


# -- what convert shares with it -----------------------------------------------------------


def array_files(out: Path, below: str) -> dict[str, str]:
    """SHA-256 of every chunk and array metadata file below ``out / below``."""
    hashes = {}
    for path in sorted((out / below).rglob("*")):
        if path.is_file() and (path.name != "zarr.json" or '"array"' in path.read_text()):
            hashes[path.relative_to(out).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def test_a_converted_plate_and_the_same_arrays_written_are_the_same_files(tmp_path: Path) -> None:
    pytest.importorskip("dask")
    source = write_plate(
        "imagexpress", tmp_path / "plate", wells=["A01"], sites=2, channels=2, z=2, shape=SHAPE
    )
    plate = open_plate(source)
    converted = tmp_path / "converted.zarr"
    convert(source, converted, levels=2)
    written = tmp_path / "written.zarr"
    writer = PlateWriter(written, PlateLayout.from_plate(plate, levels=2))
    pixels = plate.to_dask().compute()
    for field in range(2):
        writer.write_field("A01", field, pixels[0, field])
    writer.finish()
    hashes = array_files(converted, "A")
    assert len(hashes) > 8
    assert array_files(written, "A") == hashes
    for field in ("0", "1"):
        path = f"A/1/{field}/zarr.json"
        assert (written / path).read_bytes() == (converted / path).read_bytes()


# -- refusing ------------------------------------------------------------------------------


def test_an_image_of_another_shape_or_dtype_is_refused_naming_both(tmp_path: Path) -> None:
    writer = PlateWriter(tmp_path / "out.zarr", layout())
    with pytest.raises(ValueError, match=r"1x2x2x24x32 uint16 .*declares 1x2x1x24x32 uint16"):
        writer.write_field("A01", 0, image(0, (1, 2, 2, *SHAPE)))
    with pytest.raises(ValueError, match=r"1x2x1x24x32 float32 .*declares 1x2x1x24x32 uint16"):
        writer.write_field("A01", 0, image(0, dtype="float32"))
    with pytest.raises(ValueError, match=r"float64.*integers"):
        writer.write_labels("A01", 0, "cells", np.zeros((1, 1, *SHAPE)))
    with pytest.raises(ValueError, match=r"is 1x24x32 uint8 .*declares 1x1x24x32"):
        writer.write_labels("A01", 0, "cells", np.zeros((1, *SHAPE), "uint8"))
    with pytest.raises(KeyError, match="well H12 is not in the plate's layout"):
        writer.write_field("H12", 0, image(0))
    with pytest.raises(KeyError, match="field 2 is not in the plate's layout"):
        writer.write_field("A01", 2, image(0))
    # Nothing of the refused writes is there.
    assert not (tmp_path / "out.zarr" / "A" / "1" / "0" / "0").exists()


def test_an_output_that_is_no_local_zarr_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"into local folders, not 's3://bucket/out\.zarr'"):
        PlateWriter("s3://bucket/out.zarr", layout())
    with pytest.raises(ValueError, match=r"must be a folder whose name ends in \.zarr"):
        PlateWriter(tmp_path / "out", layout())
    with pytest.raises(ValueError, match=r"OME-NGFF 0\.4 and 0\.5, not .0\.3."):
        PlateWriter(tmp_path / "out.zarr", layout(), ngff="0.3")
    with pytest.raises(ValueError, match=r"text, '0\.4', not the number 0\.4; pass ngff='0\.4'"):
        PlateWriter(tmp_path / "out.zarr", layout(), ngff=0.4)  # type: ignore[arg-type]
    (tmp_path / "notes.zarr").mkdir()
    (tmp_path / "notes.zarr" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="is a folder that is not a Zarr store"):
        PlateWriter(tmp_path / "notes.zarr", layout(), overwrite=True)
    assert (tmp_path / "notes.zarr" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "s3:").exists()


def test_a_file_url_is_the_folder_it_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    PlateWriter((tmp_path / "out.zarr").as_uri(), layout())
    assert (tmp_path / "out.zarr" / "zarr.json").is_file()
    assert not (tmp_path / "file:").exists()


def test_a_bad_layout_is_refused_naming_the_value() -> None:
    with pytest.raises(ValueError, match="well M01 lies outside a plate of 8 rows"):
        layout(wells=("M01",))
    with pytest.raises(ValueError, match="fields must be a whole number of at least 1, not 0"):
        layout(fields=0)
    # 5 x 8 is halved into 3 x 4, 2 x 2 and 1 x 1: a fifth level would repeat the last.
    assert layout(image_shape=(5, 8), levels=4).levels == 4
    with pytest.raises(ValueError, match="levels 5 is more than 5 x 8 images can be halved into"):
        layout(image_shape=(5, 8), levels=5)


def test_a_plate_of_another_layout_is_not_joined(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    PlateWriter(out, layout())
    with pytest.raises(FileExistsError, match="another layout"):
        PlateWriter(out, layout(fields=3))
    assert PlateWriter.open(out).layout == layout()
    PlateWriter(out, layout(fields=3), overwrite=True)
    assert PlateWriter.open(out).layout.fields == 3


def test_a_root_group_another_writer_just_made_is_joined(tmp_path: Path) -> None:
    # What a writer making the same plate leaves before it records the layout.
    zarr.open_group(str(tmp_path / "out.zarr"), mode="w", zarr_format=3)
    PlateWriter(tmp_path / "out.zarr", layout()).write_field("A01", 0, image(0))
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w", zarr_format=3).attrs["x"] = 1
    with pytest.raises(FileExistsError, match="holds a Zarr store that no PlateWriter started"):
        PlateWriter(tmp_path / "other.zarr", layout())


def test_finish_names_the_fields_not_written(tmp_path: Path) -> None:
    writer = PlateWriter(tmp_path / "out.zarr", layout())
    writer.write_field("A01", 0, image(0))
    with pytest.raises(ValueError, match=r"3 fields .* not written yet \(A01 field 1, B02 field 0"):
        writer.finish()
    writer.finish(partial=True)
    back = open_plate(tmp_path / "out.zarr")
    assert back.metadata.wells == ["A01"]
    np.testing.assert_array_equal(back.read("A01", 1, 2), image(0)[0, 1, 0])


# -- safety: killed writers, racing writers --------------------------------------------------


def test_a_field_written_twice_is_refused_or_replaced_on_request(tmp_path: Path) -> None:
    writer = PlateWriter(tmp_path / "out.zarr", layout())
    writer.write_field("A01", 0, image(0))
    with pytest.raises(FieldWrittenError, match=r"field 0 of well A01 .* is already written"):
        writer.write_field("A01", 0, image(1))
    writer.write_field("A01", 0, image(1), overwrite=True)
    array = zarr.open_array(str(tmp_path / "out.zarr" / "A" / "1" / "0" / "0"), mode="r")
    np.testing.assert_array_equal(array[:], image(1)[0, :, 0])


_KILLED = """
import sys, time
import numpy as np
from platekit.microscopes import PlateWriter
from platekit.storage.backends import zarr as backend

publish = backend.publish
def stalled(*args, **kwargs):
    # The field's chunks are written, aside; here the writer is killed.
    print("writing", flush=True)
    time.sleep(60)
backend.publish = stalled
PlateWriter.open(sys.argv[1]).write_field("A01", 0, np.ones((1, 2, 1, 24, 32), "uint16"))
"""


def test_a_killed_writer_leaves_no_array_and_the_field_is_written_again(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    writer = PlateWriter(out, layout())
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_KILLED), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "writing"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    field = out / "A" / "1" / "0"
    # What the killed writer staged is no node: no Zarr reader sees an array there.
    staged = [entry.name[:14] for entry in field.iterdir() if entry.name != "zarr.json"]
    assert staged == [".platekit-tmp-"]
    assert not (field / "0").exists()
    assert writer.written() == {}
    writer.write_field("A01", 0, image(2))
    assert writer.written() == {"A01": [0]}


def test_arrays_published_without_metadata_are_refused_then_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platekit.microscopes import _writer

    writer = PlateWriter(tmp_path / "out.zarr", layout())

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_writer, "write_image_metadata", killed)
    with pytest.raises(KeyboardInterrupt):
        writer.write_field("A01", 0, image(0))
    monkeypatch.undo()
    with pytest.raises(FieldWrittenError, match="being written by another writer, or was left"):
        writer.write_field("A01", 0, image(0))
    writer.write_field("A01", 0, image(0), overwrite=True)
    assert writer.written() == {"A01": [0]}


def _write_fields(writer: PlateWriter, fields: list[tuple[str, int]], seed: int) -> list[str]:
    """Write ``fields``; what happened to each: "won", or the error's class name."""
    outcomes = []
    for well, field in fields:
        try:
            writer.write_field(well, field, image(seed))
            writer.write_labels(well, field, "cells", image(seed)[:, 0] % 5)
            outcomes.append("won")
        except FieldWrittenError:
            outcomes.append("FieldWrittenError")
    return outcomes


@pytest.mark.parametrize("ngff", ["0.5", "0.4"])
def test_four_processes_write_disjoint_fields_and_two_race_for_one(
    tmp_path: Path, ngff: str
) -> None:
    out = tmp_path / "out.zarr"
    writer = PlateWriter(out, layout(fields=4, levels=2), ngff=ngff)
    disjoint = [[("A01", f), ("B02", f)] for f in range(4)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        jobs = [pool.apply_async(_write_fields, (writer, fields, 0)) for fields in disjoint]
        assert [job.get(timeout=120) for job in jobs] == [["won", "won"]] * 4

    fresh = tmp_path / "fresh.zarr"
    racer = pickle.loads(
        pickle.dumps(PlateWriter(fresh, layout(wells=("A01",), fields=1, levels=2), ngff=ngff))
    )
    with context.Pool(2) as pool:
        racing = [pool.apply_async(_write_fields, (racer, [("A01", 0)], s)) for s in (7, 8)]
        outcomes = [job.get(timeout=120)[0] for job in racing]
    assert sorted(outcomes) == ["FieldWrittenError", "won"]
    winner = (7, 8)[outcomes.index("won")]
    racer.finish()
    np.testing.assert_array_equal(open_plate(fresh).to_dask().compute()[0, 0], image(winner))
    validate(fresh, ngff, labels=True)

    writer.finish()
    back = open_plate(out).to_dask().compute()
    assert back.shape == (2, 4, 1, 2, 1, *SHAPE)
    np.testing.assert_array_equal(back[1, 3], image(0))
    validate(out, ngff, labels=True)


# -- plane by plane, and from Dask tasks ---------------------------------------------------


def test_a_field_written_plane_by_plane_is_the_field_written_whole(tmp_path: Path) -> None:
    whole = image(3, (2, 2, 3, *SHAPE))
    shape = {"t_count": 2, "z_count": 3, "levels": 2}
    by_planes = PlateWriter(tmp_path / "planes.zarr", layout(**shape))
    with by_planes.field_planes("A01", 0) as planes:
        for t in range(2):
            for c in range(2):
                for z in range(3):
                    planes[t, c, z] = whole[t, c, z]
        with pytest.raises(ValueError, match=r"is 24x31 uint16 where .* declares 24x32 uint16"):
            planes[0, 0, 0] = whole[0, 0, 0, :, :31]
        with pytest.raises(IndexError, match="z 3 is outside field 0 of well A01"):
            planes[0, 0, 3] = whole[0, 0, 0]
    at_once = PlateWriter(tmp_path / "whole.zarr", layout(**shape))
    at_once.write_field("A01", 0, whole)
    hashes = array_files(tmp_path / "whole.zarr", "A")
    assert len(hashes) == 2 * (1 + 2 * 2 * 3)  # two levels: metadata and a chunk per plane
    assert array_files(tmp_path / "planes.zarr", "A") == hashes
    field = "A/1/0/zarr.json"
    assert (tmp_path / "planes.zarr" / field).read_text() == (
        tmp_path / "whole.zarr" / field
    ).read_text()


def test_a_block_that_raises_publishes_nothing_of_its_field(tmp_path: Path) -> None:
    writer = PlateWriter(tmp_path / "out.zarr", layout())

    def segment() -> None:
        with writer.field_planes("A01", 0) as planes:
            planes[0, 0, 0] = image(0)[0, 0, 0]
            raise RuntimeError("segmentation failed")

    with pytest.raises(RuntimeError, match="segmentation failed"):
        segment()
    assert writer.written() == {}
    assert not (tmp_path / "out.zarr" / "A" / "1" / "0" / "0").exists()


def test_dask_tasks_carry_the_writer(tmp_path: Path) -> None:
    dask = pytest.importorskip("dask")
    writer = PlateWriter(tmp_path / "out.zarr", layout())
    tasks = [
        dask.delayed(writer.write_field)(well, field, image(seed))
        for seed, (well, field) in enumerate([("A01", 0), ("A01", 1), ("B02", 0), ("B02", 1)])
    ]
    dask.compute(*tasks, scheduler="processes", num_workers=2)
    writer.finish()
    back = open_plate(tmp_path / "out.zarr").to_dask().compute()
    np.testing.assert_array_equal(back[1, 0], image(2))


def test_a_real_z_stack_projected_and_written_reads_back(
    tmp_path: Path, cellvoyager_exports: Path
) -> None:
    """A CV8000 export's z stacks (4 planes of 2000x2000), projected, written and read back."""
    pytest.importorskip("dask")
    plate = open_plate(cellvoyager_exports / "CV8000-Minimal-DataSet-2C-3W-4S-FP2-stack")
    well = plate.metadata.wells[0]
    assert plate.metadata.z_count == 4
    projected = plate.to_dask(well=[well]).max(axis=4, keepdims=True).compute()
    layout_ = PlateLayout.from_plate(plate, wells=(well,), z_count=1)
    out = tmp_path / "projected.zarr"
    writer = PlateWriter(out, layout_)
    for field in range(layout_.fields):
        writer.write_field(well, field, projected[0, field])
    writer.finish()

    np.testing.assert_array_equal(open_plate(out).to_dask().compute(), projected)
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    node = next(iter(Reader(parse_url(str(out / well[0] / str(int(well[1:])) / "3")))()))
    np.testing.assert_array_equal(np.asarray(node.data[0]), projected[0, 3, 0, :, 0])
    validate(out, "0.5", labels=False)


def test_the_writer_imports_nothing_of_the_conversion() -> None:
    """convert writes through the writer's steps, never the other way round."""
    import ast

    import platekit.microscopes

    package = Path(platekit.microscopes.__file__).parent
    conversion = {"_plan", "_absent", "_lock", "_well_writer", "_output", "_executor", "_run"}
    conversion |= {"_convert", "_stream_wells", "executors", "_object_output"}
    for module in ("_writer", "_field_arrays", "_field_planes", "_layout", "_labels", "_ngff"):
        tree = ast.parse((package / f"{module}.py").read_text(encoding="utf-8"))
        found = {
            node.module.removeprefix("platekit.microscopes.")
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert not found & conversion, (module, found & conversion)
