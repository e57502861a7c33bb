"""Revvity (PerkinElmer) Opera Phenix and Operetta plates, as Harmony exports them.

A Harmony export is a measurement folder whose ``Images/`` holds one TIFF
per plane, named ``r01c01f01p01-ch1sk1fk1fl1.tiff``, beside an XML index
(``Index.idx.xml``, ``Index.xml`` or ``Index.ref.xml``; some exports put
them in the measurement folder itself). The index lists every plane with
its well, field, plane, time point and channel, the channels' names and
wavelengths, the pixel size and the stage positions.

Harmony 5 numbers time points from 0 and Harmony 7 from 1, so the time
point is taken from the file name (``sk<T>``) or the image id
(``RRCCK<T>F<f>P<p>R<ch>``), which agree across versions.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import NoReturn

from platekit.microscopes._errors import PlateFormatError
from platekit.microscopes._handler import (
    FilenameParser,
    MetadataHandler,
    MicroscopeHandler,
    local_path,
)
from platekit.microscopes._model import Channel, PlaneKey, PlaneName, PlateMetadata, PlateScan
from platekit.microscopes._source import PlateSource, as_source
from platekit.microscopes._wells import parse_well, well_name
from platekit.microscopes.handlers._harmony_index import (
    IMAGES_FOLDER,
    INDEX_NAMES,
    HarmonyIndex,
    IndexImage,
    find_index,
    read_index,
)

# Two digits at least, and no more padding than that, so format() gives the very name back.
_PADDED = r"(0[1-9]|[1-9]\d+)"
_NUMBER = r"([1-9]\d*)"
_PLANE_FILE = re.compile(
    rf"r{_PADDED}c{_PADDED}f{_PADDED}p{_PADDED}-ch{_NUMBER}sk{_NUMBER}fk{_NUMBER}fl{_NUMBER}"
    r"(\.(?i:tiff?))",
    re.ASCII,
)
# An image entry's id: row and column (two digits each), then K<t>F<field>P<plane>R<channel>.
_IMAGE_ID = re.compile(r"(\d{2})(\d{2})K(\d+)F(\d+)P(\d+)R(\d+)", re.ASCII)


class OperaFilenameParser(FilenameParser):
    """``r<RR>c<CC>f<FF>p<PP>-ch<C>sk<T>fk<K>fl<L>.tiff`` file names.

    Row, column, field and plane are padded to two digits; ``sk`` is the
    time point. ``fk`` and ``fl`` are kept in :attr:`PlaneName.extra` so
    that :meth:`format` gives the same name back.
    """

    def parse(self, name: str) -> PlaneName | None:
        match = _PLANE_FILE.fullmatch(name)
        if match is None:
            return None
        row, column, site, plane, channel, timepoint, fk, fl, extension = match.groups()
        return PlaneName(
            well=well_name(int(row), int(column)),
            site=int(site),
            channel=int(channel),
            z_index=int(plane),
            timepoint=int(timepoint),
            extension=extension,
            extra=(("fk", fk), ("fl", fl)),
        )

    def format(self, plane: PlaneName) -> str:
        row, column = parse_well(plane.well)
        return (
            f"r{row:02d}c{column:02d}f{plane.site or 1:02d}p{plane.z_index or 1:02d}"
            f"-ch{plane.channel or 1}sk{plane.timepoint or 1}"
            f"fk{plane.get('fk', '1')}fl{plane.get('fl', '1')}{plane.extension}"
        )


_PARSER = OperaFilenameParser()


class OperaMetadataHandler(MetadataHandler):
    """Reads a Harmony export's index (V5 ``Index.idx.xml``, V7 ``Index.xml``, ...)."""

    def find_metadata_file(self, plate: Path | PlateSource) -> Path | PlateSource:
        """The index in ``plate`` or ``plate/Images``; ``FileNotFoundError`` if neither has one."""
        return local_path(_index_file(as_source(plate)))  # type: ignore[no-any-return]

    def read(self, plate: Path | PlateSource) -> PlateMetadata:
        return scan_plate(as_source(plate)).metadata


def _index_file(plate: PlateSource) -> PlateSource:
    found = find_index(plate)
    if found is None:
        raise FileNotFoundError(
            f"no Harmony index in {str(plate)!r}: looked for {', '.join(INDEX_NAMES)} in "
            f"the folder and in its {IMAGES_FOLDER}/ folder; open the measurement folder "
            "Harmony exported"
        )
    return found


