from __future__ import annotations

import string
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr
from hypothesis import given
from hypothesis import strategies as st

from platekit.microscopes import (
    Channel,
    PlaneKey,
    PlaneName,
    PlateFormatError,
    convert,
    open_plate,
    well_name,
)
from platekit.microscopes.handlers.cellvoyager import CellVoyagerParser
from platekit.microscopes.testing import expected_pixels, write_plate
from platekit.microscopes.testing.contract import HandlerContract

BTS = "http://www.yokogawa.co.jp/BTS/BTSSchema/1.0"
CHANNEL_1 = (
    '<bts:MeasurementChannel bts:Ch="1" bts:HorizontalPixelDimension="0.325" '
    'bts:HorizontalPixels="8" bts:VerticalPixels="4" bts:InputBitDepth="16"/>'
)
PLATE_96 = 'bts:RowCount="8" bts:ColumnCount="12" bts:FieldCount="1" bts:ZCount="1"'


class TestCellVoyager(HandlerContract):
    kind = "cellvoyager"


def handmade(
    folder: Path,
    records: list[tuple[str, str]],
    *,
    detail: str = PLATE_96,
    channels: str = CHANNEL_1,
    absent: tuple[str, ...] = (),
) -> Path:
    """A plate from MLF records given as (attributes, file name); every file but ``absent``."""
    folder.mkdir()
    body = "\n".join(
        f"  <bts:MeasurementRecord {attrs}>{name}</bts:MeasurementRecord>"
        for attrs, name in records
    )
    (folder / "MeasurementData.mlf").write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n'
        f'<bts:MeasurementData xmlns:bts="{BTS}" bts:Version="1.0">\n{body}\n'
        "</bts:MeasurementData>\n",
        encoding="utf-8",
    )
    (folder / "MeasurementDetail.mrf").write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n'
        f'<bts:MeasurementDetail xmlns:bts="{BTS}" bts:Version="1.0" {detail}>\n'
        f"  {channels}\n</bts:MeasurementDetail>\n",
        encoding="utf-8",
    )
    for attrs, name in records:
        if 'Type="IMG"' in attrs and name not in absent:
            tifffile.imwrite(folder / name, np.zeros((4, 8), dtype=np.uint16))
    return folder


def image(field: object = 1, z: int = 1, ch: int = 1, action: int = 1, **more: object) -> str:
    """A Type="IMG" record's attributes for well A01 at time point 1, timeline 1."""
    values: dict[str, object] = {
        "Type": "IMG",
        "Row": 1,
        "Column": 1,
        "TimePoint": 1,
        "FieldIndex": field,
        "ZIndex": z,
        "TimelineIndex": 1,
        "ActionIndex": action,
        "Action": "2D",
        "Ch": ch,
        **more,
    }
    return " ".join(f'bts:{name}="{value}"' for name, value in values.items())


def name(field: int = 1, z: int = 1, ch: int = 1, action: int = 1, timeline: int = 1) -> str:
    return f"P_A01_T0001F{field:03d}L{timeline:02d}A{action:02d}Z{z:02d}C{ch:02d}.tif"


# -- file names -----------------------------------------------------------------------

_PREFIX = st.text(alphabet=string.ascii_letters + string.digits + "_-. #()", max_size=20)


@st.composite
def plane_names(draw: st.DrawFn) -> PlaneName:
    row = draw(st.integers(1, 32))
    column = draw(st.integers(1, 48))
    return PlaneName(
        well=well_name(row, column),
        site=draw(st.integers(1, 1200)),
        channel=draw(st.integers(1, 120)),
        z_index=draw(st.integers(1, 120)),
        timepoint=draw(st.integers(1, 12000)),
        prefix=draw(_PREFIX),
        extension=draw(st.sampled_from([".tif", ".tiff", ".TIF"])),
        extra=(
            ("timeline", str(draw(st.integers(1, 120)))),
            ("action", str(draw(st.integers(1, 120)))),
        ),
    )


@given(plane_names())
def test_names_round_trip(plane: PlaneName) -> None:
    parser = CellVoyagerParser()
    formatted = parser.format(plane)
    parsed = parser.parse(formatted)
    assert parsed == plane
    assert parsed is not None and parser.format(parsed) == formatted


