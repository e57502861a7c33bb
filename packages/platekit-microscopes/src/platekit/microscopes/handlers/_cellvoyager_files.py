"""Reading a CellVoyager measurement's files into plain records.

The MLF's image records, the MRF's counts and channel entries, and the
measurement setting's (``.mes``) actions and channel set-up. Attributes are
read by their local names, so ``bts:Type`` and ``Type`` are the same; a
value that is not what the format promises is a :class:`PlateFormatError`
naming the file, the record and its line.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from platekit.microscopes._errors import PlateFormatError
from platekit.microscopes._wells import well_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from xml.etree.ElementTree import Element

    from platekit.microscopes._source import PlateSource

MEASUREMENT_DATA = "MeasurementData.mlf"
MEASUREMENT_DETAIL = "MeasurementDetail.mrf"


# -- the measurement data (MLF) and detail (MRF) ----------------------------------


@dataclass(frozen=True)
class ChannelDetail:
    ch: int
    pixel_size_um: float | None
    shape: tuple[int, int] | None
    bit_depth: int | None


@dataclass(frozen=True)
class Detail:
    rows: int | None
    columns: int | None
    fields: int | None
    z_count: int | None
    t_count: int | None
    instrument: str | None
    setting: str | None
    channels: dict[int, ChannelDetail]


class Record(NamedTuple):
    """One image record of the MLF (a named tuple: an MLF holds tens of thousands)."""

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
    #: ``ZImageProcessing`` ("Maximum"): the image is a projection the instrument made of a stack.
    projection: str | None


class NameParts(NamedTuple):
    """What a plane's file name says: ``Plate1_D08_T0001F001L01A01Z01C01.tif``."""

    prefix: str
    well: str
    timepoint: int
    site: int
    timeline: int
    action: int
    z_index: int
    channel: int
    extension: str


class _Unnamed(NamedTuple):
    """What a record without a plane's file name says: timeline and action 1, nothing else."""

    site: None = None
    z_index: None = None
    timepoint: None = None
    timeline: int = 1
    action: int = 1
    channel: None = None


_UNNAMED = _Unnamed()


def find_file(folder: PlateSource, name: str) -> PlateSource:
    """``folder / name``, matched without regard to case (exports pass through Windows)."""
    found = folder.find(name)
    if found is not None:
        return found
    raise FileNotFoundError(
        f"no {name} in {str(folder)!r}; a CellVoyager plate folder holds {MEASUREMENT_DATA} "
        f"and {MEASUREMENT_DETAIL}"
    )


def _attributes(element: Element) -> dict[str, str]:
    """An element's attributes by local name: ``bts:Type`` and ``Type`` are both ``Type``."""
    return {name.rsplit("}", 1)[-1]: value for name, value in element.attrib.items()}


def _local(element: Element) -> str:
    return _local_name(element.tag)


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


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

    def __init__(
        self,
        path: Path | PlateSource,
        where: str = "",
        record: int | None = None,
        file: str | None = None,
    ) -> None:
        self.path, self.where, self.record, self.file = path, where, record, file

    def __call__(self, message: str) -> PlateFormatError:
        where = self.where
        if self.file is not None:
            where = f"image record {self.record} ({self.file!r}):"
        where = f"{where} " if where else ""
        line = None if self.record is None else _record_line(self.path, self.record)
        return PlateFormatError(self.path, f"{where}{message}", line)


