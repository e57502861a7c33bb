"""Molecular Devices ImageXpress plates, as MetaXpress writes them.

A plate folder holds ``<plate>.HTD`` (any case; it may sit in, or only in,
``TimePoint_1/``) and one TIFF per plane named
``<plate>_<well>[_s<site>][_w<wave>][<GUID>].tif``, either flat or in
``TimePoint_<t>/`` and ``ZStep_<z>/`` folders (alone or nested). The HTD
says which wells, sites and wavelengths were imaged; the folders give the
time point and Z plane; the first plane's MetaSeries XML gives the pixel
size, shape and dtype.

Scanning lists each folder once and opens only the first plane (and, for a
Z series, the same plane at the next Z for the step). Stage positions sit
in every plane's TIFF, so reading them costs one file open per plane: they
are read the first time ``PlateMetadata.positions`` is used, not by
:meth:`ImageXpressHandler.scan`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from platekit.microscopes._handler import FilenameParser, MetadataHandler, MicroscopeHandler
from platekit.microscopes._model import Channel, PlaneKey, PlaneName, PlateMetadata, PlateScan
from platekit.microscopes.handlers._htd import HtdLayout, read_htd
from platekit.microscopes.handlers._metaseries import (
    StagePositions,
    metaseries_props,
    pixel_size_um,
    stage_position,
    tiff_header,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
# What follows the plate prefix: well, site, wave, thumbnail mark, GUID, extension.
_TAIL = (
    r"(?P<well>[A-Z]{1,2}(?!00)\d\d)"
    r"(?:_s(?P<site>\d+))?(?:_w(?P<wave>\d+))?(?P<thumb>_thumb)?"
    rf"(?P<guid>_?(?:{_GUID}|\[{_GUID}\]|\{{{_GUID}\}}))?"
    r"(?P<extension>\.(?i:tiff?))"
)
# Read right to left: the greedy prefix leaves the well as the last part that
# the rest can follow. No tail holds another tail after one of its
# underscores, so a tail that fits after a known prefix is the one this finds.
_NAME = re.compile(r"(?:(?P<prefix>.+)_)?" + _TAIL)
_NAME_TAIL = re.compile(_TAIL)
_TIMEPOINT = re.compile(r"timepoint_(\d+)", re.IGNORECASE)
_ZSTEP = re.compile(r"zstep_(\d+)", re.IGNORECASE)


class ImageXpressParser(FilenameParser):
    """``<prefix>_<well>[_s<site>][_w<wave>][<GUID>].tif``; ``None`` for ``_thumb`` files.

    The prefix may hold underscores. A GUID (bare, ``_``-led, or in brackets
    or braces), zero-padded site or wave numbers and the extension's case
    are kept in :attr:`PlaneName.extra` and :attr:`PlaneName.extension`, so
    :meth:`format` gives the very name back.
    """

    def parse(self, name: str) -> PlaneName | None:
        match = _NAME.fullmatch(name)
        if match is None or match["thumb"]:
            return None
        site, wave, guid = match["site"], match["wave"], match["guid"]
        extra: list[tuple[str, str]] = []
        if site and site != str(int(site)):
            extra.append(("site_digits", str(len(site))))
        if wave and wave != str(int(wave)):
            extra.append(("wave_digits", str(len(wave))))
        if guid:
            extra.append(("guid", guid))
        return PlaneName(
            well=match["well"],
            site=int(site) if site else None,
            channel=int(wave) if wave else None,
            prefix=match["prefix"] or "",
            extension=match["extension"],
            extra=tuple(extra),
        )

    def format(self, plane: PlaneName) -> str:
        parts = [f"{plane.prefix}_{plane.well}" if plane.prefix else plane.well]
        if plane.site is not None:
            parts.append(f"_s{plane.site:0{plane.get('site_digits', '1')}d}")
        if plane.channel is not None:
            parts.append(f"_w{plane.channel:0{plane.get('wave_digits', '1')}d}")
        parts.append(plane.get("guid", "") or "")
        parts.append(plane.extension)
        return "".join(parts)


def _listing(folder: Path) -> tuple[list[str], list[str]]:
    """The names of the files and of the folders in ``folder``, from one ``os.scandir``."""
    files: list[str] = []
    folders: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                (folders if entry.is_dir() else files).append(entry.name)
            except OSError:
                continue
    return files, folders


def _pick_htd(names: Iterable[str], plate: Path) -> str | None:
    """The HTD among ``names``: the one named after the plate folder, else the first by name."""
    found = sorted(name for name in names if name.lower().endswith(".htd"))
    for name in found:
        if name[:-4] == plate.name:
            return name
    return found[0] if found else None


def _find_htd(
    plate: Path,
    files: list[str],
    folders: list[str],
    listings: dict[str, tuple[list[str], list[str]]],
) -> Path:
    """The plate's HTD, from the plate folder's listing or else ``TimePoint_1/``'s.

    Lists ``TimePoint_1/`` into ``listings`` when it looks there. Raises
    ``FileNotFoundError`` saying where it looked.
    """
    name = _pick_htd(files, plate)
    if name is not None:
        return plate / name
    inner = next((name for name in folders if name.lower() == "timepoint_1"), None)
    if inner is not None:
        listings[inner] = listings.get(inner) or _listing(plate / inner)
        name = _pick_htd(listings[inner][0], plate)
        if name is not None:
            return plate / inner / name
    raise FileNotFoundError(
        f"no .HTD file in {str(plate)!r} or its TimePoint_1 folder; an ImageXpress plate "
        "folder holds the <plate>.HTD that MetaXpress writes"
    )


class ImageXpressMetadata(MetadataHandler):
    """Reads a MetaXpress plate's HTD, and the MetaSeries XML of its first plane."""

    def find_metadata_file(self, plate: Path) -> Path:
        plate = Path(plate)
        files, folders = _listing(plate)
        return _find_htd(plate, files, folders, {})

    def read(self, plate: Path) -> PlateMetadata:
        return scan_plate(Path(plate)).metadata

    def grid(self, plate: Path) -> tuple[int, int] | None:
        return read_htd(self.find_metadata_file(plate)).grid

    def channels(self, plate: Path) -> dict[int, str]:
        return read_htd(self.find_metadata_file(plate)).channels