def test_a_name_says_every_part() -> None:
    parsed = CellVoyagerParser().parse("My_Plate_2_D08_T0003F012L02A04Z05C06.tif")
    assert parsed is not None
    assert (parsed.prefix, parsed.well) == ("My_Plate_2", "D08")
    assert (parsed.timepoint, parsed.site, parsed.z_index, parsed.channel) == (3, 12, 5, 6)
    assert (parsed.get("timeline"), parsed.get("action")) == ("2", "4")


def test_numbers_longer_than_their_padding_are_read() -> None:
    parsed = CellVoyagerParser().parse("P_D08_T10000F1000L100A10Z100C100.tif")
    assert parsed is not None
    assert (parsed.timepoint, parsed.site, parsed.z_index, parsed.channel) == (
        10000,
        1000,
        100,
        100,
    )
    assert (parsed.get("timeline"), parsed.get("action")) == ("100", "10")


@pytest.mark.parametrize(
    "other",
    [
        "SC_BP405_BP445.tif",
        "DC_sCMOS #1_CAM1.tif",
        "MeasurementData.mlf",
        "Plate1.wpi",
        "Plate1_D08_T0001F001L01A01Z01.tif",  # no channel
        "Plate1_D08_T0001F001L01A01Z01C01.png",
        "Plate1_D8_T0001F001L01A01Z01C01.tif",  # the software pads columns to two digits
        "Plate1_D08_T00001F001L01A01Z01C01.tif",  # nor pads further than four
        "Plate1_D08_T0001F001L01A01Z01C001.tif",  # nor a channel further than two
        "Plate1_d08_T0001F001L01A01Z01C01.tif",
    ],
)
def test_other_files_are_not_planes(other: str) -> None:
    assert CellVoyagerParser().parse(other) is None


# -- what the synthetic plate holds besides planes --------------------------------------


def test_correction_images_and_error_records_are_skipped(tmp_path: Path) -> None:
    folder = write_plate(
        "cellvoyager", tmp_path / "P", wells=["A01", "B02"], sites=2, channels=3, error_records=3
    )
    assert {"SC_BP405_BP445.tif", "DC_sCMOS #1_CAM1.tif"} <= {p.name for p in folder.iterdir()}
    assert (folder / "MeasurementData.mlf").read_text().count('bts:Type="ERR"') == 3
    plate = open_plate(folder)
    # The error records name fields 3 to 5 of A01: none of them is a site or a missing plane.
    assert plate.metadata.sites == [1, 2]
    assert plate.missing() == []
    addresses = [address for _, address in plate.planes()]
    assert len(addresses) == 2 * 2 * 3
    assert not [a for a in addresses if a.startswith(("SC_", "DC_"))]


def test_error_records_carry_what_the_cv8000_writes(tmp_path: Path) -> None:
    # As in the CV8000's own MeasurementData.mlf: the field's stage X and Y, its time
    # point and timeline, and no Z, action or channel (cellvoyager-types, which
    # fractal-uzh-converters reads with, refuses an error record without X and Y).
    folder = write_plate("cellvoyager", tmp_path / "P", wells=["A01"], sites=2, error_records=2)
    namespace = "{http://www.yokogawa.co.jp/BTS/BTSSchema/1.0}"
    root = ET.parse(folder / "MeasurementData.mlf").getroot()
    errors = [r for r in root if r.get(f"{namespace}Type") == "ERR"]
    assert len(errors) == 2
    for record in errors:
        names = {name.removeprefix(namespace) for name in record.attrib}
        assert names == {
            "Type",
            "Time",
            "Column",
            "Row",
            "TimePoint",
            "FieldIndex",
            "TimelineIndex",
            "X",
            "Y",
        }
        float(record.get(f"{namespace}X", "")), float(record.get(f"{namespace}Y", ""))


