"""Harmony indexes and CellVoyager MLFs read in one pass give what an ElementTree reading gives.

The readers under test stream the XML through expat and keep only what they
use. The references here parse the whole file with ElementTree and read it
the plain way; both must agree on real vendor exports, on synthetic plates and
on hand-made files that try the corners (namespaces, repeated children, text
split by comments or children, sections out of order). What the plates open
as is compared too: for the real exports, with fingerprints recorded from the
ElementTree reading these readers replaced.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import astuple
from pathlib import Path

import pytest

from platekit.microscopes import (
    PlaneKey,
    PlateFormatError,
    _settled_listings,
    open_plate,
    well_name,
)
from platekit.microscopes.handlers._cellvoyager_files import Record, read_records
from platekit.microscopes.handlers._harmony_index import (
    HarmonyIndex,
    IndexChannel,
    IndexImage,
    read_index,
)
from platekit.microscopes.handlers.cellvoyager import name_parts
from platekit.microscopes.testing import write_plate

# -- the references: ElementTree, read the plain way ----------------------------------------


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def children(parent: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if parent is None else [c for c in parent if local(c.tag) == name]


def child(parent: ET.Element | None, name: str) -> ET.Element | None:
    found = children(parent, name)
    return found[0] if found else None


def stripped(element: ET.Element | None) -> str | None:
    return None if element is None else (element.text or "").strip()


def first_children(element: ET.Element) -> dict[str, ET.Element]:
    found: dict[str, ET.Element] = {}
    for c in element:
        found.setdefault(local(c.tag), c)
    return found


UNITS = {"": 1e6, "m": 1e6, "mm": 1e3, "um": 1.0, "nm": 1e-3}


def number(element: ET.Element | None) -> float | None:
    text = stripped(element)
    if not text:
        return None
    value = float(text)
    return None if math.isnan(value) else value


def length_um(element: ET.Element | None) -> float | None:
    value = number(element)
    if value is None or element is None:
        return None
    return float(f"{value * UNITS[element.get('Unit', '').strip()]:.12g}")


def whole(element: ET.Element | None) -> int | None:
    text = stripped(element)
    return int(text) if text else None


def et_channel(channel: int, fields: dict[str, ET.Element]) -> IndexChannel:
    def rounded(name: str) -> int | None:
        value = number(fields.get(name))
        return None if value is None else round(value)

    return IndexChannel(
        id=channel,
        name=stripped(fields.get("ChannelName")),
        type=stripped(fields.get("ChannelType")),
        pixel_size_um=(
            length_um(fields.get("ImageResolutionX")),
            length_um(fields.get("ImageResolutionY")),
        ),
        size=(rounded("ImageSizeX"), rounded("ImageSizeY")),
        binning=(rounded("BinningX"), rounded("BinningY")),
        excitation_nm=number(fields.get("MainExcitationWavelength")) or None,
        emission_nm=number(fields.get("MainEmissionWavelength")) or None,
        objective_magnification=number(fields.get("ObjectiveMagnification")),
        objective_na=number(fields.get("ObjectiveNA")),
        exposure_s=number(fields.get("ExposureTime")),
        camera=stripped(fields.get("CameraType")),
        acquisition=stripped(fields.get("AcquisitionType")),
    )


def et_index(path: Path) -> HarmonyIndex:
    """A Harmony index as ElementTree reads it."""
    root = ET.fromstring(path.read_bytes())
    schema = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    version = re.search(r"/HarmonyV(\d+)$", schema)
    index = HarmonyIndex(path, schema, int(version.group(1)) if version else None)
    index.user = stripped(child(root, "User")) or None
    index.instrument = stripped(child(root, "InstrumentType")) or None
    plate = child(child(root, "Plates"), "Plate")
    wells = set()
    if plate is not None:
        text = {name: stripped(child(plate, name)) or None for name in first_children(plate)}
        index.name = text.get("Name") or text.get("PlateName")
        index.plate_id = text.get("PlateID")
        index.plate_type = text.get("PlateTypeName") or text.get("PlateType")
        index.rows = whole(child(plate, "PlateRows"))
        index.columns = whole(child(plate, "PlateColumns"))
        index.measurement_id = text.get("MeasurementID")
        index.measurement_start_time = text.get("MeasurementStartTime")
        wells |= {
            (int(w.get("id")[:2]), int(w.get("id")[2:]))
            for w in children(plate, "Well")
            if w.get("id")
        }  # type: ignore[index]
    for well in children(child(root, "Wells"), "Well"):
        row, column = whole(child(well, "Row")), whole(child(well, "Col"))
        if row is not None and column is not None:
            wells.add((row, column))
        elif stripped(child(well, "id")):
            text = stripped(child(well, "id")) or ""
            wells.add((int(text[:2]), int(text[2:])))
    index.wells = sorted(wells)
    described: dict[int, dict[str, ET.Element]] = {}
    for entry in [e for m in children(child(root, "Maps"), "Map") for e in children(m, "Entry")]:
        if entry.get("ChannelID") is not None:
            described.setdefault(int(entry.get("ChannelID", "")), {}).update(first_children(entry))
    for element in children(child(root, "Images"), "Image"):
        fields = first_children(element)
        url = fields.get("URL")
        image = IndexImage(
            id=stripped(fields.get("id")) or "",
            url=stripped(url) or "",
            row=whole(fields.get("Row")),
            column=whole(fields.get("Col")),
            field=whole(fields.get("FieldID")),
            plane=whole(fields.get("PlaneID")),
            channel=whole(fields.get("ChannelID")),
            timepoint_id=whole(fields.get("TimepointID")),
            position_um=tuple(length_um(fields.get(f"Position{a}")) for a in "XYZ"),  # type: ignore[arg-type]
            buffer=None
            if url is None or url.get("BufferNo") is None
            else int(url.get("BufferNo", "")),
        )
        index.images.append(image)
        if image.channel is not None and image.channel not in index.channels:
            merged = {**described.get(image.channel, {}), **fields}
            index.channels[image.channel] = et_channel(image.channel, merged)
    for channel, fields in described.items():
        index.channels.setdefault(channel, et_channel(channel, fields))
    index.channels = dict(sorted(index.channels.items()))
    return index


PLANE_NAME = re.compile(
    r"(?:(.+)_)?([A-Z]{1,2}\d{2,3})_T(\d{4})F(\d{3})L(\d{2})A(\d{2})Z(\d{2})C(\d{2})\.tiff?"
)


def part(a: dict[str, str], name: str, from_name: int | None) -> int:
    return int(a[name]) if name in a else from_name  # type: ignore[return-value]


def et_records(path: Path) -> list[Record]:
    """A CellVoyager MLF's image records as ElementTree reads them."""
    records = []
    for element in ET.fromstring(path.read_bytes()).iter():
        if local(element.tag) != "MeasurementRecord":
            continue
        a = {local(name): value for name, value in element.attrib.items()}
        if a.get("Type", "").upper() != "IMG":
            continue
        file = (element.text or "").strip().replace("\\", "/")
        named = PLANE_NAME.fullmatch(file.rsplit("/", 1)[-1])
        t, f, timeline, action, z, c = (
            (int(n) for n in named.groups()[2:]) if named else (None,) * 6
        )

        x, y = a.get("X"), a.get("Y")
        records.append(
            Record(
                file=file,
                well=well_name(int(a["Row"]), int(a["Column"])) if "Row" in a else named.group(2),  # type: ignore[union-attr]
                field=part(a, "FieldIndex", f),
                z_index=part(a, "ZIndex", z),
                timepoint=part(a, "TimePoint", t),
                timeline=part(a, "TimelineIndex", timeline or 1),
                action=part(a, "ActionIndex", action or 1),
                action_kind=a.get("Action", ""),
                ch=part(a, "Ch", c),
                position=None
                if x is None or y is None
                else (float(x), float(y), None if a.get("Z") is None else float(a["Z"])),
                time=a.get("Time"),
                prefix=(named.group(1) or "") if named else None,
                projection=a.get("ZImageProcessing") or None,
            )
        )
    return records