class OperaPhenixHandler(MicroscopeHandler):
    """Opera Phenix, Operetta and Sonata plates exported by Harmony (and Columbus indexes)."""

    _microscope_type = "opera_phenix"
    display_name = "Revvity Opera Phenix / Operetta (Harmony export)"
    looks_for = (
        "Index.idx.xml, Index.xml, Index.ref.xml or ImageIndex.ColumbusIDX.xml in the plate "
        "folder or Images/"
    )
    parser = _PARSER
    metadata_handler = OperaMetadataHandler
    reads_source = True

    def detect(self, plate: Path | PlateSource) -> Path | PlateSource | None:
        found = super().detect(plate)
        # "Index.xml" is a common name; only a Harmony root element makes it one of ours.
        if found is not None and found.name.lower() == "index.xml":
            try:
                with found.open("rb") as file:
                    head = file.read(4096)
            except OSError:
                return None
            if b"EvaluationInputData" not in head:
                return None
        return found

    def scan(self, plate: Path | PlateSource) -> PlateScan:
        return scan_plate(as_source(plate))


def scan_plate(plate: PlateSource) -> PlateScan:
    """The Harmony export in ``plate``: its metadata and the address of every plane.

    Addresses are paths relative to ``plate`` (``Images/r01c01f01p01-ch1sk1fk1fl1.tiff``
    when the index sits in ``Images/``). Entries with an empty URL, or whose
    file is not in the folder, go to ``missing``. Raises
    ``FileNotFoundError`` when there is no index and
    :class:`PlateFormatError` when it is malformed.
    """
    index_path = _index_file(plate)
    index = read_index(index_path)
    folder = index_path.parent
    prefix = folder.relative_to(plate).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    files, folders = folder.entries()
    names = {*files, *folders}
    base = _timepoint_base(index)

    planes: dict[PlaneKey, str] = {}
    missing: list[PlaneKey] = []
    positions: dict[PlaneKey, tuple[float, float, float | None]] = {}
    entries: dict[PlaneKey, str] = {}
    wells = set(index.wells)
    plane_key = _PlaneKeys(index, base)
    for image in index.images:
        row, column, key = plane_key(image)
        if key in entries:
            raise PlateFormatError(
                index.path,
                f"the image entries {entries[key]!r} and {image.id!r} are both plane {key}; "
                "platekit reads one image per well, field, plane, channel and time point",
            )
        if image.buffer:
            # The default reader reads a TIFF's first image; reading it for every
            # buffer would give one plane's pixels to all of them.
            raise PlateFormatError(
                index.path,
                f"image entry {image.id!r} is image {image.buffer} of the multi-image TIFF "
                f"{image.url!r} (BufferNo); platekit reads one plane per TIFF file",
            )
        entries[key] = image.id
        wells.add((row, column))
        url = _file_in(folder, image.url, names)
        if url is None:
            missing.append(key)
        else:
            planes[key] = prefix + url
        x, y, z = image.position_um
        if x is not None and y is not None:
            positions[key] = (x, y, z)

    keys = list(entries)
    channel_ids = sorted({key.channel for key in keys}) or sorted(index.channels)
    channels = {number: _channel(number, index) for number in channel_ids}
    described = [index.channels[n] for n in channel_ids if n in index.channels]
    pixel_size = next((c.pixel_size_um[0] for c in described if c.pixel_size_um[0]), None)
    sizes = [(y, x) for x, y in (c.size for c in described) if x and y]
    sites = sorted({key.site for key in keys})
    rows, columns = _plate_format(index, wells)
    metadata = PlateMetadata(
        name=index.name or index.plate_id or _plate_name(plate),
        microscope=OperaPhenixHandler._microscope_type or "",
        rows=rows,
        columns=columns,
        wells=[well_name(row, column) for row, column in sorted(wells)],
        sites=sites,
        channels=channels,
        z_count=max((key.z_index for key in keys), default=1),
        t_count=max((key.timepoint for key in keys), default=1),
        grid=_grid(sites, positions),
        pixel_size_um=pixel_size,
        z_step_um=_z_step(positions),
        image_shape=sizes[0] if sizes else None,
        dtype=_dtype(plate, planes),
        positions=positions,
        extra=_extra(index, index_path.relative_to(plate).as_posix(), channel_ids),
    )
    return PlateScan(metadata=metadata, planes=planes, missing=sorted(missing))