def test_channels_carry_what_the_cv8000_writes(tmp_path: Path) -> None:
    # cellvoyager-types, which fractal-uzh-converters reads with, requires the filter wheel
    # and filter positions of each channel, as the CV8000's MeasurementDetail.mrf has them.
    folder = write_plate("cellvoyager", tmp_path / "P", channels=3, shape=(32, 48))
    namespace = "{http://www.yokogawa.co.jp/BTS/BTSSchema/1.0}"
    root = ET.parse(folder / "MeasurementDetail.mrf").getroot()
    channels = [c for c in root if c.tag == f"{namespace}MeasurementChannel"]
    assert channels
    for channel in channels:
        values = {name.removeprefix(namespace): value for name, value in channel.attrib.items()}
        assert int(values["FilterWheelPosition"]) >= 1 and int(values["FilterPosition"]) >= 1
        assert values["ObjectiveMagnificationRatio"] == "1"
        assert (values["OriginalHorizontalPixels"], values["OriginalVerticalPixels"]) == (
            "48",
            "32",
        )


def test_without_correction_images_or_error_records(tmp_path: Path) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P", correction_images=False, error_records=0)
    assert not [p for p in folder.iterdir() if p.name.startswith(("SC_", "DC_"))]
    assert 'Type="ERR"' not in (folder / "MeasurementData.mlf").read_text()
    assert len(list(open_plate(folder).planes())) == 2


@pytest.mark.parametrize("model", ["CV7000", "CV8000", "CQ1"])
def test_every_model_reads_alike(tmp_path: Path, model: str) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P", channels=2, model=model)
    plate = open_plate(folder)
    assert plate.metadata.extra["instrument"] == model
    for key, _ in plate.planes():
        np.testing.assert_array_equal(plate.read_plane(key), expected_pixels(key))


def test_plain_attributes_read_as_namespaced_ones(tmp_path: Path) -> None:
    spelled = {}
    for namespaced in (True, False):
        folder = write_plate(
            "cellvoyager",
            tmp_path / f"P{namespaced}",
            name="P",
            sites=2,
            z=3,
            t=2,
            pixel_size_um=0.108,
            namespaced_attributes=namespaced,
        )
        assert (' bts:Type="IMG"' in (folder / "MeasurementData.mlf").read_text()) is namespaced
        spelled[namespaced] = open_plate(folder)
    plain, namespaced_plate = spelled[False], spelled[True]
    assert list(plain.planes()) == list(namespaced_plate.planes())
    assert plain.metadata.pixel_size_um == pytest.approx(0.108)
    assert plain.metadata.positions == namespaced_plate.metadata.positions
    assert plain.metadata.z_step_um == namespaced_plate.metadata.z_step_um == pytest.approx(2.0)


def test_a_plate_name_with_underscores(tmp_path: Path) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P", name="Screen_2024_05_plate_3", z=2)
    plate = open_plate(folder)
    assert plate.metadata.name == "Screen_2024_05_plate_3"
    assert plate.metadata.wells == ["A01", "A02"]
    assert plate.metadata.z_count == 2


def test_writer_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not take"):
        write_plate("cellvoyager", tmp_path / "A", thumbnails=True)
    with pytest.raises(ValueError, match="not a CellVoyager"):
        write_plate("cellvoyager", tmp_path / "B", model="CV1000")
    with pytest.raises(ValueError, match="uint16"):
        write_plate("cellvoyager", tmp_path / "C", dtype="uint8")
    with pytest.raises(ValueError, match="timelines"):
        write_plate("cellvoyager", tmp_path / "D", t=2, timelines=3)


# -- metadata -------------------------------------------------------------------------


def test_plate_size_pixel_size_and_shape_come_from_the_mrf(tmp_path: Path) -> None:
    folder = write_plate(
        "cellvoyager",
        tmp_path / "P",
        wells=["P24"],
        plate_format=(16, 24),
        pixel_size_um=0.325,
        shape=(20, 30),
        channels=2,
    )
    meta = open_plate(folder).metadata
    assert (meta.rows, meta.columns) == (16, 24)
    assert meta.pixel_size_um == pytest.approx(0.325)
    assert meta.image_shape == (20, 30)
    assert meta.dtype == "uint16"
    assert meta.extra["input_bit_depth"] == {"1": 16, "2": 16}
    assert meta.extra["measurement_setting"] == "CV8000_2ch.mes"
    assert (folder / "CV8000_2ch.mes").is_file()