# -- the plates -----------------------------------------------------------------------------

HARMONY_EXPORTS = {
    "Version1": "Index.idx.xml",
    "Version5": "Index.idx.xml",
    "Version7": "Index.xml",
}
CELLVOYAGER_EXPORTS = [
    ".",
    "CV7000-example",
    "CV7000_z_processed",
    "CV8000-Minimal-DataSet-2C-3W-4S-FP2-stack",
    "CV8000_AF_Error",
]
MISSING = [PlaneKey("B03", 2, 1, 2, 1)]
# Synthetic plates: (kind, options) of write_plate, each trying another corner of the format.
SYNTHETIC = {
    "harmony5": ("opera_phenix", {"sites": 2, "channels": 2, "z": 2, "t": 3, "missing": MISSING}),
    "harmony7": (
        "opera_phenix",
        {"sites": 4, "channels": 3, "z": 3, "t": 2, "version": 7, "missing": MISSING},
    ),
    "harmony_flat": ("opera_phenix", {"channels": 5, "index_in_images": False, "bom": False}),
    "cellvoyager_timelines": (
        "cellvoyager",
        {"sites": 2, "channels": 3, "z": 3, "t": 4, "timelines": 2, "actions": "shared_ch"},
    ),
    "cellvoyager_plain": (
        "cellvoyager",
        {
            "sites": 2,
            "channels": 2,
            "z": 2,
            "t": 2,
            "namespaced_attributes": False,
            "actions": "per_channel",
            "error_records": 2,
            "model": "CV7000",
            "missing": MISSING,
        },
    ),
}