def _timepoint_base(index: HarmonyIndex) -> int:
    """The TimepointID of the first time point: 0 up to Harmony 5, 1 in Harmony 7.

    Other versions (and Columbus) are judged by the entries: a TimepointID
    of 0 means counting from 0.
    """
    written = [image.timepoint_id for image in index.images if image.timepoint_id is not None]
    if (index.version is not None and index.version <= 5) or (written and min(written) == 0):
        return 0
    return 1


_PARTS = ("Row", "Col", "FieldID", "PlaneID", "ChannelID", "TimepointID")


class _PlaneKeys:
    """Makes each image entry's plane key, with the well names made once per well."""

    def __init__(self, index: HarmonyIndex, base: int) -> None:
        self.index = index
        self.base = base
        self.wells: dict[tuple[int, int], str] = {}

    def __call__(self, image: IndexImage) -> tuple[int, int, PlaneKey]:
        """The entry's row, column and plane.

        Row, column, field, plane and channel come from the entry's own
        elements, else its file name, else its id. The time point comes from
        the file name (``sk``) or the id (``K``) first, as those agree across
        versions, and from TimepointID only when neither says it.
        """
        parts = [image.row, image.column, image.field, image.plane, image.channel, None]
        named = _named(image.url)
        if named is not None:
            parts = _filled(parts, named)
        if None in parts:  # the id is read only when the name leaves a part unsaid
            identified = _identified(image.id)
            if identified is not None:
                parts = _filled(parts, identified)
        if parts[5] is None and image.timepoint_id is not None:
            parts[5] = image.timepoint_id - self.base + 1
        row, column = parts[0], parts[1]
        site, plane, channel, timepoint = (1 if part is None else part for part in parts[2:])
        if row is None or column is None or min(row, column, site, plane, channel, timepoint) < 1:
            self.refuse(image, [row, column, site, plane, channel, timepoint])
        well = self.wells.get((row, column))
        if well is None:
            well = self.wells[row, column] = well_name(row, column)
        return row, column, PlaneKey(well, site, channel, plane, timepoint)

    def refuse(self, image: IndexImage, parts: list[int | None]) -> NoReturn:
        """Raise for the first part that is absent or below 1."""
        entry = image.id or "(no id)"
        for what, value in zip(_PARTS, parts, strict=True):
            if value is None:
                raise PlateFormatError(
                    self.index.path,
                    f"image entry {entry!r} has no {what}, and neither its URL nor its id names "
                    "one; is the index damaged?",
                )
            if value < 1:
                raise PlateFormatError(
                    self.index.path,
                    f"image entry {entry!r} has {what} {value}, but Harmony numbers them from 1; "
                    "is the index damaged?",
                )
        raise AssertionError("refuse() is called only for a part that is absent or below 1")


def _filled(parts: list[int | None], numbers: tuple[int, ...]) -> list[int | None]:
    return [
        part if part is not None else number for part, number in zip(parts, numbers, strict=True)
    ]


def _named(url: str) -> tuple[int, ...] | None:
    """Row, column, field, plane, channel and time point as the URL's file name says them."""
    if "/" in url or "\\" in url:
        url = PurePosixPath(url.replace("\\", "/")).name
    match = _PLANE_FILE.fullmatch(url) if url else None
    if match is None:
        return None
    row, column, site, plane, channel, timepoint = match.groups()[:6]
    return int(row), int(column), int(site), int(plane), int(channel), int(timepoint)


def _identified(image_id: str) -> tuple[int, ...] | None:
    """Row, column, field, plane, channel and time point as an ``RRCCK<t>F<f>P<p>R<ch>`` id says."""
    match = _IMAGE_ID.fullmatch(image_id)
    if match is None:
        return None
    row, column, timepoint, site, plane, channel = (int(part) for part in match.groups())
    return row, column, site, plane, channel, timepoint


def _file_in(folder: PlateSource, url: str, names: set[str]) -> str | None:
    """``url`` as a path below ``folder`` when that file exists there, else ``None``.

    A URL that leaves the folder (absolute, ``..``, a drive or a scheme) names
    no file of the plate and is never opened.
    """
    if url in names and url.strip() == url and not any(c in url for c in "/\\:"):
        return url  # a file of the folder itself, as nearly every URL is
    url = url.replace("\\", "/").strip()
    path = PurePosixPath(url)
    if not url or path.is_absolute() or not path.parts:
        return None
    if ".." in path.parts or ":" in path.parts[0]:
        return None
    if len(path.parts) == 1:
        return url if url in names else None
    return path.as_posix() if (folder / path.as_posix()).is_file() else None