def test_positions_z_step_and_start_time(tmp_path: Path) -> None:
    records = [
        (
            image(
                field=1,
                z=1,
                X="-325.5",
                Y="162.25",
                Z="3001.0",
                Action="3D",
                Time="2023-02-01T09:00:00.100+09:00",
            ),
            name(1, 1),
        ),
        (
            image(
                field=1,
                z=2,
                X="-325.5",
                Y="162.25",
                Z="3001.8",
                Action="3D",
                Time="2023-02-01T09:00:00.200+09:00",
            ),
            name(1, 2),
        ),
        (image(field=2, z=1, X="325.5", Y="-162.25", Z="2999.5", Action="3D"), name(2, 1)),
        (image(field=2, z=2, X="325.5", Y="-162.25", Z="3000.3", Action="3D"), name(2, 2)),
    ]
    detail = PLATE_96.replace('FieldCount="1" bts:ZCount="1"', 'FieldCount="2" bts:ZCount="2"')
    meta = open_plate(handmade(tmp_path / "P", records, detail=detail)).metadata
    assert meta.positions[PlaneKey("A01", 1, 1, 2, 1)] == (-325.5, 162.25, 3001.8)
    assert meta.positions[PlaneKey("A01", 2, 1, 1, 1)] == (325.5, -162.25, 2999.5)
    assert len(meta.positions) == 4
    assert meta.z_step_um == pytest.approx(0.8)
    assert meta.extra["start_time"] == "2023-02-01T09:00:00.100+09:00"
    assert meta.pixel_size_um == pytest.approx(0.325)


def test_a_record_without_row_and_column_takes_the_well_from_its_name(tmp_path: Path) -> None:
    attrs = 'bts:Type="IMG" bts:Ch="1"'
    folder = handmade(
        tmp_path / "P",
        [(attrs, "P_C05_T0002F001L01A01Z01C01.tif")],
        detail='bts:RowCount="8" bts:ColumnCount="12"',
    )
    plate = open_plate(folder)
    assert [key for key, _ in plate.planes()] == [PlaneKey("C05", 1, 1, 1, 2)]
    assert plate.missing() == [PlaneKey("C05", 1, 1, 1, 1)]


# -- several timelines and actions ----------------------------------------------------


def test_time_points_count_across_timelines(tmp_path: Path) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P", wells=["A01"], t=5, timelines=2)
    # As on the instrument: timeline 2 goes on with TimePoint 4, not 1 again.
    assert {p.name for p in folder.glob("P_*.tif")} == {
        f"P_A01_T{timepoint:04d}F001L{timeline:02d}A01Z01C01.tif"
        for timeline, timepoint in [(1, 1), (1, 2), (1, 3), (2, 4), (2, 5)]
    }
    plate = open_plate(folder)
    assert plate.metadata.t_count == 5
    assert plate.metadata.extra["timelines"] == {"1": [1, 3], "2": [4, 5]}
    assert [key.timepoint for key, _ in plate.planes()] == [1, 2, 3, 4, 5]
    assert plate.missing() == []
    for key, _ in plate.planes():
        np.testing.assert_array_equal(plate.read_plane(key), expected_pixels(key), str(key))


def test_timeline_k_at_time_point_k_is_not_added_up(tmp_path: Path) -> None:
    # Four timelines of one time point each, as a CV8000 QC measurement writes them.
    records = [
        (
            image(ch=k, TimePoint=k, TimelineIndex=k),
            f"P_A01_T{k:04d}F001L{k:02d}A01Z01C{k:02d}.tif",
        )
        for k in (1, 2, 3, 4)
    ]
    channels = "".join(CHANNEL_1.replace('Ch="1"', f'Ch="{k}"') for k in (1, 2, 3, 4))
    detail = PLATE_96 + ' bts:TimePointCount="4"'
    plate = open_plate(handmade(tmp_path / "P", records, detail=detail, channels=channels))
    assert plate.metadata.t_count == 4
    assert [(key.channel, key.timepoint) for key, _ in plate.planes()] == [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
    ]
    assert plate.metadata.extra["timelines"] == {str(k): [k, k] for k in (1, 2, 3, 4)}
    # Channel 1 at t 2 was never to be taken: not missing, and inspect says why.
    assert plate.missing() == []
    assert any("timelines take different" in notice for notice in plate.metadata.notices)


