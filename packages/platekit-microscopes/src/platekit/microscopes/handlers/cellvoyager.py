"""Yokogawa CellVoyager (CV7000, CV8000, CQ1) plates: ``MeasurementData.mlf`` and its MRF.

The measurement data file (MLF) lists one record per image the instrument
took; the measurement detail file (MRF) holds the plate size, the counts of
fields, z planes and time points, and one entry per channel the protocol
defines (pixel size, image size, bit depth); the measurement setting
(``.mes``) says which channels each timeline's actions acquire and how each
channel is set up. The images are TIFFs beside them, named
``<plate>_<well>_T<tttt>F<fff>L<ll>A<aa>Z<zz>C<cc>.tif``; the ``SC_*`` and
``DC_*`` TIFFs are shading and dark corrections, not planes.

How a record becomes a plane:

- Only records of ``Type="IMG"`` are images; ``ERR`` and every other type
  are skipped.
- The well comes from ``Row`` and ``Column`` (1-based), or from the file
  name when a record lacks them; ``site`` is ``FieldIndex`` and ``z_index``
  is ``ZIndex``.
- ``timepoint`` is ``TimePoint``, which counts across the whole measurement:
  with several timelines, each goes on where the one before stopped.
- ``channel`` is ``Ch``. When two actions acquire the same ``Ch`` number,
  every (action, ``Ch``) pair is its own channel instead, numbered from 1 in
  (action, ``Ch``) order and named ``"<name> (action <a>)"``;
  ``PlateMetadata.extra["channel_sources"]`` says which is which.
- The channels are those acquired (by an image record or a setting's
  action); a channel the MRF only defines is left out, with a notice.
- A channel that only 2D actions acquire, or whose images are projections
  the instrument made (``ZImageProcessing``), has one z plane, so its planes
  above the first are not counted as missing.

Attributes are read by their local names, so ``bts:Type`` and ``Type`` are
the same. The MLF is the index: a TIFF no record names is not a plane. A
record whose file is not in the folder is a missing plane, and so is every
plane the counts imply that no record lists: each timeline, at its time
points, images the wells it has records for, at every field, in every
channel it acquires, at every z plane.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, replace
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
    ``Ch``), and, where they apply, ``channel_sources``, ``timelines`` (each
    one's first and last t), ``unacquired_channels`` and ``z_projections``.
    ``PlateMetadata.notices`` names the channels left out and the
    projections.
    """

    def find_metadata_file(self, plate: Path) -> Path:
        return _find_file(Path(plate), MEASUREMENT_DATA)

    def read(self, plate: Path) -> PlateMetadata:
        return _scan(Path(plate)).metadata

    def grid(self, plate: Path) -> tuple[int, int] | None:
        # The setting lists field positions, but not as rows and columns of a grid.
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
    #: ``ZImageProcessing`` ("Maximum"): the image is a projection the instrument made of a stack.
    projection: str | None


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
        projection=attrs.get("ZImageProcessing") or None,
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


# -- the measurement setting (.mes) -------------------------------------------------


@dataclass(frozen=True)
class _SettingChannel:
    name: str | None
    color: str | None
    excitation_nm: float | None
    emission_nm: float | None


@dataclass(frozen=True)
class _Action:
    timeline: int
    action: int
    chs: tuple[int, ...]
    #: One plane per field: a 2D action, or a 3D one the instrument projects.
    flat: bool


@dataclass(frozen=True)
class _Setting:
    file: str
    actions: list[_Action]
    channels: dict[int, _SettingChannel]


def _setting_file(folder: Path, detail: _Detail) -> Path | None:
    """The measurement setting the MRF names, else the folder's only ``.mes``."""
    if detail.setting:
        try:
            return _find_file(folder, detail.setting)
        except FileNotFoundError:
            return None
    try:
        found = [entry for entry in os.listdir(folder) if entry.lower().endswith(".mes")]
    except OSError:
        return None
    return folder / found[0] if len(found) == 1 else None


