"""Molecular Devices ImageXpress plates, as MetaXpress writes them.

A plate folder holds ``<plate>.HTD`` (any case; it may sit in, or only in,
``TimePoint_1/``) and one TIFF per plane named
``<plate>_<well>[_s<site>][_w<wave>][<GUID>].tif``, either flat or in
``TimePoint_<t>/`` and ``ZStep_<z>/`` folders (alone or nested). The HTD
says which wells, sites and wavelengths were imaged; the folders give the
time point and Z plane; the first plane's MetaSeries XML gives the pixel
size, shape and dtype.

A Z series may hold MetaXpress's projections too: one image per site and
wave in ``ZStep_0/`` (or, without one, beside the ``ZStep_<z>/`` folders).
They are not planes of the Z stack: the scan counts them and says so in a
notice, and :meth:`ImageXpressHandler.scan_projections` reads them as the
plate instead, one plane per site and wave at z 1.

Scanning lists each folder once, finds its planes by comparing its names
with those the HTD leads one to expect (reading every name in one pass only
where they differ), and opens only the first plane (and, for a Z series, the
same plane at the next Z for the step); the plane map is made the first time
it is used. Stage positions sit in every plane's TIFF, so reading them costs
one file open per plane: they are read the first time
``PlateMetadata.positions`` is used, not by :meth:`ImageXpressHandler.scan`.
"""

from __future__ import annotations

import re
from functools import partial
from itertools import islice