def test_timelines_taking_one_channel_each(tmp_path: Path) -> None:
    folder = write_plate(
        "cellvoyager", tmp_path / "P", channels=2, t=4, timelines=2, channel_per_timeline=True
    )
    mlf = ET.parse(folder / "MeasurementData.mlf").getroot()
    taken = {
        tuple(r.get(f"{{{BTS}}}{part}") for part in ("TimelineIndex", "TimePoint", "Ch"))
        for r in mlf
        if r.get(f"{{{BTS}}}Type") == "IMG"
    }
    assert taken == {("1", "1", "1"), ("1", "2", "1"), ("2", "3", "2"), ("2", "4", "2")}
    plate = open_plate(folder)
    assert sorted(plate.metadata.channels) == [1, 2]
    assert plate.metadata.t_count == 4
    assert {(key.channel, key.timepoint) for key, _ in plate.planes()} == {
        (1, 1),
        (1, 2),
        (2, 3),
        (2, 4),
    }
    assert plate.missing() == []
    for key, _ in plate.planes():
        np.testing.assert_array_equal(plate.read_plane(key), expected_pixels(key), str(key))


def test_actions_with_their_own_ch_keep_it(tmp_path: Path) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P", channels=3, actions="per_channel")
    assert (folder / "P_A01_T0001F001L01A03Z01C03.tif").is_file()
    plate = open_plate(folder)
    assert plate.handler.metadata().channels(folder) == {1: "405", 2: "488", 3: "561"}
    assert "channel_sources" not in plate.metadata.extra


def test_actions_sharing_a_ch_become_channels_of_their_own(tmp_path: Path) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P", channels=3, z=2, actions="shared_ch")
    assert (folder / "P_A01_T0001F001L01A03Z02C01.tif").is_file()
    plate = open_plate(folder)
    meta = plate.metadata
    assert {n: c.name for n, c in meta.channels.items()} == {
        1: "405 (action 1)",
        2: "405 (action 2)",
        3: "405 (action 3)",
    }
    assert meta.extra["channel_sources"]["3"] == {"action": 3, "ch": 1}
    assert plate.missing() == []
    for key, _ in plate.planes():
        np.testing.assert_array_equal(plate.read_plane(key), expected_pixels(key), str(key))


def test_a_2d_action_in_a_3d_plate_has_one_plane(tmp_path: Path) -> None:
    records = [(image(z=z, Action="3D"), name(z=z)) for z in (1, 2, 3)]
    records.append((image(ch=2, action=2, Action="2D"), name(ch=2, action=2)))
    channels = CHANNEL_1 + CHANNEL_1.replace('Ch="1"', 'Ch="2"')
    detail = PLATE_96.replace('ZCount="1"', 'ZCount="3"')
    plate = open_plate(handmade(tmp_path / "P", records, detail=detail, channels=channels))
    assert plate.metadata.z_count == 3
    assert sorted(plate.metadata.channels) == [1, 2]
    assert plate.missing() == []
    assert len(list(plate.planes())) == 4


# -- missing planes -------------------------------------------------------------------


def test_planes_the_mrf_counts_but_no_record_lists_are_missing(tmp_path: Path) -> None:
    records = [(image(field=1), name(field=1)), (image(field=2), name(field=2))]
    detail = PLATE_96.replace('FieldCount="1"', 'FieldCount="3"')
    plate = open_plate(handmade(tmp_path / "P", records, detail=detail, absent=(name(2),)))
    assert plate.metadata.sites == [1, 2, 3]
    assert plate.missing() == [PlaneKey("A01", 2), PlaneKey("A01", 3)]
    assert [key for key, _ in plate.planes()] == [PlaneKey("A01", 1)]


def test_a_channel_the_mrf_defines_but_nothing_acquires_is_left_out(tmp_path: Path) -> None:
    channels = CHANNEL_1 + CHANNEL_1.replace('Ch="1"', 'Ch="2"')
    plate = open_plate(handmade(tmp_path / "P", [(image(), name())], channels=channels))
    assert sorted(plate.metadata.channels) == [1]
    assert plate.missing() == []
    assert plate.metadata.extra["unacquired_channels"] == [2]
    assert plate.metadata.notices == [
        "Ch2 is defined in MeasurementDetail.mrf but not acquired (MeasurementData.mlf has no "
        "image of it): left out of the plate"
    ]


