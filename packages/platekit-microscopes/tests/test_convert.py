"""Converting plates to OME-Zarr: what other readers see, resuming, refusing, bad input."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

from platekit.microscopes import BadPlaneError, PlaneKey, UnknownPlateError, convert, open_plate
from platekit.microscopes._convert import ConversionCancelled
from platekit.microscopes._ngff import unwrap, well_path
from platekit.microscopes.testing import expected_pixels, hash_tree, write_plate, writers

SHAPE = (24, 32)


def array_hashes(out: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every chunk and array metadata file below ``out``.

    Group metadata is left out: the root records the conversion's state.
    """
    hashes = {}
    for path in sorted(out.rglob("*")):
        chunk = path.is_file() and path.name not in ("zarr.json", ".zattrs", ".zgroup")
        array = path.name == "zarr.json" and '"node_type": "array"' in path.read_text()
        if chunk or array:
            hashes[path.relative_to(out).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def root_attributes(out: Path, ngff: str) -> dict:
    group = zarr.open_group(str(out), mode="r", zarr_format=3 if ngff == "0.5" else 2)
    return unwrap(ngff, dict(group.attrs))


def field_array(out: Path, well: str, field: int, level: int = 0) -> zarr.Array:
    return zarr.open_array(str(out / well_path(well) / str(field) / str(level)), mode="r")


def plane(out: Path, key: PlaneKey, axes: str, channel_index: int, site_index: int) -> np.ndarray:
    array = field_array(out, key.well, site_index)
    index = {"t": key.timepoint - 1, "c": channel_index, "z": key.z_index - 1}
    return np.asarray(array[tuple(index[a] for a in axes[:-2])])


def small_plate(tmp_path: Path, kind: str = "imagexpress", **spec: object) -> Path:
    options = {"wells": ["A01", "B02"], "sites": 2, "channels": 2, "shape": SHAPE, **spec}
    return write_plate(kind, tmp_path / f"{kind}-plate", **options)  # type: ignore[arg-type]


# -- what readers see ----------------------------------------------------------------------


@pytest.mark.parametrize("ngff", ["0.5", "0.4"])
@pytest.mark.parametrize("kind", writers())
def test_every_format_converts_to_a_plate_other_readers_open(
    tmp_path: Path, kind: str, ngff: str
) -> None:
    source = small_plate(tmp_path, kind, z=2, t=2)
    out = tmp_path / "out.zarr"
    result = convert(source, out, ngff=ngff)
    assert result.planes_written == result.planes_total == 2 * 2 * 2 * 2 * 2

    # ome-zarr-py reads it as a plate with its wells and images.
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    location = parse_url(str(out))
    assert location is not None
    nodes = list(Reader(location)())
    plate_meta = nodes[0].metadata["metadata"]["plate"] if "metadata" in nodes[0].metadata else None
    zattrs = location.root_attrs
    plate_attrs = zattrs.get("ome", zattrs)["plate"]
    assert [w["path"] for w in plate_attrs["wells"]] == ["A/1", "B/2"]
    assert plate_meta is None or plate_meta["wells"] == plate_attrs["wells"]

    # ome-zarr-models validates the plate, each well and each image.
    validate(out, ngff)

    # Every plane holds the source's pixels.
    for key in [PlaneKey("A01", 1, 1, 1, 1), PlaneKey("B02", 2, 2, 2, 2)]:
        np.testing.assert_array_equal(
            plane(out, key, "tczyx", key.channel - 1, key.site - 1), expected_pixels(key, SHAPE)
        )
    image = root_attributes(out / "A" / "1" / "0", ngff)
    axes = [axis["name"] for axis in image["multiscales"][0]["axes"]]
    assert axes == ["t", "c", "z", "y", "x"]
    if ngff == "0.5":
        assert field_array(out, "A01", 0).metadata.dimension_names == tuple(axes)


def validate(out: Path, ngff: str) -> None:
    """ome-zarr-models reads the plate, every well and every field image without complaint."""
    if ngff == "0.5":
        from ome_zarr_models.v05.hcs import HCS
        from ome_zarr_models.v05.image import Image
    else:
        from ome_zarr_models.v04.hcs import HCS
        from ome_zarr_models.v04.image import Image
    group = zarr.open_group(str(out), mode="r")
    hcs = HCS.from_zarr(group)
    wells = list(hcs.well_groups)
    assert len(wells) == hcs.n_wells > 0
    for entry in hcs.ome_attributes.plate.wells:
        well = zarr.open_group(str(out / entry.path), mode="r")
        for name in well.group_keys():
            Image.from_zarr(zarr.open_group(str(out / entry.path / name), mode="r"))


def test_levels_given_as_true_is_refused_not_taken_for_one(tmp_path: Path) -> None:
    source = write_plate("imagexpress", tmp_path / "plate", wells=["A01"], shape=SHAPE)
    with pytest.raises(ValueError, match=r"levels must be a whole number of at least 1, got True"):
        convert(source, tmp_path / "out.zarr", levels=True)
    assert not (tmp_path / "out.zarr").exists()


def test_levels_past_one_pixel_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    source = write_plate("imagexpress", tmp_path / "plate", wells=["A01"], shape=(5, 8))
    # 8 x 5 is halved into 4 x 3, 2 x 2 and 1 x 1: four levels, and a fifth would repeat the last.
    with pytest.raises(
        ValueError, match=r"levels 5 .* level 4 is 1 x 1 already; give at most 4 levels"
    ):
        convert(source, tmp_path / "out.zarr", levels=5)
    assert not (tmp_path / "out.zarr").exists()
    convert(source, tmp_path / "out.zarr", levels=4)
    assert field_array(tmp_path / "out.zarr", "A01", 0, 3).shape[-2:] == (1, 1)


def test_an_ngff_version_given_as_a_number_is_told_to_be_text(tmp_path: Path) -> None:
    source = write_plate("imagexpress", tmp_path / "plate", wells=["A01"], shape=SHAPE)
    with pytest.raises(
        ValueError,
        match=r"^the NGFF version is text, '0\.5', not the number 0\.5; pass ngff='0\.5'$",
    ):
        convert(source, tmp_path / "out.zarr", ngff=0.5)  # type: ignore[arg-type]
    assert not (tmp_path / "out.zarr").exists()


def test_a_file_url_output_is_written_at_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_plate("imagexpress", tmp_path / "plate", wells=["A01"], shape=SHAPE)
    monkeypatch.chdir(tmp_path)
    result = convert(source, (tmp_path / "out.zarr").as_uri())
    assert result.out == tmp_path / "out.zarr"
    assert (tmp_path / "out.zarr" / "zarr.json").is_file()
    assert not (tmp_path / "file:").exists()


def test_a_plate_and_an_output_under_tilde_are_in_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write_plate("imagexpress", home / "plate", wells=["A01"], shape=SHAPE)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    result = convert("~/plate", "~/out.zarr")
    assert result.out == home / "out.zarr"
    assert (home / "out.zarr" / "zarr.json").is_file()
    assert not (tmp_path / "~").exists()


def test_scale_channels_and_levels(tmp_path: Path) -> None:
    source = write_plate(
        "imagexpress",
        tmp_path / "plate",
        wells=["A01"],
        channels=3,
        z=3,
        shape=(40, 50),
        pixel_size_um=0.5,
        z_step_um=1.5,
    )
    out = tmp_path / "out.zarr"
    convert(source, out, levels=3)
    image = root_attributes(out / "A" / "1" / "0", "0.5")
    multiscale = image["multiscales"][0]
    assert [a["name"] for a in multiscale["axes"]] == ["c", "z", "y", "x"]
    assert multiscale["axes"][-1]["unit"] == "micrometer"
    scales = [d["coordinateTransformations"][0]["scale"] for d in multiscale["datasets"]]
    assert scales == [[1.0, 1.5, 0.5, 0.5], [1.0, 1.5, 1.0, 1.0], [1.0, 1.5, 2.0, 2.0]]
    shapes = [field_array(out, "A01", 0, level).shape for level in range(3)]
    assert shapes == [(3, 3, 40, 50), (3, 3, 20, 25), (3, 3, 10, 13)]
    level0 = np.asarray(field_array(out, "A01", 0, 0)[0, 0]).astype(np.float64)
    level1 = np.asarray(field_array(out, "A01", 0, 1)[0, 0])
    block = level0.reshape(20, 2, 25, 2).mean(axis=(1, 3))
    assert np.abs(level1.astype(np.float64) - block).max() <= 0.5
    channels = image["omero"]["channels"]
    assert len(channels) == 3 and all(len(c["color"]) == 6 for c in channels)
    validate(out, "0.5")


# -- resuming, repeating, refusing ---------------------------------------------------------


def test_a_finished_conversion_run_again_does_nothing(tmp_path: Path) -> None:
    source = small_plate(tmp_path)
    out = tmp_path / "out.zarr"
    convert(source, out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    again = convert(source, out)
    assert again.already_complete and again.wells_converted == 0 and again.planes_written == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_a_different_plate_into_the_same_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    convert(small_plate(tmp_path), out)
    other = write_plate("imagexpress", tmp_path / "other", wells=["C03"], shape=SHAPE)
    before = array_hashes(out)
    with pytest.raises(FileExistsError, match="--overwrite") as caught:
        convert(other, out)
    assert "differs from this one in source" in str(caught.value)
    assert "the plate's structure" in str(caught.value) and "levels" not in str(caught.value)
    assert array_hashes(out) == before
    with pytest.raises(
        FileExistsError, match=r"differs from this one in levels \(1 there, 2 here\);"
    ):
        convert(small_plate(tmp_path), out, levels=2)
    with pytest.raises(FileExistsError, match=r"in NGFF version \('0.5' there, '0.4' here\);"):
        convert(small_plate(tmp_path), out, ngff="0.4")
    convert(other, out, overwrite=True)
    assert root_attributes(out, "0.5")["plate"]["wells"][0]["path"] == "C/3"


def test_a_folder_that_is_not_a_store_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "mine.zarr"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a Zarr store"):
        convert(small_plate(tmp_path), out, overwrite=True)
    assert (out / "notes.txt").read_text() == "keep me"


def test_the_source_plate_is_never_modified(tmp_path: Path) -> None:
    source = small_plate(tmp_path, z=2)
    before = hash_tree(source)
    convert(source, tmp_path / "out.zarr", levels=2)
    convert(source, tmp_path / "out.zarr", levels=2)
    assert hash_tree(source) == before


def test_the_output_may_not_be_inside_the_source(tmp_path: Path) -> None:
    source = small_plate(tmp_path)
    with pytest.raises(ValueError, match="inside the source plate"):
        convert(source, source / "out.zarr")


def test_cancel_leaves_a_resumable_output(tmp_path: Path) -> None:
    source = small_plate(tmp_path, wells=["A01", "A02", "B01", "B02"])
    whole = tmp_path / "whole.zarr"
    convert(source, whole)

    out = tmp_path / "out.zarr"
    stop = threading.Event()

    def progress(p: object) -> None:
        if getattr(p, "done", 0) >= 10:
            stop.set()

    with pytest.raises(ConversionCancelled, match="run it again"):
        convert(source, out, progress=progress, cancel=stop)
    assert "plate" not in root_attributes(out, "0.5")
    result = convert(source, out)
    assert 0 < result.wells_converted < 4
    assert array_hashes(out) == array_hashes(whole)


@pytest.mark.slow
def test_killed_then_resumed_equals_uninterrupted(tmp_path: Path) -> None:
    source = write_plate(
        "imagexpress",
        tmp_path / "plate",
        wells=[f"{r}{c:02d}" for r in "ABC" for c in range(1, 9)],
        sites=4,
        channels=3,
        shape=(256, 256),
    )
    whole = tmp_path / "whole.zarr"
    convert(source, whole)

    out = tmp_path / "out.zarr"
    command = [sys.executable, "-m", "platekit.registry", "convert", str(source), str(out), "-q"]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            done = [p for p in out.glob("*/*/zarr.json") if '"well"' in p.read_text()]
            if done:
                break
            time.sleep(0.005)
        assert child.poll() is None, "the conversion ended before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert "plate" not in root_attributes(out, "0.5")

    rerun = subprocess.run(command[:-1], capture_output=True, text=True, timeout=120, check=True)
    assert "wells were already done" in rerun.stdout
    assert array_hashes(out) == array_hashes(whole)
    assert root_attributes(out, "0.5")["plate"] == root_attributes(whole, "0.5")["plate"]


@pytest.mark.slow
def test_two_workers_write_what_one_writes(tmp_path: Path) -> None:
    source = small_plate(tmp_path, wells=["A01", "A02", "B01", "B02"], z=2)
    one, two = tmp_path / "one.zarr", tmp_path / "two.zarr"
    convert(source, one, workers=1)
    result = convert(source, two, workers=2)
    assert result.wells_converted == 4
    assert array_hashes(one) == array_hashes(two)
    validate(two, "0.5")


# -- bad input -----------------------------------------------------------------------------


def test_a_folder_that_is_no_plate(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnknownPlateError, match="looked for"):
        convert(tmp_path / "empty", tmp_path / "out.zarr")
    assert not (tmp_path / "out.zarr").exists()


def _plane_files(source: Path) -> list[Path]:
    plate = open_plate(source)
    return [source / address for _, address in plate.planes()]


def test_a_truncated_tiff_names_the_file(tmp_path: Path) -> None:
    source = small_plate(tmp_path)
    victim = _plane_files(source)[3]
    victim.write_bytes(victim.read_bytes()[:200])
    with pytest.raises(BadPlaneError, match=victim.name):
        convert(source, tmp_path / "out.zarr")


def test_a_plane_unlike_its_neighbours_names_the_file(tmp_path: Path) -> None:
    source = small_plate(tmp_path)
    victim = _plane_files(source)[-1]
    tifffile.imwrite(victim, np.zeros((10, 10), np.uint8))
    with pytest.raises(BadPlaneError, match=rf"{victim.name}.*10x10 uint8.*24x32 uint16"):
        convert(source, tmp_path / "out.zarr")


def test_skip_bad_planes_writes_them_absent_and_reports_them(tmp_path: Path) -> None:
    source = small_plate(tmp_path)
    files = _plane_files(source)
    files[0].write_bytes(b"not a tiff at all")
    result = convert(source, tmp_path / "out.zarr", skip_bad_planes=True)
    assert [a.path for a in result.bad] == [str(files[0])]
    assert result.planes_written == result.planes_total - 1
    key = result.bad[0].plane
    assert not plane(tmp_path / "out.zarr", key, "cyx", key.channel - 1, key.site - 1).any()
    recorded = root_attributes(tmp_path / "out.zarr", "0.5")
    assert recorded == recorded  # the root stays readable
    again = convert(source, tmp_path / "out.zarr", skip_bad_planes=True)
    assert again.already_complete and [a.path for a in again.bad] == [str(files[0])]


def test_missing_planes_are_written_absent(tmp_path: Path) -> None:
    gone = PlaneKey("A01", 2, 1, 1, 1)
    source = small_plate(tmp_path, kind="opera_phenix", missing=[gone])
    result = convert(source, tmp_path / "out.zarr")
    assert [a.plane for a in result.missing] == [gone]
    assert not plane(tmp_path / "out.zarr", gone, "cyx", 0, 1).any()


# -- the command line ----------------------------------------------------------------------


def platekit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "platekit.registry", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_convert_help_lists_its_options() -> None:
    shown = platekit("convert", "--help")
    assert shown.returncode == 0
    for option in (
        "--ngff",
        "--levels",
        "--workers",
        "--overwrite",
        "--skip-bad-planes",
        "--quiet",
        "--example",
        "--microscope",
    ):
        assert option in shown.stdout


def test_convert_prints_progress_lines_and_a_summary(tmp_path: Path) -> None:
    source = small_plate(tmp_path)
    done = platekit("convert", str(source), str(tmp_path / "out.zarr"))
    assert done.returncode == 0, done.stderr
    assert "converting: 8/8 planes, 2/2 wells" in done.stderr
    assert "converted 2 wells, 8 planes" in done.stdout
    again = platekit("convert", str(source), str(tmp_path / "out.zarr"))
    assert "already a complete conversion" in again.stdout
    quiet = platekit("convert", "-q", str(source), str(tmp_path / "q.zarr"))
    assert quiet.returncode == 0 and quiet.stdout == quiet.stderr == ""


def test_convert_errors_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    failed = platekit("convert", str(tmp_path / "nothing"), str(tmp_path / "out.zarr"))
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr and "is not a plate platekit can read" in failed.stderr
    wrong = platekit("convert", str(tmp_path / "nothing"))
    assert wrong.returncode == 1 and "PLATE and OUT.zarr" in wrong.stderr


def test_convert_an_example_and_inspect_it(tmp_path: Path) -> None:
    done = platekit("convert", "--example", "cellvoyager", str(tmp_path / "ex.zarr"))
    assert done.returncode == 0, done.stderr
    assert "wrote a synthetic cellvoyager plate" in done.stdout
    validate(tmp_path / "ex.zarr", "0.5")
    inspected = platekit("inspect", str(tmp_path / "ex.zarr"))
    assert inspected.returncode == 0, inspected.stderr
    assert "OME-Zarr HCS plate" in inspected.stdout and "wells          4" in inspected.stdout


def test_demo_says_what_it_does(tmp_path: Path) -> None:
    shown = platekit("demo", str(tmp_path / "demo"))
    assert shown.returncode == 0, shown.stderr
    assert "wrote a synthetic imagexpress plate" in shown.stdout
    assert "detected it as 'imagexpress'" in shown.stdout
    assert "converted 4 wells" in shown.stdout
    validate(tmp_path / "demo" / "ExamplePlate.zarr", "0.5")


def test_planes_the_plate_never_acquired_are_not_reported_missing(tmp_path: Path) -> None:
    import re

    # A Harmony index that lists a second field for A02 only: A01 has one field.
    source = write_plate("opera_phenix", tmp_path / "P", wells=["A01", "A02"], sites=2, shape=SHAPE)
    index = source / "Images" / "Index.idx.xml"
    text = index.read_text(encoding="utf-8-sig")
    text = re.sub(r"\s*<Image id=\"0101K1F2P1R1\" />", "", text)
    text = re.sub(
        r"\s*<Image Version=\"1\">\s*<id>0101K1F2P1R1</id>.*?</Image>", "", text, flags=re.S
    )
    index.write_text(text, encoding="utf-8")
    (source / "Images" / "r01c01f02p01-ch1sk1fk1fl1.tiff").unlink()
    assert open_plate(source).missing() == []

    result = convert(source, tmp_path / "out.zarr")
    assert result.missing == []
    assert [a.plane for a in result.not_acquired] == [PlaneKey("A01", 2)]
    assert result.planes_written == 3


WORKER_HANDLER = """
from platekit.microscopes.handlers.imagexpress import ImageXpressHandler


class CopiedHandler(ImageXpressHandler):
    _microscope_type = "imagexpress_copy"
"""

WORKER_RUN = """
import sys
import copied_handler
from platekit.microscopes import convert, open_plate

plate = open_plate(sys.argv[1], microscope="imagexpress_copy")
print(convert(plate, sys.argv[2], workers=2).wells_converted)
"""


@pytest.mark.slow
def test_workers_use_a_handler_that_no_entry_point_announces(tmp_path: Path) -> None:
    (tmp_path / "copied_handler.py").write_text(WORKER_HANDLER)
    source = small_plate(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", WORKER_RUN, str(source), str(tmp_path / "out.zarr")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"


def test_a_resumed_conversion_removes_what_a_killed_run_left_mid_write(tmp_path: Path) -> None:
    source = small_plate(tmp_path, wells=["A01", "A02", "B01", "B02"])
    whole = tmp_path / "whole.zarr"
    convert(source, whole)
    out = tmp_path / "out.zarr"
    stop = threading.Event()
    with pytest.raises(ConversionCancelled):
        convert(source, out, progress=lambda p: p.wells_done and stop.set(), cancel=stop)
    # What a run killed between writing a group's metadata and renaming it leaves.
    (out / "A" / "1" / ".platekit-tmp-0a1b2c3d4e5f").write_text('{"zarr_format": 3}')
    (out / "B").mkdir(exist_ok=True)
    (out / "B" / ".platekit-tmp-5f4e3d2c1b0a").write_text('{"zarr_format": 3}')
    convert(source, out)
    assert not list(out.rglob(".platekit-tmp-*"))
    assert array_hashes(out) == array_hashes(whole)


def test_rate_and_eta_after_a_resume_count_only_this_runs_planes(tmp_path: Path) -> None:
    from platekit.microscopes._convert import Progress
    from platekit.microscopes._progress import describe

    source = small_plate(tmp_path, wells=["A01", "A02", "B01", "B02"])
    out = tmp_path / "out.zarr"
    stop = threading.Event()
    with pytest.raises(ConversionCancelled):
        convert(source, out, progress=lambda p: p.wells_done >= 2 and stop.set(), cancel=stop)
    seen: list[Progress] = []
    convert(source, out, progress=seen.append)
    first = seen[0]
    assert first.done == first.done_before > 0
    assert first.rate == 0 and first.eta is None and "ETA" not in describe(first)
    for shown in seen:
        if shown.elapsed > 0:
            assert shown.rate == pytest.approx((shown.done - shown.done_before) / shown.elapsed)

    # 80 of 100 planes came from an earlier run, 10 from this one in 10 s: 1 plane/s, 10 s left.
    resumed = Progress(done=90, total=100, wells_done=0, wells_total=1, elapsed=10, done_before=80)
    assert resumed.rate == pytest.approx(1.0) and resumed.eta == pytest.approx(10.0)


def test_many_absent_planes_keep_every_groups_attributes_small(tmp_path: Path) -> None:
    # Only z 1 of each field and channel is there: 49 of every 50 planes are missing.
    spec = {"wells": ["A01", "B02"], "sites": 2, "channels": 2, "z": 50, "shape": (4, 4)}
    gone = [
        PlaneKey(well, site, channel, z)
        for well in spec["wells"]  # type: ignore[attr-defined]
        for site in (1, 2)
        for channel in (1, 2)
        for z in range(2, 51)
    ]
    source = write_plate("imagexpress", tmp_path / "P", missing=gone, **spec)  # type: ignore[arg-type]
    out = tmp_path / "out.zarr"
    result = convert(source, out)
    assert [a.plane for a in result.missing] == gone
    for group in (out, out / "A" / "1", out / "B" / "2"):
        assert (group / "zarr.json").stat().st_size < 4096
    assert root_attributes(out, "0.5") is not None
    recorded = zarr.open_group(str(out), mode="r").attrs["platekit"]["absent_planes"]
    assert recorded == {"missing": len(gone), "not_acquired": 0, "bad": 0}

    again = convert(source, out)
    assert again.already_complete and again.absent == result.absent

    # A resume lists the absent planes of the wells an earlier run completed too.
    resumed = tmp_path / "resumed.zarr"
    stop = threading.Event()
    with pytest.raises(ConversionCancelled):
        convert(source, resumed, progress=lambda p: p.wells_done and stop.set(), cancel=stop)
    assert convert(source, resumed).absent == result.absent