def _channel(number: int, index: HarmonyIndex) -> Channel:
    described = index.channels.get(number)
    if described is None:
        return Channel(number, f"Channel {number}")
    return Channel(
        number,
        described.name or f"Channel {number}",
        excitation_nm=described.excitation_nm,
        emission_nm=described.emission_nm,
    )


# Wells of the standard plate formats, as (rows, columns).
_PLATE_FORMATS = {
    6: (2, 3),
    12: (3, 4),
    24: (4, 6),
    48: (6, 8),
    96: (8, 12),
    384: (16, 24),
    1536: (32, 48),
}


def _plate_format(index: HarmonyIndex, wells: set[tuple[int, int]]) -> tuple[int, int]:
    if index.rows and index.columns:
        return index.rows, index.columns
    # An index without PlateRows/PlateColumns: "384 PerkinElmer CellCarrier Ultra" says 384.
    count = re.match(r"\s*(\d+)", index.plate_type or "")
    if count is not None and int(count.group(1)) in _PLATE_FORMATS:
        return _PLATE_FORMATS[int(count.group(1))]
    return (max((r for r, _ in wells), default=1), max((c for _, c in wells), default=1))


def _plate_name(plate: PlateSource) -> str:
    """The measurement folder's name, also when the plate opened is its Images/ folder."""
    folder = plate.resolve()
    return folder.parent.name if folder.name.lower() == IMAGES_FOLDER.lower() else folder.name


def _grid(
    sites: list[int], positions: dict[PlaneKey, tuple[float, float, float | None]]
) -> tuple[int, int] | None:
    """The fields as (rows, columns) when their positions in a well fill a rectangle."""
    if not positions or not sites:
        return None
    first_well = min(key.well for key in positions)
    where: dict[int, tuple[float, float]] = {}
    for key in sorted(positions):
        if key.well == first_well:
            x, y, _ = positions[key]
            # Fields of one grid row share a y to well under 0.1 µm.
            where.setdefault(key.site, (round(x, 1), round(y, 1)))
    if sorted(where) != sites:
        return None
    xs = {x for x, _ in where.values()}
    ys = {y for _, y in where.values()}
    if len(xs) * len(ys) != len(sites) or len(set(where.values())) != len(sites):
        return None
    return len(ys), len(xs)


def _z_step(positions: dict[PlaneKey, tuple[float, float, float | None]]) -> float | None:
    """The distance between planes, from the first stack that has two planes with a PositionZ."""
    stacks: dict[tuple[str, int, int, int], dict[int, float]] = {}
    for key, (_, _, z) in positions.items():
        if z is not None:
            stacks.setdefault((key.well, key.site, key.channel, key.timepoint), {})[key.z_index] = z
    for stack in (stacks[k] for k in sorted(stacks)):
        if len(stack) > 1:
            first, last = min(stack), max(stack)
            return float(f"{abs(stack[last] - stack[first]) / (last - first):.9g}")
    return None


def _dtype(plate: PlateSource, planes: dict[PlaneKey, str]) -> str | None:
    """The pixel type of the first plane's TIFF (the index does not say), or ``None``."""
    if not planes:
        return None
    import tifffile

    try:
        with (plate / planes[min(planes)]).open("rb") as file, tifffile.TiffFile(file) as tiff:
            return str(tiff.pages.first.dtype)
    except Exception:
        # A damaged first file is reported when it is read, not here.
        return None


def _extra(index: HarmonyIndex, index_file: str, channel_ids: list[int]) -> dict[str, object]:
    extra: dict[str, object] = {
        "index_file": index_file,
        "harmony_version": index.version,
        "schema": index.schema,
        "instrument_type": index.instrument,
        "user": index.user,
        "plate_id": index.plate_id,
        "plate_type": index.plate_type,
        "measurement_id": index.measurement_id,
        "measurement_start_time": index.measurement_start_time,
    }
    described: dict[str, object] = {}
    for number in channel_ids:
        channel = index.channels.get(number)
        if channel is None:
            continue
        facts = {
            "type": channel.type,
            "acquisition": channel.acquisition,
            "exposure_s": channel.exposure_s,
            "objective_magnification": channel.objective_magnification,
            "objective_na": channel.objective_na,
            "camera": channel.camera,
            "binning": list(channel.binning) if channel.binning[0] else None,
            "pixel_size_um": list(channel.pixel_size_um) if channel.pixel_size_um[0] else None,
        }
        described[str(number)] = {k: v for k, v in facts.items() if v is not None}
    extra["channels"] = described
    return {key: value for key, value in extra.items() if value is not None}
