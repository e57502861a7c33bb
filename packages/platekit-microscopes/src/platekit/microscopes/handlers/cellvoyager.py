"""Yokogawa CellVoyager (CV7000, CV8000, CQ1) plates: ``MeasurementData.mlf`` and its MRF.

The measurement data file (MLF) lists one record per image the instrument
took; the measurement detail file (MRF) holds the plate size, the counts of
fields, z planes and time points, and one entry per channel (pixel size,
image size, bit depth). The images are TIFFs beside them, named
``<plate>_<well>_T<tttt>F<fff>L<ll>A<aa>Z<zz>C<cc>.tif``; the ``SC_*`` and
``DC_*`` TIFFs are shading and dark corrections, not planes.

How a record becomes a plane:

- Only records of ``Type="IMG"`` are images; ``ERR`` and every other type
  are skipped.
- The well comes from ``Row`` and ``Column`` (1-based), or from the file
  name when a record lacks them; ``site`` is ``FieldIndex`` and ``z_index``
  is ``ZIndex``.
- Timelines run one after another: a plate's time points are those of
  timeline 1, then those of timeline 2, and so on (timeline ``L``'s
  ``TimePoint`` 1 follows the last time point of the timelines before it).
  With one timeline, ``timepoint`` is ``TimePoint``.
- ``channel`` is ``Ch``. When two actions acquire the same ``Ch`` number,
  every (action, ``Ch``) pair is its own channel instead, numbered from 1 in
  (action, ``Ch``) order and named ``"Ch<c> (action <a>)"``;
  ``PlateMetadata.extra["channel_sources"]`` says which is which.
- A channel that only 2D actions acquire has one z plane, so its planes
  above the first are not counted as missing.

Attributes are read by their local names, so ``bts:Type`` and ``Type`` are
the same. The MLF is the index: a TIFF no record names is not a plane. A
record whose file is not in the folder is a missing plane, and so is every
plane the MRF's counts imply that no record lists (every well with a
record, at every field, channel, z plane and time point).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from platekit.microscopes._errors import PlateFormatError
from platekit.microscopes._handler import FilenameParser, MetadataHandler, MicroscopeHandler
from platekit.microscopes._model import Channel, PlaneKey, PlaneName, PlateMetadata, PlateScan
from platekit.microscopes._wells import normal_well, parse_well, well_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

MEASUREMENT_DATA = "MeasurementData.mlf"
MEASUREMENT_DETAIL = "MeasurementDetail.mrf"

_PLANE = re.compile(
    r"(?:(?P<prefix>.+)_)?(?P<well>[A-Z]{1,2}\d{2,3})_"
    r"T(?P<T>\d{4,})F(?P<F>\d{3,})L(?P<L>\d{2,})A(?P<A>\d{2,})Z(?P<Z>\d{2,})C(?P<C>\d{2,})"
    r"(?P<extension>\.(?i:tiff?))",
    re.DOTALL,
)
# How many digits the software pads each part of a plane name to.
_WIDTHS = {"T": 4, "F": 3, "L": 2, "A": 2, "Z": 2, "C": 2}
# Plate formats (rows, columns), smallest first, for an MRF that gives no plate size.
_PLATE_FORMATS = ((2, 3), (4, 6), (8, 12), (16, 24), (32, 48))


class CellVoyagerParser(FilenameParser):
    """``Plate1_D08_T0001F001L01A01Z01C01.tif``: plate, well, time point, field, timeline,
    action, z plane and channel.

    The plate name may hold underscores. The timeline and action are kept in
    ``PlaneName.extra`` as ``("timeline", "1")`` and ``("action", "1")``.
    """

    def parse(self, name: str) -> PlaneName | None:
        match = _PLANE.fullmatch(name)
        if match is None:
            return None
        numbers: dict[str, int] = {}
        for part, width in _WIDTHS.items():
            digits = match[part]
            # The software pads to the width and no further; a longer run with a
            # leading zero is some other file's name.
            if len(digits) > width and digits.startswith("0"):
                return None
            numbers[part] = int(digits)
        well = match["well"]
        try:
            if normal_well(well) != well:
                return None
        except ValueError:
            return None
        return PlaneName(
            well=well,
            site=numbers["F"],
            channel=numbers["C"],
            z_index=numbers["Z"],
            timepoint=numbers["T"],
            prefix=match["prefix"] or "",
            extension=match["extension"],
            extra=(("timeline", str(numbers["L"])), ("action", str(numbers["A"]))),
        )

    def format(self, plane: PlaneName) -> str:
        prefix = f"{plane.prefix}_" if plane.prefix else ""
        parts = {
            "T": plane.timepoint,
            "F": plane.site,
            "L": _extra_number(plane, "timeline"),
            "A": _extra_number(plane, "action"),
            "Z": plane.z_index,
            "C": plane.channel,
        }
        numbers = "".join(
            f"{part}{1 if value is None else value:0{_WIDTHS[part]}d}"
            for part, value in parts.items()
        )
        return f"{prefix}{plane.well}_{numbers}{plane.extension}"


def _extra_number(plane: PlaneName, name: str) -> int:
    value = plane.get(name, "1") or "1"
    if not value.isdigit():
        raise ValueError(f"a CellVoyager plane's {name} is a number, not {value!r}")
    return int(value)


class CellVoyagerMetadata(MetadataHandler):
    """Reads ``MeasurementData.mlf`` and ``MeasurementDetail.mrf``.

    ``PlateMetadata.extra`` holds ``instrument`` (the MRF's TargetSystem),
    ``measurement_setting`` (its MeasurementSettingFileName), ``start_time``
    (the ``Time`` of the first image record), ``input_bit_depth`` (per
    ``Ch``), and, where they apply, ``channel_sources`` and ``timelines``.
    """

    def find_metadata_file(self, plate: Path) -> Path:
        return _find_file(Path(plate), MEASUREMENT_DATA)

    def read(self, plate: Path) -> PlateMetadata:
        return _scan(Path(plate)).metadata

    def grid(self, plate: Path) -> tuple[int, int] | None:
        # Field positions live in the measurement setting (.mes), which is not read.
        return None


class CellVoyagerHandler(MicroscopeHandler):
    """Yokogawa CellVoyager plates: the folder holding ``MeasurementData.mlf``."""

    _microscope_type = "cellvoyager"
    display_name = "Yokogawa CellVoyager (CV7000, CV8000, CQ1)"
    looks_for = "MeasurementData.mlf (with MeasurementDetail.mrf) in the plate folder"
    parser = CellVoyagerParser()
    metadata_handler = CellVoyagerMetadata

    def scan(self, plate: Path) -> PlateScan:
        return _scan(Path(plate))


# -- reading the two files ----------------------------------------------------------


@dataclass(frozen=True)
class _ChannelDetail:
    ch: int
    pixel_size_um: float | None
    shape: tuple[int, int] | None
    bit_depth: int | None


@dataclass(frozen=True)
class _Detail:
    rows: int | None
    columns: int | None
    fields: int | None
    z_count: int | None
    t_count: int | None
    instrument: str | None
    setting: str | None
    channels: dict[int, _ChannelDetail]


@dataclass(frozen=True)
class _Record:
    file: str
    well: str
    field: int
    z_index: int
    timepoint: int
    timeline: int
    action: int
    action_kind: str
    ch: int
    position: tuple[float, float, float | None] | None
    time: str | None
    prefix: str | None


def _find_file(folder: Path, name: str) -> Path:
    """``folder / name``, matched without regard to case (exports pass through Windows)."""
    path = folder / name
    if path.is_file():
        return path
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        entries = []
    for entry in entries:
        if entry.lower() == name.lower() and (folder / entry).is_file():
            return folder / entry
    raise FileNotFoundError(
        f"no {name} in {str(folder)!r}; a CellVoyager plate folder holds {MEASUREMENT_DATA} "
        f"and {MEASUREMENT_DETAIL}"
    )


def _attributes(element: Element) -> dict[str, str]:
    """An element's attributes by local name: ``bts:Type`` and ``Type`` are both ``Type``."""
    return {name.rsplit("}", 1)[-1]: value for name, value in element.attrib.items()}


def _local(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _whole(value: str, what: str, fail: _Fail) -> int:
    try:
        number = int(value)
    except ValueError:
        raise fail(f"{what}={value!r} is not a whole number") from None
    if number < 1:
        raise fail(f"{what}={value!r} is below 1, where CellVoyager counts from 1")
    return number


def _decimal(value: str, what: str, fail: _Fail) -> float:
    try:
        number = float(value)
    except ValueError:
        raise fail(f"{what}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise fail(f"{what}={value!r} is not a finite number")
    return number


class _Fail:
    """Makes the PlateFormatError for one place in a file (the line is found only when needed)."""

    def __init__(self, path: Path, where: str = "", record: int | None = None) -> None:
        self.path, self.where, self.record = path, where, record

    def __call__(self, message: str) -> PlateFormatError:
        where = f"{self.where} " if self.where else ""
        line = None if self.record is None else _record_line(self.path, self.record)
        return PlateFormatError(self.path, f"{where}{message}", line)


def _read_detail(path: Path) -> _Detail:
    from platekit.microscopes._xml import parse_xml

    root = parse_xml(path)
    fail = _Fail(path)
    if _local(root) != "MeasurementDetail":
        raise fail(
            f"is not a CellVoyager measurement detail: its root element is <{_local(root)}>, "
            "not <bts:MeasurementDetail>"
        )
    attrs = _attributes(root)

    def count(name: str) -> int | None:
        value = attrs.get(name)
        return None if value is None else _whole(value, name, fail)

    channels: dict[int, _ChannelDetail] = {}
    elements = [element for element in root.iter() if _local(element) == "MeasurementChannel"]
    for number, element in enumerate(elements, 1):
        channel = _attributes(element)
        where = _Fail(path, f"MeasurementChannel {number}:")
        if "Ch" not in channel:
            raise where("has no Ch attribute")
        ch = _whole(channel["Ch"], "Ch", where)
        pixel = channel.get("HorizontalPixelDimension")
        width, height = channel.get("HorizontalPixels"), channel.get("VerticalPixels")
        depth = channel.get("InputBitDepth")
        channels[ch] = _ChannelDetail(
            ch=ch,
            pixel_size_um=None
            if pixel is None
            else _decimal(pixel, "HorizontalPixelDimension", where),
            shape=None
            if width is None or height is None
            else (
                _whole(height, "VerticalPixels", where),
                _whole(width, "HorizontalPixels", where),
            ),
            bit_depth=None if depth is None else _whole(depth, "InputBitDepth", where),
        )
    return _Detail(
        rows=count("RowCount"),
        columns=count("ColumnCount"),
        fields=count("FieldCount"),
        z_count=count("ZCount"),
        t_count=count("TimePointCount"),
        instrument=attrs.get("TargetSystem"),
        setting=attrs.get("MeasurementSettingFileName"),
        channels=channels,
    )


def _read_records(path: Path) -> list[_Record]:
    """The MLF's image records, in file order."""
    from platekit.microscopes._xml import parse_xml

    root = parse_xml(path)
    if _local(root) != "MeasurementData":
        raise _Fail(path)(
            f"is not CellVoyager measurement data: its root element is <{_local(root)}>, "
            "not <bts:MeasurementData>"
        )
    parser = CellVoyagerParser()
    records: list[_Record] = []
    number = 0
    for element in root.iter():
        if _local(element) != "MeasurementRecord":
            continue
        number += 1
        attrs = _attributes(element)
        if attrs.get("Type", "").upper() != "IMG":
            continue
        file = (element.text or "").strip().replace("\\", "/")
        fail = _Fail(path, f"image record {number} ({file!r}):", number)
        name = parser.parse(file.rsplit("/", 1)[-1]) if file else None
        records.append(_record(attrs, file, name, fail))
    return records


def _record(attrs: dict[str, str], file: str, name: PlaneName | None, fail: _Fail) -> _Record:
    def component(attribute: str, from_name: int | str | None) -> int:
        value = attrs.get(attribute)
        if value is not None:
            return _whole(value, attribute, fail)
        if from_name is not None:
            return int(from_name)
        raise fail(f"has no {attribute} attribute and its file name does not say it")

    if "Row" in attrs and "Column" in attrs:
        well = well_name(_whole(attrs["Row"], "Row", fail), _whole(attrs["Column"], "Column", fail))
    elif name is not None:
        well = name.well
    else:
        raise fail("has no Row and Column attributes and its file name does not name a well")
    position: tuple[float, float, float | None] | None = None
    if "X" in attrs and "Y" in attrs:
        z = attrs.get("Z")
        position = (
            _decimal(attrs["X"], "X", fail),
            _decimal(attrs["Y"], "Y", fail),
            None if z is None else _decimal(z, "Z", fail),
        )
    return _Record(
        file=file,
        well=well,
        field=component("FieldIndex", name.site if name else None),
        z_index=component("ZIndex", name.z_index if name else None),
        timepoint=component("TimePoint", name.timepoint if name else None),
        timeline=component("TimelineIndex", name.get("timeline") if name else "1"),
        action=component("ActionIndex", name.get("action") if name else "1"),
        action_kind=attrs.get("Action", ""),
        ch=component("Ch", name.channel if name else None),
        position=position,
        time=attrs.get("Time"),
        prefix=name.prefix if name is not None else None,
    )


def _record_line(path: Path, number: int) -> int | None:
    """The line where the ``number``-th MeasurementRecord starts, for error messages."""
    try:
        text = path.read_bytes()
    except OSError:
        return None
    for count, match in enumerate(re.finditer(rb"<(?:[\w.-]+:)?MeasurementRecord\b", text), 1):
        if count == number:
            return text.count(b"\n", 0, match.start()) + 1
    return None


# -- from records to planes ---------------------------------------------------------


def _scan(folder: Path) -> PlateScan:
    mlf = _find_file(folder, MEASUREMENT_DATA)
    try:
        mrf = _find_file(folder, MEASUREMENT_DETAIL)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{str(folder)!r} has {mlf.name} but no {MEASUREMENT_DETAIL}, which holds the "
            "plate size and channels; copy it back from the original measurement folder"
        ) from None
    detail = _read_detail(mrf)
    records = _read_records(mlf)

    channel_of, channels, sources = _channels(records, detail)
    offsets, timelines = _timeline_offsets(records)
    try:
        entries = set(os.listdir(folder))
    except OSError:
        entries = set()

    planes: dict[PlaneKey, str] = {}
    missing: set[PlaneKey] = set()
    positions: dict[PlaneKey, tuple[float, float, float | None]] = {}
    only_2d: dict[int, bool] = {}
    for record in records:
        channel = channel_of[(record.action, record.ch)]
        key = PlaneKey(
            record.well,
            record.field,
            channel,
            record.z_index,
            offsets[record.timeline] + record.timepoint,
        )
        only_2d[channel] = only_2d.get(channel, True) and record.action_kind.upper() == "2D"
        if record.position is not None:
            positions.setdefault(key, record.position)
        if key in planes:
            continue
        present = bool(record.file) and (
            (folder / record.file).is_file() if "/" in record.file else record.file in entries
        )
        if present:
            planes[key] = record.file
            missing.discard(key)
        else:
            missing.add(key)

    keys = planes.keys() | missing
    wells = sorted({key.well for key in keys}, key=parse_well)
    site_count = max([detail.fields or 1, *(key.site for key in keys)])
    z_count = max([detail.z_count or 1, *(key.z_index for key in keys)])
    t_count = max([detail.t_count or 1, *(key.timepoint for key in keys)])
    for well in wells:
        for site in range(1, site_count + 1):
            for channel in channels:
                for z in range(1, (1 if only_2d.get(channel) else z_count) + 1):
                    for t in range(1, t_count + 1):
                        key = PlaneKey(well, site, channel, z, t)
                        if key not in planes:
                            missing.add(key)

    rows, columns = _plate_size(detail, wells)
    extra: dict[str, object] = {
        "instrument": detail.instrument,
        "measurement_setting": detail.setting,
        "start_time": records[0].time if records else None,
        "input_bit_depth": {
            str(ch): info.bit_depth for ch, info in sorted(detail.channels.items())
        },
    }
    if sources:
        extra["channel_sources"] = sources
    if timelines:
        extra["timelines"] = timelines
    depths = [info.bit_depth for info in detail.channels.values() if info.bit_depth is not None]
    shapes = {info.shape for info in detail.channels.values() if info.shape is not None}
    metadata = PlateMetadata(
        name=next((r.prefix for r in records if r.prefix), None) or folder.name,
        microscope="cellvoyager",
        rows=rows,
        columns=columns,
        wells=wells,
        sites=list(range(1, site_count + 1)),
        channels=channels,
        z_count=z_count,
        t_count=t_count,
        grid=None,
        pixel_size_um=next(
            (
                info.pixel_size_um
                for _, info in sorted(detail.channels.items())
                if info.pixel_size_um is not None
            ),
            None,
        ),
        z_step_um=_z_step(positions),
        image_shape=shapes.pop() if len(shapes) == 1 else None,
        # The software writes 16-bit TIFFs for every camera depth up to 16 bits.
        dtype="uint16" if depths and max(depths) <= 16 else None,
        positions=positions,
        extra=extra,
    )
    return PlateScan(metadata, planes, sorted(missing))


def _channels(
    records: list[_Record], detail: _Detail
) -> tuple[dict[tuple[int, int], int], dict[int, Channel], dict[str, dict[str, int]]]:
    """(action, Ch) → channel number, the channels, and where each came from when folded."""
    pairs = sorted({(record.action, record.ch) for record in records})
    numbers = [ch for _, ch in pairs]
    if len(set(numbers)) == len(numbers):
        channel_of = {pair: pair[1] for pair in pairs}
        ids = sorted(set(numbers) | set(detail.channels))
        return channel_of, {ch: Channel(ch, f"Ch{ch}") for ch in ids}, {}
    channel_of = {pair: number for number, pair in enumerate(pairs, 1)}
    channels = {
        number: Channel(number, f"Ch{ch} (action {action})")
        for (action, ch), number in channel_of.items()
    }
    sources = {
        str(number): {"action": action, "ch": ch} for (action, ch), number in channel_of.items()
    }
    return channel_of, channels, sources


def _timeline_offsets(
    records: list[_Record],
) -> tuple[dict[int, int], dict[str, list[int]]]:
    """Timeline → time points before it, and (for several) each timeline's first and last t."""
    last: dict[int, int] = {}
    for record in records:
        last[record.timeline] = max(last.get(record.timeline, 0), record.timepoint)
    offsets: dict[int, int] = {}
    spans: dict[str, list[int]] = {}
    total = 0
    for timeline in sorted(last):
        offsets[timeline] = total
        spans[str(timeline)] = [total + 1, total + last[timeline]]
        total += last[timeline]
    return offsets, spans if len(spans) > 1 else {}


def _plate_size(detail: _Detail, wells: list[str]) -> tuple[int, int]:
    if detail.rows is not None and detail.columns is not None:
        return detail.rows, detail.columns
    cells = [parse_well(well) for well in wells]
    need_rows = max([row for row, _ in cells], default=1)
    need_columns = max([column for _, column in cells], default=1)
    for rows, columns in _PLATE_FORMATS:
        if rows >= need_rows and columns >= need_columns:
            return detail.rows or rows, detail.columns or columns
    return detail.rows or need_rows, detail.columns or need_columns


def _z_step(positions: dict[PlaneKey, tuple[float, float, float | None]]) -> float | None:
    """The distance between the first two z planes of the first stack that records Z."""
    stacks: dict[tuple[str, int, int, int], dict[int, float]] = {}
    for key, (_, _, z) in positions.items():
        if z is not None:
            stacks.setdefault((key.well, key.site, key.channel, key.timepoint), {})[key.z_index] = z
    for stack_key in sorted(stacks):
        stack = stacks[stack_key]
        if len(stack) >= 2:
            first, second = sorted(stack)[:2]
            return round(abs(stack[second] - stack[first]) / (second - first), 6)
    return None