def synthetic(name: str, folder: Path) -> Path:
    kind, options = SYNTHETIC[name]
    return write_plate(kind, folder / name, wells=["A01", "B03", "C12"], shape=(8, 8), **options)


def index_in(plate: Path) -> Path:
    found = [p for p in plate.rglob("*.xml") if p.name.startswith("Index")]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("export", sorted(HARMONY_EXPORTS))
def test_a_real_harmony_index_reads_as_elementtree_reads_it(
    pe2loaddata_exports: Path, export: str
) -> None:
    index = pe2loaddata_exports / export / "images" / HARMONY_EXPORTS[export]
    assert read_index(index) == et_index(index)


@pytest.mark.parametrize("export", CELLVOYAGER_EXPORTS)
def test_a_real_mlf_reads_as_elementtree_reads_it(cellvoyager_exports: Path, export: str) -> None:
    mlf = cellvoyager_exports / export / "MeasurementData.mlf"
    records = read_records(mlf, name_parts)
    assert records and records == et_records(mlf)


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_a_synthetic_plate_reads_and_opens_as_with_elementtree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    plate = synthetic(name, tmp_path)
    if SYNTHETIC[name][0] == "opera_phenix":
        assert read_index(index_in(plate)) == et_index(index_in(plate))
    else:
        mlf = plate / "MeasurementData.mlf"
        assert read_records(mlf, name_parts) == et_records(mlf)
    streamed = open_plate(plate)
    monkeypatch.setattr("platekit.microscopes.handlers.opera.read_index", et_index)
    monkeypatch.setattr(
        "platekit.microscopes.handlers.cellvoyager.read_records", lambda path, _: et_records(path)
    )
    _settled_listings.forget()
    with_elementtree = open_plate(plate)
    assert streamed.metadata == with_elementtree.metadata
    assert list(streamed.planes()) == list(with_elementtree.planes())
    assert streamed.missing() == with_elementtree.missing()
    assert streamed.missing() or name not in ("harmony5", "harmony7", "cellvoyager_plain")


