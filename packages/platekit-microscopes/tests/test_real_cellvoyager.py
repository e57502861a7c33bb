"""Real CellVoyager exports (the cellvoyager-types test resources) read as their files say.

What each export should give is counted here from its MLF, MRF and
measurement setting with a plain XML parse, not with the handler's reader.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

from platekit.microscopes import PlaneKey, convert, open_plate, well_name
from platekit.microscopes._ngff import well_path

BTS = "{http://www.yokogawa.co.jp/BTS/BTSSchema/1.0}"
CV8000 = "CV8000-Minimal-DataSet-2C-3W-4S-FP2-stack"
# The top-level export (four timelines), the metadata-only CV7000 exports, the CV8000
# export with its TIFFs, and a CV8000 export whose MLF records autofocus errors.
EXPORTS = [".", "CV7000-example", "CV7000_z_processed", CV8000, "CV8000_AF_Error"]


@dataclass
class Export:
    """What an export's own files say."""

    images: dict[PlaneKey, str]
    #: (well, field, timeline, TimePoint) of every Type="ERR" record.
    errors: list[tuple[str, int, int, int]]
    #: Timeline -> the Ch numbers its records acquire.
    timeline_chs: dict[int, set[int]]
    defined_chs: list[int]
    counts: dict[str, int]
    projections: set[int]


def attributes(element: ET.Element) -> dict[str, str]:
    return {name.removeprefix(BTS): value for name, value in element.attrib.items()}


def read_export(folder: Path) -> Export:
    images: dict[PlaneKey, str] = {}
    errors: list[tuple[str, int, int, int]] = []
    timeline_chs: dict[int, set[int]] = {}
    projections: set[int] = set()
    for record in ET.parse(folder / "MeasurementData.mlf").getroot():
        a = attributes(record)
        well = well_name(int(a["Row"]), int(a["Column"]))
        if a["Type"] != "IMG":
            errors.append(
                (well, int(a["FieldIndex"]), int(a["TimelineIndex"]), int(a["TimePoint"]))
            )
            continue
        ch = int(a["Ch"])
        key = PlaneKey(well, int(a["FieldIndex"]), ch, int(a["ZIndex"]), int(a["TimePoint"]))
        images[key] = record.text or ""
        timeline_chs.setdefault(int(a["TimelineIndex"]), set()).add(ch)
        if a.get("ZImageProcessing"):
            projections.add(ch)
    detail = ET.parse(folder / "MeasurementDetail.mrf").getroot()
    defined = [int(attributes(c)["Ch"]) for c in detail if c.tag == f"{BTS}MeasurementChannel"]
    counts = {
        name: int(attributes(detail)[name])
        for name in ("RowCount", "ColumnCount", "FieldCount", "ZCount", "TimePointCount")
    }
    return Export(images, errors, timeline_chs, defined, counts, projections)


@pytest.fixture(scope="module", params=EXPORTS)
def export(request: pytest.FixtureRequest, cellvoyager_exports: Path) -> Path:
    return cellvoyager_exports / request.param


def test_counts_follow_the_mlf_and_the_mrf(export: Path) -> None:
    said = read_export(export)
    meta = open_plate(export).metadata
    acquired = sorted({key.channel for key in said.images})
    assert (meta.rows, meta.columns) == (said.counts["RowCount"], said.counts["ColumnCount"])
    assert meta.wells == sorted({key.well for key in said.images})
    assert meta.sites == list(range(1, said.counts["FieldCount"] + 1))
    assert sorted(meta.channels) == acquired
    assert meta.z_count == said.counts["ZCount"]
    # TimePoint counts across timelines: the MRF's count, not the timelines' counts added up.
    assert meta.t_count == said.counts["TimePointCount"]
    assert meta.t_count == max(key.timepoint for key in said.images)
    unacquired = sorted(set(said.defined_chs) - set(acquired))
    assert meta.extra.get("unacquired_channels", []) == unacquired


def test_planes_are_where_the_records_put_them(export: Path) -> None:
    said = read_export(export)
    plate = open_plate(export)
    present = {key: file for key, file in said.images.items() if (export / file).is_file()}
    assert dict(plate.planes()) == present
    # Every record whose file is absent is missing, and so is every plane of a field the
    # instrument failed to image (an ERR record); nothing the timelines did not take is.
    failed = {
        PlaneKey(well, field, ch, z, timepoint)
        for well, field, timeline, timepoint in said.errors
        for ch in said.timeline_chs[timeline]
        for z in range(1, said.counts["ZCount"] + 1)
    }
    absent = {key for key in said.images if key not in present}
    assert set(plate.missing()) == absent | failed