def read_detail(path: Path | PlateSource) -> Detail:
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

    channels: dict[int, ChannelDetail] = {}
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
        channels[ch] = ChannelDetail(
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
    return Detail(
        rows=count("RowCount"),
        columns=count("ColumnCount"),
        fields=count("FieldCount"),
        z_count=count("ZCount"),
        t_count=count("TimePointCount"),
        instrument=attrs.get("TargetSystem"),
        setting=attrs.get("MeasurementSettingFileName"),
        channels=channels,
    )


def read_records(
    path: Path | PlateSource, parse: Callable[[str], NameParts | None]
) -> list[Record]:
    """The MLF's image records, in file order; ``parse`` reads a plane's file name.

    The file is read in one pass, each record made as it ends. Raises
    :class:`PlateFormatError` naming the file (and the record and its line)
    for malformed XML, a DTD or entity, a root that is not MeasurementData, or
    a record whose values are not what the format promises (the first such
    record); ``OSError`` when it cannot be read.
    """
    from platekit.microscopes._xml import stream_xml

    reader = _Records(path, parse)
    stream_xml(path, reader.start, reader.end, reader.text)
    if _local_name(reader.root) != "MeasurementData":
        raise _Fail(path)(
            f"is not CellVoyager measurement data: its root element is "
            f"<{_local_name(reader.root)}>, not <bts:MeasurementData>"
        )
    if reader.failed is not None:
        raise reader.failed[1]
    return [record for record in reader.records if record is not None]


class _Records:
    """Expat's callbacks that make the MLF's records as they end."""

    def __init__(self, path: Path | PlateSource, parse: Callable[[str], NameParts | None]) -> None:
        self.path, self.parse = path, parse
        self.root = ""
        #: One place per MeasurementRecord in the order they start (None: not an image).
        self.records: list[Record | None] = []
        #: The first record, by number, whose values are wrong, and its error.
        self.failed: tuple[int, PlateFormatError] | None = None
        self.depth = 0
        # Records started and not yet ended: (depth, index, attributes, text so far).
        self.open: list[tuple[int, int, dict[str, str], list[str]]] = []
        self.texts: list[str] | None = None
        # Attribute names (as a tuple) -> their local names: records share a few spellings.
        self.local_names: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.wells: dict[tuple[str, str], str] = {}

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        self.depth += 1
        self.texts = None  # a record's text is what comes before its first child
        if not self.root:
            self.root = "{" + tag if "}" in tag else tag
        if _local_name(tag) == "MeasurementRecord":
            self.texts = []
            self.open.append((self.depth, len(self.records), attributes, self.texts))
            self.records.append(None)

    def end(self, tag: str) -> None:
        self.texts = None
        if self.open and self.open[-1][0] == self.depth:
            _, index, attributes, texts = self.open.pop()
            self.record(index, attributes, "".join(texts))
        self.depth -= 1

    def text(self, data: str) -> None:
        if self.texts is not None:
            self.texts.append(data)

    def record(self, index: int, attributes: dict[str, str], text: str) -> None:
        number = index + 1
        if self.failed is not None and self.failed[0] < number:
            return  # its error is not the one reported
        names = tuple(attributes)
        local = self.local_names.get(names)
        if local is None:
            local = self.local_names[names] = tuple(_local_name(name) for name in names)
        attrs = dict(zip(local, attributes.values(), strict=True))
        if attrs.get("Type", "").upper() != "IMG":
            return
        file = text.strip().replace("\\", "/")
        fail = _Fail(self.path, record=number, file=file)
        name = self.parse(file.rsplit("/", 1)[-1]) if file else None
        try:
            self.records[index] = _record(attrs, file, name, fail, self.wells)
        except PlateFormatError as error:
            self.failed = (number, error)


def _record(
    attrs: dict[str, str],
    file: str,
    name: NameParts | None,
    fail: _Fail,
    wells: dict[tuple[str, str], str],
) -> Record:
    get = attrs.get
    row, column = get("Row"), get("Column")
    if row is not None and column is not None:
        well = wells.get((row, column))
        if well is None:
            well = well_name(_whole(row, "Row", fail), _whole(column, "Column", fail))
            wells[row, column] = well
    elif name is not None:
        well = name.well
    else:
        raise fail("has no Row and Column attributes and its file name does not name a well")
    position: tuple[float, float, float | None] | None = None
    x, y = get("X"), get("Y")
    if x is not None and y is not None:
        z = get("Z")
        position = (
            _decimal(x, "X", fail),
            _decimal(y, "Y", fail),
            None if z is None else _decimal(z, "Z", fail),
        )
    named = name if name is not None else _UNNAMED
    return Record(
        file,
        well,
        _component(get("FieldIndex"), "FieldIndex", named.site, fail),
        _component(get("ZIndex"), "ZIndex", named.z_index, fail),
        _component(get("TimePoint"), "TimePoint", named.timepoint, fail),
        _component(get("TimelineIndex"), "TimelineIndex", named.timeline, fail),
        _component(get("ActionIndex"), "ActionIndex", named.action, fail),
        sys.intern(get("Action", "")),  # "2D" or "3D" in every record: one string each
        _component(get("Ch"), "Ch", named.channel, fail),
        position,
        get("Time"),
        name.prefix if name is not None else None,
        get("ZImageProcessing") or None,
    )


def _component(value: str | None, attribute: str, from_name: int | None, fail: _Fail) -> int:
    """A record's attribute as a whole number, else what its file name says."""
    if value is not None:
        return _whole(value, attribute, fail)
    if from_name is not None:
        return from_name
    raise fail(f"has no {attribute} attribute and its file name does not say it")


def _record_line(path: Path | PlateSource, number: int) -> int | None:
    """The line where the ``number``-th MeasurementRecord starts, for error messages."""
    try:
        text = path.read_bytes()
    except OSError:
        return None
    for count, match in enumerate(re.finditer(rb"<(?:[\w.-]+:)?MeasurementRecord\b", text), 1):
        if count == number:
            return text.count(b"\n", 0, match.start()) + 1
    return None


# -- the measurement setting (.mes) -------------------------------------------------


@dataclass(frozen=True)
class SettingChannel:
    name: str | None
    color: str | None
    excitation_nm: float | None
    emission_nm: float | None


@dataclass(frozen=True)
class SettingAction:
    timeline: int
    action: int
    chs: tuple[int, ...]
    #: One plane per field: a 2D action, or a 3D one the instrument projects.
    flat: bool


@dataclass(frozen=True)
class Setting:
    file: str
    actions: list[SettingAction]
    channels: dict[int, SettingChannel]


def setting_file(folder: PlateSource, detail: Detail) -> PlateSource | None:
    """The measurement setting the MRF names, else the folder's only ``.mes``."""
    if detail.setting:
        try:
            return find_file(folder, detail.setting)
        except FileNotFoundError:
            return None
    try:
        found = [entry for entry in folder.entries()[0] if entry.lower().endswith(".mes")]
    except OSError:
        return None
    return folder / found[0] if len(found) == 1 else None


def read_setting(path: Path | PlateSource) -> Setting:
    """Which channels each timeline's actions acquire, and how each channel is set up."""
    from platekit.microscopes._xml import parse_xml

    root = parse_xml(path)
    if _local(root) != "MeasurementSetting":
        raise _Fail(path)(
            f"is not a CellVoyager measurement setting: its root element is <{_local(root)}>, "
            "not <bts:MeasurementSetting>"
        )
    actions: list[SettingAction] = []
    timelines = [element for element in root.iter() if _local(element) == "Timeline"]
    for timeline, element in enumerate(timelines, 1):
        acquisitions = [
            action for action in element.iter() if _local(action).startswith("ActionAcquire")
        ]
        for number, action in enumerate(acquisitions, 1):
            # Real settings list ``<bts:Ch>1</bts:Ch>``; a ``Ch`` attribute says the same.
            chs = [(child.text or "").strip() for child in action if _local(child) == "Ch"]
            chs += [
                _attributes(child)["Ch"] for child in action.iter() if "Ch" in _attributes(child)
            ]
            kind = _local(action).removeprefix("ActionAcquire").upper()
            processing = _attributes(action).get("ImageProcessing", "")
            actions.append(
                SettingAction(
                    timeline,
                    number,
                    tuple(int(ch) for ch in dict.fromkeys(chs) if ch.isdigit()),
                    kind == "2D" or processing not in ("", "None"),
                )
            )
    waves = {
        _attributes(light).get("Name", ""): _attributes(light).get("WaveLength", "")
        for light in root.iter()
        if _local(light) == "LightSource"
    }
    channels: dict[int, SettingChannel] = {}
    for element in root.iter():
        if _local(element) != "Channel":
            continue
        attrs = _attributes(element)
        if not attrs.get("Ch", "").isdigit():
            continue
        light = next(
            ((child.text or "").strip() for child in element if _local(child) == "LightSourceName"),
            "",
        )
        channels[int(attrs["Ch"])] = SettingChannel(
            name=(attrs.get("Fluorophore") or attrs.get("Target") or "").strip() or None,
            color=_color(attrs.get("Color", "")),
            excitation_nm=_wavelength(waves.get(light, "")),
            emission_nm=_emission(attrs.get("Acquisition", "")),
        )
    return Setting(path.name, actions, channels)


def _emission(acquisition: str) -> float | None:
    """The centre of a band-pass emission filter: ``BP445/45`` passes 445 ± 22.5 nm."""
    match = re.match(r"\s*BP\s*(\d+(?:\.\d+)?)", acquisition)
    return _wavelength(match[1]) if match else None


def _wavelength(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    # A lamp's wavelength is written as 0: it has none.
    return number if math.isfinite(number) and number > 0 else None


def _color(value: str) -> str | None:
    """``#AARRGGBB`` (as the software writes it) or ``#RRGGBB`` as ``RRGGBB``."""
    digits = value.strip().lstrip("#").upper()
    if re.fullmatch(r"[0-9A-F]{8}", digits):
        return digits[2:]
    return digits if re.fullmatch(r"[0-9A-F]{6}", digits) else None
