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

import functools
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from platekit.microscopes._errors import PlateFormatError
from platekit.microscopes._handler import (
    FilenameParser,
    MetadataHandler,
    MicroscopeHandler,
    local_path,
)
from platekit.microscopes._model import Channel, PlaneKey, PlaneName, PlateMetadata, PlateScan
from platekit.microscopes._source import PlateSource, as_source
from platekit.microscopes._wells import normal_well, parse_well
from platekit.microscopes.handlers._cellvoyager_files import (
    MEASUREMENT_DATA,
    MEASUREMENT_DETAIL,
    Detail,
    NameParts,
    Record,
    Setting,
    SettingChannel,
    find_file,
    read_detail,
    read_records,
    read_setting,
    setting_file,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    pass

_PLANE = re.compile(
    r"(?:(?P<prefix>.+)_)?(?P<well>[A-Z]{1,2}\d{2,3})_"
    r"T(?P<T>\d{4,})F(?P<F>\d{3,})L(?P<L>\d{2,})A(?P<A>\d{2,})Z(?P<Z>\d{2,})C(?P<C>\d{2,})"
    r"(?P<extension>\.(?i:tiff?))",
    re.DOTALL,
)
# How many digits the software pads each part of a plane name to.
_WIDTHS = {"T": 4, "F": 3, "L": 2, "A": 2, "Z": 2, "C": 2}
# "0001F001L01A01Z01C01", from T's digits to C's: the digits at exactly those widths.
_PADDED_LENGTH = sum(_WIDTHS.values()) + len(_WIDTHS) - 1
# Plate formats (rows, columns), smallest first, for an MRF that gives no plate size.
_PLATE_FORMATS = ((2, 3), (4, 6), (8, 12), (16, 24), (32, 48))


class CellVoyagerParser(FilenameParser):
    """``Plate1_D08_T0001F001L01A01Z01C01.tif``: plate, well, time point, field, timeline,
    action, z plane and channel.

    The plate name may hold underscores. The timeline and action are kept in
    ``PlaneName.extra`` as ``("timeline", "1")`` and ``("action", "1")``.
    """

    def parse(self, name: str) -> PlaneName | None:
        parts = name_parts(name)
        if parts is None:
            return None
        return PlaneName(
            well=parts.well,
            site=parts.site,
            channel=parts.channel,
            z_index=parts.z_index,
            timepoint=parts.timepoint,
            prefix=parts.prefix,
            extension=parts.extension,
            extra=(("timeline", str(parts.timeline)), ("action", str(parts.action))),
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


def name_parts(name: str) -> NameParts | None:
    """What a plane's file name says, or ``None`` for a name that is no plane's."""
    match = _PLANE.fullmatch(name)
    if match is None:
        return None
    prefix, well, t, f, timeline, action, z, c, extension = match.groups()
    # The software pads to the width and no further; a longer run with a leading zero
    # is some other file's name. Runs of exactly the widths, as nearly all are, pass.
    if match.end("C") - match.start("T") != _PADDED_LENGTH:
        for digits, width in zip((t, f, timeline, action, z, c), _WIDTHS.values(), strict=True):
            if len(digits) > width and digits.startswith("0"):
                return None
    if not _is_normal_well(well):
        return None
    # Every plane of a plate repeats its prefix: one string for them all, not one each.
    return NameParts(
        sys.intern(prefix or ""),
        well,
        int(t),
        int(f),
        int(timeline),
        int(action),
        int(z),
        int(c),
        extension,
    )


@functools.lru_cache(maxsize=4096)
def _is_normal_well(well: str) -> bool:
    try:
        return normal_well(well) == well
    except ValueError:
        return False


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

    def find_metadata_file(self, plate: Path | PlateSource) -> Path | PlateSource:
        return local_path(find_file(as_source(plate), MEASUREMENT_DATA))  # type: ignore[no-any-return]

    def read(self, plate: Path | PlateSource) -> PlateMetadata:
        return _scan(as_source(plate)).metadata

    def grid(self, plate: Path | PlateSource) -> tuple[int, int] | None:
        # The setting lists field positions, but not as rows and columns of a grid.
        return None


class CellVoyagerHandler(MicroscopeHandler):
    """Yokogawa CellVoyager plates: the folder holding ``MeasurementData.mlf``."""

    _microscope_type = "cellvoyager"
    display_name = "Yokogawa CellVoyager (CV7000, CV8000, CQ1)"
    looks_for = "MeasurementData.mlf (with MeasurementDetail.mrf) in the plate folder"
    parser = CellVoyagerParser()
    metadata_handler = CellVoyagerMetadata
    reads_source = True

    def scan(self, plate: Path | PlateSource) -> PlateScan:
        return _scan(as_source(plate))


# -- from records to planes ---------------------------------------------------------


def _scan(folder: PlateSource) -> PlateScan:
    mlf = find_file(folder, MEASUREMENT_DATA)
    try:
        mrf = find_file(folder, MEASUREMENT_DETAIL)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{str(folder)!r} has {mlf.name} but no {MEASUREMENT_DETAIL}, which holds the "
            "plate size and channels; copy it back from the original measurement folder"
        ) from None
    detail = read_detail(mrf)
    records = read_records(mlf, name_parts)
    notices: list[str] = []
    setting = None
    setting_path = setting_file(folder, detail)
    if setting_path is not None:
        try:
            setting = read_setting(setting_path)
        except (PlateFormatError, OSError) as error:
            notices.append(
                f"the measurement setting could not be read ({error}); the channels acquired "
                "were taken from the image records alone"
            )

    layout = _channels(records, detail, setting)
    try:
        entries = {*folder.entries()[0]}
    except OSError:
        entries = set()

    planes: dict[PlaneKey, str] = {}
    missing: set[PlaneKey] = set()
    positions: dict[PlaneKey, tuple[float, float, float | None]] = {}
    # The planes' keys as plain tuples, so that the grid below makes a key only for a gap.
    present: set[tuple[str, int, int, int, int]] = set()
    seen_wells: set[str] = set()
    site_count, z_count = detail.fields or 1, detail.z_count or 1
    t_count = detail.t_count or 1
    for record in records:
        channel = layout.channel_of[(record.action, record.ch)]
        parts = (record.well, record.field, channel, record.z_index, record.timepoint)
        key = PlaneKey(*parts)
        seen_wells.add(record.well)
        site_count = max(site_count, record.field)
        z_count = max(z_count, record.z_index)
        t_count = max(t_count, record.timepoint)
        if record.position is not None:
            positions.setdefault(key, record.position)
        if parts in present:
            continue
        found = bool(record.file) and (
            (folder / record.file).is_file() if "/" in record.file else record.file in entries
        )
        if found:
            planes[key] = record.file
            present.add(parts)
            if missing:
                missing.discard(key)
        else:
            missing.add(key)

    wells = sorted(seen_wells, key=parse_well)
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
                            if (well, site, channel, z, t) not in present:
                                missing.add(PlaneKey(well, site, channel, z, t))
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


def _channels(records: list[Record], detail: Detail, setting: Setting | None) -> _Layout:
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
    number: int, ch: int, info: SettingChannel | None, plain: str, suffix: str = ""
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


def _channel_notices(layout: _Layout, setting: Setting | None) -> list[str]:
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


def _timelines(records: list[Record], t_count: int) -> dict[int, tuple[int, int]]:
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
    records: list[Record],
    layout: _Layout,
    setting: Setting | None,
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


def _plate_size(detail: Detail, wells: list[str]) -> tuple[int, int]:
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