def scan_plate(plate: Path) -> PlateScan:
    """Every plane of the ImageXpress plate in ``plate``, and its metadata.

    Raises ``FileNotFoundError`` when there is no HTD and
    :class:`~platekit.microscopes.PlateFormatError` when it is malformed.
    """
    files, folders = _listing(plate)
    listings: dict[str, tuple[list[str], list[str]]] = {}
    htd_path = _find_htd(plate, files, folders, listings)
    layout = read_htd(htd_path)

    planes: dict[PlaneKey, str] = {}
    unlisted = 0
    wells = set(layout.wells)
    sites = range(1, len(layout.site_cells) + 1)
    # The plate prefix (with its "_") of the last plane read: matching only the
    # tail after it, when a name starts with it, halves the cost of a name.
    known = ""
    for folder, names, t, z in _plane_folders(plate, files, folders, listings, layout.z_count):
        listed = 1 <= t <= layout.t_count and 1 <= z <= layout.z_count
        for name in names:
            match = (
                _NAME_TAIL.fullmatch(name, len(known)) if known and name.startswith(known) else None
            )
            if match is None:
                match = _NAME.fullmatch(name)
                if match is None:
                    continue
                known = name[: match.start("well")]
            well, site, wave, thumb = match.group("well", "site", "wave", "thumb")
            if thumb:
                continue
            site_number = int(site) if site else 1
            wave_number = int(wave) if wave else 1
            # A plane the HTD does not list (another well, a wave not collected) is left out.
            if not (
                listed and well in wells and site_number in sites and wave_number in layout.channels
            ):
                unlisted += 1
                continue
            planes[PlaneKey(well, site_number, wave_number, z, t)] = folder + name

    metadata = _metadata(plate, htd_path, layout, planes)
    if unlisted:
        metadata.extra["unlisted_files"] = unlisted
    expected = len(layout.wells) * len(sites) * len(layout.channels)
    expected *= layout.z_count * layout.t_count
    missing = [] if len(planes) == expected else _missing(metadata, planes)
    return PlateScan(metadata, planes, missing)