def test_a_channel_the_setting_acquires_but_no_record_has_is_missing(tmp_path: Path) -> None:
    channels = CHANNEL_1 + CHANNEL_1.replace('Ch="1"', 'Ch="2"')
    detail = PLATE_96 + ' bts:MeasurementSettingFileName="S.mes"'
    folder = handmade(tmp_path / "P", [(image(), name())], channels=channels, detail=detail)
    (folder / "S.mes").write_text(
        f'<bts:MeasurementSetting xmlns:bts="{BTS}"><bts:Timelapse><bts:Timeline><bts:ActionList>'
        "<bts:ActionAcquire2D><bts:Ch>1</bts:Ch></bts:ActionAcquire2D>"
        "<bts:ActionAcquire2D><bts:Ch>2</bts:Ch></bts:ActionAcquire2D>"
        "</bts:ActionList></bts:Timeline></bts:Timelapse></bts:MeasurementSetting>"
    )
    plate = open_plate(folder)
    assert sorted(plate.metadata.channels) == [1, 2]
    assert plate.missing() == [PlaneKey("A01", 1, 2)]
    assert plate.metadata.notices == []


def test_a_setting_numbering_its_actions_otherwise_adds_no_channel(tmp_path: Path) -> None:
    records = [(image(ch=1, action=1), name(ch=1, action=1))]
    records.append((image(ch=2, action=2), name(ch=2, action=2)))
    channels = CHANNEL_1 + CHANNEL_1.replace('Ch="1"', 'Ch="2"')
    detail = PLATE_96 + ' bts:MeasurementSettingFileName="S.mes"'
    folder = handmade(tmp_path / "P", records, channels=channels, detail=detail)
    # The setting takes Ch 2 first: its action numbers do not match the records'.
    (folder / "S.mes").write_text(
        f'<bts:MeasurementSetting xmlns:bts="{BTS}"><bts:Timelapse><bts:Timeline><bts:ActionList>'
        "<bts:ActionAcquire2D><bts:Ch>2</bts:Ch></bts:ActionAcquire2D>"
        "<bts:ActionAcquire2D><bts:Ch>1</bts:Ch></bts:ActionAcquire2D>"
        "</bts:ActionList></bts:Timeline></bts:Timelapse></bts:MeasurementSetting>"
    )
    plate = open_plate(folder)
    assert sorted(plate.metadata.channels) == [1, 2]
    assert "channel_sources" not in plate.metadata.extra
    assert plate.missing() == []


def test_without_records_or_setting_every_defined_channel_is_kept(tmp_path: Path) -> None:
    channels = CHANNEL_1 + CHANNEL_1.replace('Ch="1"', 'Ch="2"')
    plate = open_plate(handmade(tmp_path / "P", [], channels=channels))
    assert sorted(plate.metadata.channels) == [1, 2]
    assert plate.metadata.wells == []


def test_synthetic_unacquired_channels_are_defined_and_left_out(tmp_path: Path) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P", channels=2, unacquired_channels=2)
    mrf = ET.parse(folder / "MeasurementDetail.mrf").getroot()
    defined = [c.get(f"{{{BTS}}}Ch") for c in mrf if c.tag == f"{{{BTS}}}MeasurementChannel"]
    assert defined == ["1", "2", "3", "4"]
    plate = open_plate(folder)
    meta = plate.metadata
    assert sorted(meta.channels) == [1, 2]
    assert plate.missing() == []
    assert meta.extra["unacquired_channels"] == [3, 4]
    assert meta.notices == [
        "Ch3 and Ch4 are defined in MeasurementDetail.mrf but not acquired "
        "(MeasurementData.mlf has no image of them and CV8000_2ch.mes does not acquire them): "
        "left out of the plate"
    ]
    out = tmp_path / "out.zarr"
    convert(folder, out)
    array = zarr.open_array(str(out / "A" / "1" / "0" / "0"), mode="r")
    # A plate of one z plane and one time point is stored as (c, y, x).
    assert array.shape == (2, 64, 64)