def fingerprint(plate: Path) -> str:
    """A digest of what the plate opens as: planes, missing planes and metadata."""
    opened = open_plate(plate)
    meta = opened.metadata
    facts = {
        "planes": [[astuple(key), address] for key, address in opened.planes()],
        "missing": [astuple(key) for key in opened.missing()],
        "positions": sorted([astuple(key), list(xyz)] for key, xyz in meta.positions.items()),
        "channels": {str(number): astuple(channel) for number, channel in meta.channels.items()},
        "plate": [
            meta.name,
            meta.rows,
            meta.columns,
            meta.wells,
            meta.sites,
            meta.z_count,
            meta.t_count,
            meta.grid,
            meta.pixel_size_um,
            meta.z_step_um,
            meta.image_shape,
            meta.dtype,
        ],
        "extra": meta.extra,
        "notices": meta.notices,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


# Recorded from the ElementTree readers that the one-pass readers replaced.
REAL_FINGERPRINTS = {
    "Version1": "c6d4791db3bfaa4d",
    "Version5": "724fe5e210d9a821",
    "Version7": "5b80a5b383268200",
    ".": "58231fd8ea057ee9",
    "CV7000-example": "d7c99ac8226de1de",
    "CV7000_z_processed": "de16af1d954da587",
    "CV8000-Minimal-DataSet-2C-3W-4S-FP2-stack": "3aae0f699df1c51f",
    "CV8000_AF_Error": "c825bd1ef782b3b2",
}


@pytest.mark.parametrize("export", sorted(HARMONY_EXPORTS))
def test_a_real_harmony_export_opens_as_it_did(pe2loaddata_exports: Path, export: str) -> None:
    assert fingerprint(pe2loaddata_exports / export / "images") == REAL_FINGERPRINTS[export]


@pytest.mark.parametrize("export", CELLVOYAGER_EXPORTS)
def test_a_real_cellvoyager_export_opens_as_it_did(cellvoyager_exports: Path, export: str) -> None:
    assert fingerprint(cellvoyager_exports / export) == REAL_FINGERPRINTS[export]


# -- hand-made corners -----------------------------------------------------------------------

CORNERS_INDEX = """\ufeff<?xml version="1.0" encoding="utf-8"?>
<h:EvaluationInputData xmlns:h="http://www.perkinelmer.com/PEHH/HarmonyV5" xmlns:o="urn:other">
  <h:User>  Operator <!-- a comment --> two </h:User>
  <h:User>not the first</h:User>
  <h:Plates>
    <h:Plate>
      <h:PlateID>P1</h:PlateID><h:PlateName>Named</h:PlateName>
      <h:PlateTypeName>  </h:PlateTypeName><h:PlateType>96 well</h:PlateType>
      <h:PlateRows>8</h:PlateRows><h:PlateRows>99</h:PlateRows><h:PlateColumns>12</h:PlateColumns>
      <h:Well id="0203"/><h:Well/><o:Well id="0405"/>
    </h:Plate>
    <h:Plate><h:PlateID>the second plate</h:PlateID></h:Plate>
  </h:Plates>
  <h:Plates><h:Plate><h:PlateRows>not read</h:PlateRows></h:Plate></h:Plates>
  <h:Wells>
    <h:Well><h:id>0101</h:id><h:Row>1</h:Row><h:Col>1</h:Col></h:Well>
    <h:Well><h:id>0612</h:id></h:Well>
  </h:Wells>
  <h:Images>
    <h:Image>
      <h:id> 0101K1F1P1R1 </h:id>
      <h:URL BufferNo="0">r01c01f01p01-ch1sk1fk1fl1.tiff</h:URL>
      <h:Row>1<h:Note>ignored</h:Note>9</h:Row><h:Col><![CDATA[1]]></h:Col>
      <h:FieldID>1</h:FieldID><h:FieldID>7</h:FieldID><h:PlaneID></h:PlaneID>
      <h:ChannelID>1</h:ChannelID><h:TimepointID>0</h:TimepointID>
      <h:ChannelName>A &amp; B</h:ChannelName><o:ChannelName>other namespace</o:ChannelName>
      <h:PositionX Unit="mm">0.5</h:PositionX><h:PositionY>1E-06</h:PositionY>
      <h:PositionZ Unit="um">NaN</h:PositionZ>
      <h:ImageResolutionX Unit="m">6.5E-07</h:ImageResolutionX>
      <h:Deep><h:Row>5</h:Row></h:Deep>
    </h:Image>
    <h:Image>
      <h:id>0101K2F1P1R2</h:id><h:URL/><h:ChannelID>2</h:ChannelID><h:CameraType/>
    </h:Image>
    <h:Image><h:id>0101K1F2P1R3</h:id><h:ChannelID>3</h:ChannelID></h:Image>
  </h:Images>
  <h:Images><h:Image><h:id>not read</h:id></h:Image></h:Images>
  <h:Maps>
    <h:Map>
      <h:Entry ChannelID="1"><h:ChannelName>from the map</h:ChannelName>
        <h:MainExcitationWavelength>488</h:MainExcitationWavelength></h:Entry>
      <h:Entry><h:ChannelName>no channel</h:ChannelName></h:Entry>
      <h:Entry ChannelID="2"><h:CameraType>Zyla</h:CameraType><h:BinningX>2</h:BinningX></h:Entry>
      <h:Entry ChannelID="4"><h:ChannelName>only in the map, µßü</h:ChannelName></h:Entry>
    </h:Map>
    <h:Map><h:Entry ChannelID="2"><h:BinningX>3</h:BinningX></h:Entry></h:Map>
  </h:Maps>
</h:EvaluationInputData>
"""


def test_the_corners_of_an_index_read_as_elementtree_reads_them(tmp_path: Path) -> None:
    index = tmp_path / "Index.idx.xml"
    index.write_text(CORNERS_INDEX, encoding="utf-8")
    read = read_index(index)
    assert read == et_index(index)
    # What the corners are there for, so that a reference gone wrong the same way shows.
    assert read.user == "Operator  two" and read.rows == 8 and read.plate_id == "P1"
    assert read.name == "Named" and read.plate_type == "96 well"
    assert read.wells == [(1, 1), (2, 3), (4, 5), (6, 12)]
    first, second, third = read.images
    assert (first.id, first.row, first.column, first.field, first.plane) == (
        "0101K1F1P1R1",
        1,
        1,
        1,
        None,
    )
    assert first.position_um == (500.0, 1.0, None) and first.buffer == 0
    assert (second.url, second.buffer, third.buffer) == ("", None, None)
    assert read.channels[1].name == "A & B" and read.channels[1].excitation_nm == 488.0
    assert read.channels[2].camera == "" and read.channels[2].binning == (3, None)
    assert read.channels[4].name == "only in the map, µßü"


CORNERS_MLF = """<?xml version="1.0" encoding="utf-8"?>
<bts:MeasurementData xmlns:bts="http://www.yokogawa.co.jp/BTS/BTSSchema/1.0">
  <bts:MeasurementRecord bts:Type="ERR" bts:Row="1" bts:Column="1">err.tif</bts:MeasurementRecord>
  <bts:Group>
    <bts:MeasurementRecord Type="IMG" bts:Row="2" bts:Column="3" bts:FieldIndex="4" ZIndex="1"
      bts:Ch="2" bts:X="1.5" bts:Y="-2" bts:Action="3D"
      bts:ZImageProcessing="Maximum">  sub\\P_B03_T0002F004L03A02Z01C02.tif <!-- c -->
      </bts:MeasurementRecord>
  </bts:Group>
  <bts:MeasurementRecord bts:Type="img" bts:X="1" bts:Y="2" bts:Z="3"
    >Plate_with_parts_C04_T0001F001L01A01Z02C01.tiff<bts:Child>not text</bts:Child>
  </bts:MeasurementRecord>
  <bts:MeasurementRecord bts:Type="IMG" bts:Row="1" bts:Column="1" bts:FieldIndex="1"
    bts:ZIndex="1" bts:TimePoint="1" bts:Ch="1" bts:Time="t0"/>
</bts:MeasurementData>
"""


def test_the_corners_of_an_mlf_read_as_elementtree_reads_them(tmp_path: Path) -> None:
    mlf = tmp_path / "MeasurementData.mlf"
    mlf.write_text(CORNERS_MLF, encoding="utf-8")
    records = read_records(mlf, name_parts)
    assert records == et_records(mlf)
    nested, named, unnamed = records
    assert (nested.file, nested.well, nested.timepoint, nested.timeline) == (
        "sub/P_B03_T0002F004L03A02Z01C02.tif",
        "B03",
        2,
        3,
    )
    assert nested.projection == "Maximum" and nested.position == (1.5, -2.0, None)
    assert (named.well, named.prefix, named.z_index, named.position) == (
        "C04",
        "Plate_with_parts",
        2,
        (1.0, 2.0, 3.0),
    )
    assert (unnamed.file, unnamed.prefix, unnamed.timeline, unnamed.time) == ("", None, 1, "t0")


# -- which fault is reported ----------------------------------------------------------------


def test_malformed_xml_is_reported_before_a_bad_number_that_comes_first(tmp_path: Path) -> None:
    plate = synthetic("harmony5", tmp_path)
    index = index_in(plate)
    text = index.read_text(encoding="utf-8-sig").replace(
        "<FieldID>1</FieldID>", "<FieldID>one</FieldID>", 1
    )
    index.write_text(text.replace("</Maps>", "</Map>"), encoding="utf-8")
    with pytest.raises(PlateFormatError, match="is not well-formed") as raised:
        read_index(index)
    assert raised.value.line == next(
        n for n, line in enumerate(text.splitlines(), 1) if "</Maps>" in line
    )


def test_a_bad_map_entry_is_reported_before_a_bad_image_entry(tmp_path: Path) -> None:
    # The maps describe the channels the images use, so they are read first, wherever they are.
    index = tmp_path / "Index.idx.xml"
    bad_image = CORNERS_INDEX.replace("<h:FieldID>1</h:FieldID>", "<h:FieldID>x</h:FieldID>")
    index.write_text(bad_image.replace('ChannelID="4"', 'ChannelID="four"'), encoding="utf-8")
    with pytest.raises(PlateFormatError, match="Maps Entry ChannelID is 'four'"):
        read_index(index)
    index.write_text(bad_image, encoding="utf-8")
    with pytest.raises(PlateFormatError, match="image 0101K1F1P1R1: FieldID is 'x'"):
        read_index(index)


def test_the_first_bad_record_is_the_one_reported(tmp_path: Path) -> None:
    mlf = tmp_path / "MeasurementData.mlf"
    text = CORNERS_MLF.replace('bts:FieldIndex="4"', 'bts:FieldIndex="four"')
    mlf.write_text(text.replace('bts:ZIndex="1" bts:TimePoint', 'bts:ZIndex="0" bts:TimePoint'))
    with pytest.raises(PlateFormatError, match=r"line 5: image record 2 .*FieldIndex='four'"):
        read_records(mlf, name_parts)
    mlf.write_text(text.replace("</bts:MeasurementData>", ""))
    with pytest.raises(PlateFormatError, match="is not well-formed"):
        read_records(mlf, name_parts)


def test_a_file_read_in_small_pieces_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pieces of 7 bytes split tags, attribute values and multi-byte characters.
    index, mlf = tmp_path / "Index.idx.xml", tmp_path / "MeasurementData.mlf"
    index.write_text(CORNERS_INDEX, encoding="utf-8")
    mlf.write_text(CORNERS_MLF, encoding="utf-8")
    whole_index, whole_records = read_index(index), read_records(mlf, name_parts)
    monkeypatch.setattr("platekit.microscopes._xml._PIECE", 7)
    assert read_index(index) == whole_index == et_index(index)
    assert read_records(mlf, name_parts) == whole_records