def _read_setting(path: Path) -> _Setting:
    """Which channels each timeline's actions acquire, and how each channel is set up."""
    from platekit.microscopes._xml import parse_xml

    root = parse_xml(path)
    if _local(root) != "MeasurementSetting":
        raise _Fail(path)(
            f"is not a CellVoyager measurement setting: its root element is <{_local(root)}>, "
            "not <bts:MeasurementSetting>"
        )
    actions: list[_Action] = []
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
                _Action(
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
    channels: dict[int, _SettingChannel] = {}
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
        channels[int(attrs["Ch"])] = _SettingChannel(
            name=(attrs.get("Fluorophore") or attrs.get("Target") or "").strip() or None,
            color=_color(attrs.get("Color", "")),
            excitation_nm=_wavelength(waves.get(light, "")),
            emission_nm=_emission(attrs.get("Acquisition", "")),
        )
    return _Setting(path.name, actions, channels)


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
    notices: list[str] = []
    setting = None
    setting_path = _setting_file(folder, detail)
    if setting_path is not None:
        try:
            setting = _read_setting(setting_path)
        except (PlateFormatError, OSError) as error:
            notices.append(
                f"the measurement setting could not be read ({error}); the channels acquired "
                "were taken from the image records alone"
            )

    layout = _channels(records, detail, setting)
    try:
        entries = set(os.listdir(folder))
    except OSError:
        entries = set()

    planes: dict[PlaneKey, str] = {}
    missing: set[PlaneKey] = set()
    positions: dict[PlaneKey, tuple[float, float, float | None]] = {}
    for record in records:
        channel = layout.channel_of[(record.action, record.ch)]
        key = PlaneKey(record.well, record.field, channel, record.z_index, record.timepoint)
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
    timelines = _timelines(records, t_count)
    scheduled = _schedule(records, layout, setting, timelines)
    grid = 0
    for timeline, (first, last) in timelines.items():
        taken_wells, taken_channels = scheduled[timeline]
        for well in taken_wells:
            for site in range(1, site_count + 1):
                for channel in taken_channels:
                    for z in range(1, (1 if layout.flat[channel] else z_count) + 1):
                        for t in range(first, last + 1):
                            grid += 1
                            key = PlaneKey(well, site, channel, z, t)
                            if key not in planes:
                                missing.add(key)
    dense = sum(1 if layout.flat[channel] else z_count for channel in layout.channels)
    if grid < len(wells) * site_count * dense * t_count:
        notices.append(
            f"its {len(timelines)} timelines take different wells or channels: a well, channel "
            "and time point no timeline takes has no plane and is not counted as missing"
        )
    notices += _channel_notices(layout, setting)

    rows, columns = _plate_size(detail, wells)
    extra: dict[str, object] = {
        "instrument": detail.instrument,
        "measurement_setting": detail.setting,
        "start_time": records[0].time if records else None,
        "input_bit_depth": {
            str(ch): info.bit_depth for ch, info in sorted(detail.channels.items())
        },
    }
    if layout.sources:
        extra["channel_sources"] = layout.sources
    if len(timelines) > 1:
        extra["timelines"] = {str(tl): [first, last] for tl, (first, last) in timelines.items()}
    if layout.unacquired:
        extra["unacquired_channels"] = layout.unacquired
    if layout.projections:
        extra["z_projections"] = {str(c): how for c, how in sorted(layout.projections.items())}
    acquired = {ch for _, ch in layout.channel_of}
    kept = {ch: info for ch, info in detail.channels.items() if ch in acquired}
    depths = [info.bit_depth for info in kept.values() if info.bit_depth is not None]
    shapes = {info.shape for info in kept.values() if info.shape is not None}
    metadata = PlateMetadata(
        name=next((r.prefix for r in records if r.prefix), None) or folder.name,
        microscope="cellvoyager",
        rows=rows,
        columns=columns,
        wells=wells,
        sites=list(range(1, site_count + 1)),
        channels=layout.channels,
        z_count=z_count,
        t_count=t_count,
        grid=None,
        pixel_size_um=next(
            (
                info.pixel_size_um
                for _, info in sorted(kept.items())
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
        notices=notices,
    )
    return PlateScan(metadata, planes, sorted(missing))


@dataclass
class _Layout:
    """The plate's channels and where each comes from."""

    #: (action, Ch) -> channel number.
    channel_of: dict[tuple[int, int], int]
    channels: dict[int, Channel]
    #: Channel number -> {"action", "ch"}, when actions sharing a Ch were told apart.
    sources: dict[str, dict[str, int]]
    #: Channel number -> whether it has one plane per field (2D, or a projection).
    flat: dict[int, bool]
    #: Channel number -> how the instrument projected its stack ("Maximum").
    projections: dict[int, str]
    #: The MRF's Ch numbers that no record and no setting acquires.
    unacquired: list[int]


def _channels(records: list[_Record], detail: _Detail, setting: _Setting | None) -> _Layout:
    """The channels acquired: by an image record, or by an action of the measurement setting.

    With neither records nor a setting, every channel the MRF defines.
    """
    flat: dict[tuple[int, int], bool] = {}
    projections: dict[tuple[int, int], str] = {}
    for record in records:
        pair = (record.action, record.ch)
        flat[pair] = flat.get(pair, True) and (
            record.action_kind.upper() == "2D" or record.projection is not None
        )
        if record.projection is not None:
            projections[pair] = record.projection
    recorded = {ch for _, ch in flat}
    if setting is not None:
        # The setting adds only what no record shows: its action numbering is not
        # trusted to match the records' ActionIndex.
        for action in setting.actions:
            for ch in action.chs:
                if ch not in recorded:
                    pair = (action.action, ch)
                    flat[pair] = flat.get(pair, True) and action.flat
    if not flat:
        flat = {(1, ch): False for ch in detail.channels}
    pairs = sorted(flat)
    numbers = [ch for _, ch in pairs]
    named = setting.channels if setting is not None else {}
    if len(set(numbers)) == len(numbers):
        channel_of = {pair: pair[1] for pair in pairs}
        channels = {ch: _channel(ch, ch, named.get(ch), f"Ch{ch}") for _, ch in pairs}
        sources: dict[str, dict[str, int]] = {}
    else:
        channel_of = {pair: number for number, pair in enumerate(pairs, 1)}
        channels = {
            number: _channel(number, ch, named.get(ch), f"Ch{ch}", f" (action {action})")
            for (action, ch), number in channel_of.items()
        }
        sources = {
            str(number): {"action": action, "ch": ch} for (action, ch), number in channel_of.items()
        }
    # Two channels set up with the same target stay told apart by their Ch.
    names = [channel.name for channel in channels.values()]
    for number, channel in channels.items():
        if names.count(channel.name) > 1:
            ch = next(c for (_, c), n in channel_of.items() if n == number)
            channels[number] = replace(channel, name=f"{channel.name} (Ch{ch})")
    return _Layout(
        channel_of=channel_of,
        channels=dict(sorted(channels.items())),
        sources=sources,
        flat={number: flat[pair] for pair, number in channel_of.items()},
        projections={channel_of[pair]: how for pair, how in projections.items()},
        unacquired=sorted(set(detail.channels) - set(numbers)),
    )


def _channel(
    number: int, ch: int, info: _SettingChannel | None, plain: str, suffix: str = ""
) -> Channel:
    if info is None:
        return Channel(number, f"{plain}{suffix}")
    return Channel(
        number,
        f"{info.name or plain}{suffix}",
        excitation_nm=info.excitation_nm,
        emission_nm=info.emission_nm,
        color=info.color,
    )


def _channel_notices(layout: _Layout, setting: _Setting | None) -> list[str]:
    notices: list[str] = []
    if layout.unacquired:
        one = len(layout.unacquired) == 1
        them = "it" if one else "them"
        where = f"{MEASUREMENT_DATA} has no image of {them}"
        if setting is not None:
            where += f" and {setting.file} does not acquire {them}"
        notices.append(
            f"{_spoken([f'Ch{ch}' for ch in layout.unacquired])} {'is' if one else 'are'} "
            f"defined in {MEASUREMENT_DETAIL} but not acquired ({where}): left out of the plate"
        )
    if layout.projections:
        ways = sorted(set(layout.projections.values()))
        numbers = _spoken([str(number) for number in sorted(layout.projections)])
        several = len(layout.projections) > 1
        notices.append(
            f"channel{'s' if several else ''} {numbers} hold{'' if several else 's'} "
            f"{'/'.join(ways).lower()} projections the instrument made of z stacks "
            "(ZImageProcessing): each field's projection is read as its one z plane"
        )
    return notices


def _spoken(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _timelines(records: list[_Record], t_count: int) -> dict[int, tuple[int, int]]:
    """Each timeline's first and last time point.

    ``TimePoint`` counts across the whole measurement, so timelines follow one
    another: a timeline runs from its first recorded time point to the one
    before the next timeline's first (the first from 1, the last to ``t_count``).
    """
    firsts: dict[int, int] = {}
    for record in records:
        firsts[record.timeline] = min(
            firsts.get(record.timeline, record.timepoint), record.timepoint
        )
    order = sorted(firsts, key=lambda timeline: (firsts[timeline], timeline))
    spans: dict[int, tuple[int, int]] = {}
    for index, timeline in enumerate(order):
        first = 1 if index == 0 else firsts[timeline]
        last = firsts[order[index + 1]] - 1 if index + 1 < len(order) else t_count
        spans[timeline] = (first, max(first, last))
    return dict(sorted(spans.items()))


def _schedule(
    records: list[_Record],
    layout: _Layout,
    setting: _Setting | None,
    timelines: dict[int, tuple[int, int]],
) -> dict[int, tuple[list[str], list[int]]]:
    """Timeline -> the wells it images and the channels it acquires."""
    wells: dict[int, set[str]] = {timeline: set() for timeline in timelines}
    channels: dict[int, set[int]] = {timeline: set() for timeline in timelines}
    for record in records:
        wells[record.timeline].add(record.well)
        channels[record.timeline].add(layout.channel_of[(record.action, record.ch)])
    for action in setting.actions if setting is not None else []:
        for ch in action.chs if action.timeline in channels else ():
            number = layout.channel_of.get((action.action, ch))
            if number is None:
                # A Ch the records tell apart by action is matched only by its action.
                same = [n for (_, c), n in layout.channel_of.items() if c == ch]
                number = same[0] if len(same) == 1 else None
            if number is not None:
                channels[action.timeline].add(number)
    return {
        timeline: (sorted(wells[timeline], key=parse_well), sorted(channels[timeline]))
        for timeline in timelines
    }


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