from platekit.microscopes._errors import PlateError
from platekit.microscopes._handler import (
    FilenameParser,
    MetadataHandler,
    MicroscopeHandler,
    local_path,
)
from platekit.microscopes._model import Channel, PlaneKey, PlaneName, PlateMetadata, PlateScan
from platekit.microscopes._source import PlateSource, as_source
from platekit.microscopes.handlers._htd import HtdLayout, read_htd
from platekit.microscopes.handlers._imagexpress_expected import read_expected
from platekit.microscopes.handlers._imagexpress_names import NAME, read_listing
from platekit.microscopes.handlers._imagexpress_planes import FolderPlanes, Planes
from platekit.microscopes.handlers._lazy_dict import LazyDict
from platekit.microscopes.handlers._metaseries import (
    StagePositions,
    metaseries_props,
    pixel_size_um,
    stage_position,
    tiff_header,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from platekit.microscopes.handlers._metaseries import TiffHeader

_TIMEPOINT = re.compile(r"timepoint_(\d+)", re.IGNORECASE)
_ZSTEP = re.compile(r"zstep_(\d+)", re.IGNORECASE)
#: How many present planes are tried for the plate's image tags when the first are damaged.
_HEADER_TRIES = 8


class ImageXpressParser(FilenameParser):
    """``<prefix>_<well>[_s<site>][_w<wave>][<GUID>].tif``; ``None`` for ``_thumb`` files.

    The prefix may hold underscores. A GUID (bare, ``_``-led, or in brackets
    or braces), zero-padded site or wave numbers and the extension's case
    are kept in :attr:`PlaneName.extra` and :attr:`PlaneName.extension`, so
    :meth:`format` gives the very name back.
    """

    def parse(self, name: str) -> PlaneName | None:
        match = NAME.fullmatch(name)
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


def _listing(folder: PlateSource) -> tuple[list[str], list[str]]:
    """The names of the files and of the folders in ``folder``, from the plate's shared listing."""
    return folder.entries()


def _pick_htd(folder: PlateSource, plate: PlateSource) -> str | None:
    """The HTD in ``folder``: the one named after the plate folder, else the first by name."""
    found = sorted(folder.files_ending(".htd"))
    for name in found:
        if name[:-4] == plate.name:
            return name
    return found[0] if found else None


def _find_htd(
    plate: PlateSource,
    folders: list[str],
    listings: dict[str, tuple[list[str], list[str]]],
) -> PlateSource:
    """The plate's HTD, from the plate folder's listing or else ``TimePoint_1/``'s.

    Lists ``TimePoint_1/`` into ``listings`` when it looks there. Raises
    ``FileNotFoundError`` saying where it looked.
    """
    name = _pick_htd(plate, plate)
    if name is not None:
        return plate / name
    inner = next((name for name in folders if name.lower() == "timepoint_1"), None)
    if inner is not None:
        listings[inner] = listings.get(inner) or _listing(plate / inner)
        name = _pick_htd(plate / inner, plate)
        if name is not None:
            return plate / inner / name
    raise FileNotFoundError(
        f"no .HTD file in {str(plate)!r} or its TimePoint_1 folder; an ImageXpress plate "
        "folder holds the <plate>.HTD that MetaXpress writes"
    )


class ImageXpressMetadata(MetadataHandler):
    """Reads a MetaXpress plate's HTD, and the MetaSeries XML of its first plane."""

    def find_metadata_file(self, plate: Path | PlateSource) -> Path | PlateSource:
        plate = as_source(plate)
        return local_path(_find_htd(plate, _listing(plate)[1], {}))  # type: ignore[no-any-return]

    def read(self, plate: Path | PlateSource) -> PlateMetadata:
        return scan_plate(as_source(plate)).metadata

    def grid(self, plate: Path | PlateSource) -> tuple[int, int] | None:
        return read_htd(self.find_metadata_file(plate)).grid

    def channels(self, plate: Path | PlateSource) -> dict[int, str]:
        return read_htd(self.find_metadata_file(plate)).channels


def scan_plate(plate: PlateSource, projections: bool = False) -> PlateScan:
    """Every plane of the ImageXpress plate in ``plate``, and its metadata.

    With ``projections``, the planes are the Z series' projections, at z 1
    (see the module). Raises ``FileNotFoundError`` when there is no HTD,
    :class:`~platekit.microscopes.PlateFormatError` when it is malformed,
    and, with ``projections``, :class:`~platekit.microscopes.PlateError`
    when the plate holds no projection.
    """
    files, folders = _listing(plate)
    listings: dict[str, tuple[list[str], list[str]]] = {}
    htd_path = _find_htd(plate, folders, listings)
    layout = read_htd(htd_path)

    stack = Planes()
    projected = Planes()
    unlisted = {False: 0, True: 0}
    sites = range(1, len(layout.site_cells) + 1)
    # Every folder of a plate spelled alike expects the same names: they are made once.
    read_names = partial(
        read_expected, wells=layout.wells, sites=sites, waves=list(layout.channels), made={}
    )
    for folder, names, t, z in _plane_folders(plate, files, folders, listings, layout.z_count):
        # z 0 marks a folder of projections, which stand at z 1 of a plate of their own.
        is_projection = z == 0
        z = 1 if is_projection else z
        listed = read_listing(names, read_names)
        if not (1 <= t <= layout.t_count and 1 <= z <= layout.z_count):
            unlisted[is_projection] += len(listed.rows)
            continue
        # A plane the HTD does not list (another well, a wave not collected) is left out.
        part = FolderPlanes(folder, listed, z, t)
        unlisted[is_projection] += part.keep_only(set(layout.wells), sites, layout.channels)
        (projected if is_projection else stack).add(part)

    if projections and not projected:
        raise PlateError(
            f"{str(plate)!r} holds no projections (no images in ZStep_0 folders of its Z "
            "series); open it without projections=True / --projections"
        )
    found = projected if projections else stack
    z_count = 1 if projections else layout.z_count
    planes = LazyDict[PlaneKey, str](fill=found.items)
    metadata = _metadata(plate, htd_path, layout, found, z_count)
    if unlisted[projections]:
        metadata.extra["unlisted_files"] = unlisted[projections]
        metadata.notices.append(_unlisted_notice(unlisted[projections], htd_path.name))
    if projected:
        metadata.extra["projection_images"] = len(projected)
        metadata.notices.append(_projection_notice(len(projected), layout.z_count, projections))
    expected = len(layout.wells) * len(sites) * len(layout.channels) * z_count * layout.t_count
    missing = [] if len(found) == expected else _missing(metadata, found)
    return PlateScan(metadata, planes, missing)


def _unlisted_notice(count: int, htd: str) -> str:
    files = f"{count} image file{'' if count == 1 else 's'}"
    return (
        f"{files} name planes {htd} does not list (a well, site or wave it does not select, or "
        "a time point or z step past its counts): left out of the plate; if they belong to it, "
        "check that the HTD is this plate's own"
    )


def _projection_notice(count: int, z_count: int, projections: bool) -> str:
    images = f"{count} projection image{'' if count == 1 else 's'}"
    if projections:
        return (
            f"read as the plate: its {images} (ZStep_0) of a Z series of "
            f"{z_count} steps, one plane per site and wave at z 1; open it without "
            "projections=True / --projections for the Z stack"
        )
    return (
        f"{images} (ZStep_0) left out: projections are not planes of the Z stack; "
        "open the plate with projections=True / --projections to read or convert them as the "
        "plate instead, one plane per site and wave at z 1"
    )


def _plane_folders(
    plate: PlateSource,
    files: list[str],
    folders: list[str],
    listings: dict[str, tuple[list[str], list[str]]],
    z_count: int,
) -> Iterator[tuple[str, list[str], int, int]]:
    """``(relative folder + "/", file names, t, z)`` for every folder that may hold planes.

    z 0 marks projections: ``ZStep_0/``, or, in a Z series without one, the
    files beside the ``ZStep_`` folders.
    """

    def walk(
        relative: str, names: list[str], subfolders: list[str], t: int
    ) -> Iterator[tuple[str, list[str], int, int]]:
        steps = [(name, _ZSTEP.fullmatch(name)) for name in subfolders]
        steps_found = [(name, int(match.group(1))) for name, match in steps if match]
        if not (steps_found and z_count > 1):
            yield relative, names, t, 1
        elif all(z != 0 for _, z in steps_found):
            yield relative, names, t, 0
        for name, z in steps_found:
            yield f"{relative}{name}/", _listing(plate / relative / name)[0], t, z

    yield from walk("", files, folders, 1)
    for name in folders:
        match = _TIMEPOINT.fullmatch(name)
        if match is None:
            continue
        listing = listings.get(name) or _listing(plate / name)
        yield from walk(f"{name}/", listing[0], listing[1], int(match.group(1)))


def _missing(metadata: PlateMetadata, found: Planes) -> list[PlaneKey]:
    return [key for key in metadata.expected_planes() if not found.has(key)]


def _metadata(
    plate: PlateSource,
    htd_path: PlateSource,
    layout: HtdLayout,
    found: Planes,
    z_count: int,
) -> PlateMetadata:
    """The plate's metadata: the HTD's layout (with ``z_count`` planes), completed from the
    first plane's TIFF."""
    metadata = PlateMetadata(
        name=htd_path.stem,
        microscope=ImageXpressHandler._microscope_type or "",
        rows=layout.rows,
        columns=layout.columns,
        wells=list(layout.wells),
        sites=list(range(1, len(layout.site_cells) + 1)),
        channels={wave: Channel(wave, name) for wave, name in layout.channels.items()},
        z_count=z_count,
        t_count=layout.t_count,
        grid=layout.grid,
        pixel_size_um=layout.pixel_size_um,
        # From a plane map of their own: the scan's may be changed by whoever holds it, and a
        # scan kept for the next opening makes its copies' positions from this one.
        positions=StagePositions(source=(plate, LazyDict(fill=found.items))),
        extra={**layout.extra, "htd": htd_path.relative_to(plate).as_posix()},
    )
    first, header = _first_header(plate, found, metadata)
    if first is None or header is None:
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
    metadata.z_step_um = _z_step(plate, found, first, props)
    return metadata


def _first_header(
    plate: PlateSource, found: Planes, metadata: PlateMetadata
) -> tuple[PlaneKey | None, TiffHeader | None]:
    """The first present plane whose tags can be read, and its tags, among the first few.

    One damaged file must not leave the whole plate without its pixel size and image shape.
    """
    present = (key for key in metadata.expected_planes() if found.has(key))
    for key in islice(present, _HEADER_TRIES):
        header = tiff_header(plate / found.address(key))
        if header is not None:
            return key, header
    return None, None


def _z_step(
    plate: PlateSource, found: Planes, first: PlaneKey, props: dict[str, str]
) -> float | None:
    """The distance between the first plane and the same plane one Z further, in µm."""
    above = PlaneKey(first.well, first.site, first.channel, first.z_index + 1, first.timepoint)
    here = stage_position(props)
    if not found.has(above) or here is None or here[2] is None:
        return None
    header = tiff_header(plate / found.address(above))
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
    reads_source = True

    def scan(self, plate: Path | PlateSource) -> PlateScan:
        return scan_plate(as_source(plate))

    def scan_projections(self, plate: Path | PlateSource) -> PlateScan:
        """The plate made of its Z series' projections (``ZStep_0``), at z 1.

        Raises :class:`~platekit.microscopes.PlateError` when it holds none,
        and what :meth:`scan` raises.
        """
        return scan_plate(as_source(plate), projections=True)