def _plane_folders(
    plate: Path,
    files: list[str],
    folders: list[str],
    listings: dict[str, tuple[list[str], list[str]]],
    z_count: int,
) -> Iterator[tuple[str, list[str], int, int]]:
    """``(relative folder + "/", file names, t, z)`` for every folder that may hold planes.

    In a folder that also holds ``ZStep_`` folders, the files of a Z series
    are its projections, not planes.
    """

    def walk(
        relative: str, names: list[str], subfolders: list[str], t: int
    ) -> Iterator[tuple[str, list[str], int, int]]:
        steps = [(name, _ZSTEP.fullmatch(name)) for name in subfolders]
        steps_found = [(name, int(match.group(1))) for name, match in steps if match]
        if not (steps_found and z_count > 1):
            yield relative, names, t, 1
        for name, z in steps_found:
            yield f"{relative}{name}/", _listing(plate / relative / name)[0], t, z

    yield from walk("", files, folders, 1)
    for name in folders:
        match = _TIMEPOINT.fullmatch(name)
        if match is None:
            continue
        listing = listings.get(name) or _listing(plate / name)
        yield from walk(f"{name}/", listing[0], listing[1], int(match.group(1)))


def _missing(metadata: PlateMetadata, planes: dict[PlaneKey, str]) -> list[PlaneKey]:
    return [key for key in metadata.expected_planes() if key not in planes]


def _metadata(
    plate: Path, htd_path: Path, layout: HtdLayout, planes: dict[PlaneKey, str]
) -> PlateMetadata:
    """The plate's metadata: the HTD's layout, completed from the first plane's TIFF."""
    metadata = PlateMetadata(
        name=htd_path.stem,
        microscope=ImageXpressHandler._microscope_type or "",
        rows=layout.rows,
        columns=layout.columns,
        wells=list(layout.wells),
        sites=list(range(1, len(layout.site_cells) + 1)),
        channels={wave: Channel(wave, name) for wave, name in layout.channels.items()},
        z_count=layout.z_count,
        t_count=layout.t_count,
        grid=layout.grid,
        pixel_size_um=layout.pixel_size_um,
        positions=StagePositions(source=(plate, planes)),
        extra={**layout.extra, "htd": htd_path.relative_to(plate).as_posix()},
    )
    first = next((key for key in metadata.expected_planes() if key in planes), None)
    if first is None:
        return metadata
    header = tiff_header(plate / planes[first])
    if header is None:
        return metadata
    metadata.image_shape = header.shape
    metadata.dtype = header.dtype
    props = metaseries_props(header.description)
    if metadata.pixel_size_um is None:
        metadata.pixel_size_um = pixel_size_um(props)
    for prop, name in (
        ("acquisition-time-local", "acquisition_time"),
        ("_MagSetting_", "objective"),
        ("ApplicationName", "software"),
    ):
        if prop in props:
            metadata.extra[name] = props[prop]
    metadata.z_step_um = _z_step(plate, planes, first, props)
    return metadata


def _z_step(
    plate: Path, planes: dict[PlaneKey, str], first: PlaneKey, props: dict[str, str]
) -> float | None:
    """The distance between the first plane and the same plane one Z further, in µm."""
    above = PlaneKey(first.well, first.site, first.channel, first.z_index + 1, first.timepoint)
    here = stage_position(props)
    if above not in planes or here is None or here[2] is None:
        return None
    header = tiff_header(plate / planes[above])
    there = stage_position(metaseries_props(header.description)) if header else None
    if there is None or there[2] is None:
        return None
    return abs(there[2] - here[2])


class ImageXpressHandler(MicroscopeHandler):
    """Molecular Devices ImageXpress plates written by MetaXpress (see the module docstring)."""

    _microscope_type = "imagexpress"
    display_name = "Molecular Devices ImageXpress / MetaXpress"
    looks_for = "a *.HTD file (any case) in the plate folder or TimePoint_1/"
    parser = ImageXpressParser()
    metadata_handler = ImageXpressMetadata

    def scan(self, plate: Path) -> PlateScan:
        return scan_plate(Path(plate))