def test_channel_names_colours_and_wavelengths_come_from_the_setting(tmp_path: Path) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P", channels=2)
    channels = open_plate(folder).metadata.channels
    assert channels[1] == Channel(1, "405", 405.0, 445.0, "1B54FF")
    assert channels[2] == Channel(2, "488", 488.0, 525.0, "00FFA1")


def test_an_unreadable_setting_leaves_the_records_to_say(tmp_path: Path) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P", channels=2)
    (folder / "CV8000_2ch.mes").write_text("<bts:MeasurementSetting")
    plate = open_plate(folder)
    assert sorted(plate.metadata.channels) == [1, 2]
    assert plate.metadata.channels[1].name == "Ch1"
    (notice,) = plate.metadata.notices
    assert "CV8000_2ch.mes" in notice and "could not be read" in notice


# -- projections ----------------------------------------------------------------------


def test_maximum_projections_are_read_as_the_one_z_plane(tmp_path: Path) -> None:
    projected = {"Action": "3D", "ZImageProcessing": "Maximum"}
    records = [(image(ch=1, **projected), name(ch=1))]
    records += [
        (image(z=z, ch=2, action=2, Action="3D"), name(z=z, ch=2, action=2)) for z in (1, 2, 3)
    ]
    channels = CHANNEL_1 + CHANNEL_1.replace('Ch="1"', 'Ch="2"')
    detail = PLATE_96.replace('ZCount="1"', 'ZCount="3"')
    plate = open_plate(handmade(tmp_path / "P", records, detail=detail, channels=channels))
    assert plate.metadata.z_count == 3
    assert next(key for key, _ in plate.planes()) == PlaneKey("A01", 1, 1, 1)
    # Channel 1's z 2 and 3 were never to be taken: a projection is one plane.
    assert plate.missing() == []
    assert plate.metadata.extra["z_projections"] == {"1": "Maximum"}
    assert plate.metadata.notices == [
        "channel 1 holds maximum projections the instrument made of z stacks "
        "(ZImageProcessing): each field's projection is read as its one z plane"
    ]


# -- broken plates --------------------------------------------------------------------


def test_a_malformed_mlf_names_its_file_and_line(tmp_path: Path) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P")
    mlf = folder / "MeasurementData.mlf"
    lines = mlf.read_text().splitlines()
    lines[3] = lines[3].replace("</bts:MeasurementRecord>", "")
    mlf.write_text("\n".join(lines))
    with pytest.raises(PlateFormatError, match=r"MeasurementData\.mlf, line \d+") as caught:
        open_plate(folder)
    assert caught.value.path == str(mlf)
    assert caught.value.line is not None and caught.value.line >= 4


def test_an_mlf_declaring_an_entity_is_refused(tmp_path: Path) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P")
    mlf = folder / "MeasurementData.mlf"
    head, rest = mlf.read_text().split("\n", 1)
    mlf.write_text(f'{head}\n<!DOCTYPE d [<!ENTITY lol "lol">]>\n{rest}')
    with pytest.raises(PlateFormatError, match="refused") as caught:
        open_plate(folder)
    assert caught.value.path == str(mlf)
    assert caught.value.line == 2


def test_a_record_with_a_bad_number_names_the_record_and_its_line(tmp_path: Path) -> None:
    records = [(image(), name()), (image(field="two"), name(field=2))]
    with pytest.raises(PlateFormatError, match=r"line 4: image record 2 .*FieldIndex='two'"):
        open_plate(handmade(tmp_path / "P", records))


def test_a_foreign_root_is_not_measurement_data(tmp_path: Path) -> None:
    folder = handmade(tmp_path / "P", [(image(), name())])
    (folder / "MeasurementData.mlf").write_text("<Experiment/>")
    with pytest.raises(PlateFormatError, match="root element is <Experiment>"):
        open_plate(folder, microscope="cellvoyager")


def test_a_missing_mrf_says_what_to_do(tmp_path: Path) -> None:
    folder = write_plate("cellvoyager", tmp_path / "P")
    (folder / "MeasurementDetail.mrf").unlink()
    with pytest.raises(FileNotFoundError, match=r"no MeasurementDetail\.mrf.*copy it back"):
        open_plate(folder)