def test_a_metadata_only_export_reports_every_plane_missing(cellvoyager_exports: Path) -> None:
    folder = cellvoyager_exports / "CV7000-example"
    said = read_export(folder)
    plate = open_plate(folder)
    assert list(plate.planes()) == []
    assert len(plate.missing()) == len(said.images) == 4 * 16 * 31
    # Four timelines, each one well and one channel at its own time point.
    assert {(key.well, key.channel, key.timepoint) for key in plate.missing()} == {
        ("C03", 1, 1),
        ("D03", 2, 2),
        ("E03", 3, 3),
        ("F03", 4, 4),
    }
    assert plate.metadata.extra["timelines"] == {str(k): [k, k] for k in (1, 2, 3, 4)}


def test_inspect_says_which_defined_channels_were_not_acquired(
    cellvoyager_exports: Path,
) -> None:
    folder = cellvoyager_exports / "CV7000-example"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "platekit.registry", "inspect", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "time points    4" in done.stdout
    assert "channel 5" not in done.stdout and "channel 6" not in done.stdout
    assert "1984 missing" in done.stdout
    assert (
        "Ch5 and Ch6 are defined in MeasurementDetail.mrf but not acquired "
        "(MeasurementData.mlf has no image of them and QC_dyes_20x__Cellvis_glass.mes does not "
        "acquire them): left out of the plate"
    ) in done.stdout


def test_channel_names_and_colours_come_from_the_setting(cellvoyager_exports: Path) -> None:
    folder = cellvoyager_exports / "CV7000_z_processed"
    setting = ET.parse(folder / "20240123-TDW-60xW-565-647.mes").getroot()
    written = {
        int(attributes(c)["Ch"]): (attributes(c)["Target"], attributes(c)["Color"][3:])
        for c in setting.iter(f"{BTS}Channel")
    }
    channels = open_plate(folder).metadata.channels
    assert {n: (c.name, c.color) for n, c in channels.items()} == {
        ch: written[ch] for ch in (1, 3, 4)
    }
    assert (channels[3].excitation_nm, channels[3].emission_nm) == (561.0, 600.0)


def test_instrument_projections_are_the_one_z_plane(cellvoyager_exports: Path) -> None:
    folder = cellvoyager_exports / "CV7000_z_processed"
    said = read_export(folder)
    meta = open_plate(folder).metadata
    assert said.projections == {1, 3, 4}
    assert meta.z_count == 1
    assert meta.extra["z_projections"] == {"1": "Maximum", "3": "Maximum", "4": "Maximum"}
    assert any("maximum projections" in notice for notice in meta.notices)
    assert any("Ch2 and Ch5" in notice for notice in meta.notices)


def test_cv8000_pixels_are_the_tiffs(cellvoyager_exports: Path) -> None:
    folder = cellvoyager_exports / CV8000
    plate = open_plate(folder)
    planes = list(plate.planes())
    assert len(planes) == 2 * 3 * 4 * 4
    # Every seventh plane: each (channel, z) pair turns up, in different wells and fields.
    for key, file in planes[::7]:
        pixels = plate.read_plane(key)
        assert pixels.dtype == np.uint16 and pixels.shape == (2000, 2000), key
        np.testing.assert_array_equal(pixels, tifffile.imread(folder / file), str(key))


def test_cv8000_converts(cellvoyager_exports: Path, tmp_path: Path) -> None:
    folder = cellvoyager_exports / CV8000
    out = tmp_path / "cv8000.zarr"
    result = convert(folder, out)
    assert result.planes_written == 96
    assert result.missing == [] and result.not_acquired == []
    plate = open_plate(folder)
    for key, file in [next(iter(plate.planes())), list(plate.planes())[-1]]:
        field = zarr.open_array(str(out / well_path(key.well) / str(key.site - 1) / "0"), mode="r")
        # One time point: the arrays are (c, z, y, x).
        assert field.shape == (2, 4, 2000, 2000)
        np.testing.assert_array_equal(
            field[key.channel - 1, key.z_index - 1], tifffile.imread(folder / file), str(key)
        )
    # The channels are labelled and coloured as the measurement setting sets them up.
    image = zarr.open_group(str(out / well_path("D08") / "0"), mode="r")
    shown = image.attrs.asdict()["ome"]["omero"]["channels"]
    assert [(c["label"], c["color"]) for c in shown] == [("405", "002FFF"), ("488", "00FFA1")]
