"""OME-Zarr HCS plates: OME-NGFF 0.4 on Zarr v2 and 0.5 on Zarr v3.

A plate group lists its rows, columns and wells; each well group lists its
fields; each field is a multiscale image whose level-0 array holds the
planes. Everything but the pixels comes from the JSON metadata files
(``zarr.json``, or ``.zattrs`` and ``.zarray``), read directly, so a plate of
hundreds of wells scans without importing zarr; only
:meth:`OmeZarrHandler.read_plane` opens an array with zarr-python.

A plane's address is its field's level-0 array path (relative to the plate)
and the array indices before y and x, in the array's axis order:
``"A/1/0/0#1,0,2"`` is t 2, channel 1, z 3 of the first field of well A01.

What is missing is what the metadata lists but the folder lacks: a well whose
group (or its ``well`` metadata) is absent, a field whose group or level-0
array is absent, a site beyond a well's list of fields and a plane beyond a
field's array shape. A plane inside an array that is there is never missing:
a chunk never written reads as the array's fill value, as in any Zarr reader.
"""

from __future__ import annotations

import os
from pathlib import Path

from platekit.microscopes._errors import BadPlaneError, PlateFormatError, UnknownPlateError
from platekit.microscopes._handler import (
    FilenameParser,
    MetadataHandler,
    MicroscopeHandler,
    local_path,
)
from platekit.microscopes._model import Channel, PlaneKey, PlateMetadata, PlateScan
from platekit.microscopes._source import PlateSource, as_source
from platekit.microscopes._wells import row_number, well_name
from platekit.microscopes.handlers._ngff_json import (
    VERSIONS,
    Field,
    Json,
    check_version,
    list_of_objects,
    ngff_attrs,
    not_a_plate,
    read_field,
    root,
    segments,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import numpy as np

    from platekit.microscopes._model import PlaneName


class OmeZarrParser(FilenameParser):
    """OME-Zarr planes are slices of arrays, not files: no file name is a plane."""

    def parse(self, name: str) -> PlaneName | None:
        """Always ``None``: the files of an OME-Zarr plate are metadata and chunks."""
        return None

    def format(self, plane: PlaneName) -> str:
        """Raises ``ValueError``: an OME-Zarr plane has an address from ``scan()``, not a name."""
        raise ValueError(
            f"an OME-Zarr plane has no file name: plane {plane.key()} is a slice of its field's "
            "array; use the address OmeZarrHandler.scan() gives it"
        )


class OmeZarrMetadata(MetadataHandler):
    """Reads an OME-Zarr plate's JSON metadata, without zarr-python."""

    def find_metadata_file(self, plate: Path | PlateSource) -> Path | PlateSource:
        """The plate group's ``zarr.json`` (NGFF 0.5) or ``.zattrs`` (NGFF 0.4).

        Raises ``FileNotFoundError`` when the folder has neither, or when
        they hold no ``plate`` metadata (saying what they hold instead), and
        :class:`~platekit.microscopes.PlateFormatError` when one is not JSON.
        """
        folder = as_source(plate)
        found = root(folder)
        if found is None or "plate" not in found[2]:
            raise FileNotFoundError(not_a_plate(folder, found))
        return local_path(found[0])  # type: ignore[no-any-return]

    def read(self, plate: Path | PlateSource) -> PlateMetadata:
        """The plate's metadata; raises as :meth:`OmeZarrHandler.scan` does."""
        return _read_plate(as_source(plate)).metadata


class OmeZarrHandler(MicroscopeHandler):
    """OME-Zarr HCS plates written by platekit or any other OME-NGFF 0.4/0.5 writer."""

    _microscope_type = "omezarr"
    display_name = "OME-Zarr HCS plate (OME-NGFF 0.4 or 0.5)"
    looks_for = (
        "a zarr.json with attributes.ome.plate (NGFF 0.5) or a .zattrs with plate (NGFF 0.4) "
        "in the plate folder"
    )
    parser = OmeZarrParser()
    metadata_handler = OmeZarrMetadata
    reads_source = True

    def detect(self, plate: Path | PlateSource) -> Path | PlateSource | None:
        """The plate group's metadata file, or ``None``.

        A ``zarr.json``/``.zattrs`` that is not JSON counts as this format's,
        so opening the folder reports the broken file and line rather than
        an unknown plate.
        """
        try:
            return self.metadata().find_metadata_file(as_source(plate))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        except PlateFormatError as exc:
            return Path(exc.path) if as_source(plate).is_local else as_source(exc.path)

    def near_miss(self, plate: Path | PlateSource) -> str | None:
        """What a Zarr group that is no plate is (an image, a well), or ``None`` for no group."""
        folder = as_source(plate)
        try:
            found = root(folder)
        except (OSError, PlateFormatError):
            return None
        return None if found is None else not_a_plate(folder, found)

    def scan(self, plate: Path | PlateSource) -> PlateScan:
        """The plate's metadata and each plane's address, from its JSON files alone.

        Raises ``FileNotFoundError`` when the folder holds no Zarr group,
        :class:`~platekit.microscopes.UnknownPlateError` when it is an
        OME-Zarr image or well rather than a plate, and
        :class:`~platekit.microscopes.PlateFormatError` naming the file (and
        line) for malformed JSON, metadata of another NGFF version, or
        metadata that breaks the specification in a way that hides planes.
        """
        return _read_plate(as_source(plate))

    def read_plane(self, plate: Path | PlateSource, address: str) -> np.ndarray:
        """The 2-D plane at ``address`` (``"<array path>#<indices>"``), in the array's dtype.

        Raises ``FileNotFoundError`` when the array is gone and
        :class:`~platekit.microscopes.BadPlaneError` naming the array when
        it cannot be read or the address does not fit it.
        """
        path, _, indices = _parse_address(as_source(plate), address)
        import numpy as np
        import zarr

        try:
            if path.is_local:
                array = zarr.open_array(path.location, mode="r")
            else:
                options = path.backend.storage_options
                array = zarr.open_array(path.location, mode="r", storage_options=options)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"the array {str(path)!r} is gone; was the plate changed after it was opened?"
            ) from None
        except Exception as exc:
            # zarr raises many types for damaged metadata; each means the same here.
            raise BadPlaneError(
                path, f"is not a readable Zarr array ({type(exc).__name__}: {exc})"
            ) from exc
        if array.ndim != len(indices) + 2:
            raise BadPlaneError(
                path,
                f"has {array.ndim} dimensions but the address {address!r} gives "
                f"{len(indices)} indices before y and x; scan the plate again",
            )
        try:
            plane = np.asarray(array[indices])
        except Exception as exc:
            raise BadPlaneError(
                path,
                f"plane {indices} cannot be read ({type(exc).__name__}: {exc}); "
                "is a chunk damaged?",
            ) from exc
        return plane


# -- the plate -------------------------------------------------------------------------


def _read_plate(folder: PlateSource) -> PlateScan:
    found = root(folder)
    if found is None:
        raise FileNotFoundError(not_a_plate(folder, found))
    file, zarr_format, attrs = found
    plate = attrs.get("plate")
    if plate is None:
        raise UnknownPlateError(not_a_plate(folder, found))
    if not isinstance(plate, dict):
        raise PlateFormatError(file, f"'plate' must be an object, not {plate!r:.80}")
    check_version(
        attrs.get("version") if zarr_format == 3 else plate.get("version"), zarr_format, file
    )
    rows, columns, wells = _plate_wells(plate, file)

    fields: dict[str, list[Field | None] | None] = {}
    for well, path in wells:
        fields[well] = _well_fields(folder, path, zarr_format)
    present = [field for entries in fields.values() for field in entries or () if field]
    listed = [len(entries) for entries in fields.values() if entries is not None]
    field_count = plate.get("field_count")
    site_count = max(listed, default=field_count if isinstance(field_count, int) else 1)

    first = present[0] if present else None
    channel_count = max((field.size("c") for field in present), default=1)
    labels = first.channels if first else []
    channels = {}
    for number in range(1, channel_count + 1):
        label, color = labels[number - 1] if number <= len(labels) else (f"Channel {number}", None)
        channels[number] = Channel(number, label, color=color)
    extra: Json = {"ngff_version": VERSIONS[zarr_format], "zarr_format": zarr_format}
    for key in ("field_count", "acquisitions"):
        if key in plate:
            extra[key] = plate[key]
    name = plate.get("name")
    metadata = PlateMetadata(
        name=name if isinstance(name, str) and name else _folder_name(folder),
        microscope=OmeZarrHandler._microscope_type or "",
        rows=rows,
        columns=columns,
        wells=[well for well, _ in wells],
        sites=list(range(1, max(site_count, 1) + 1)),
        channels=channels,
        z_count=max((field.size("z") for field in present), default=1),
        t_count=max((field.size("t") for field in present), default=1),
        pixel_size_um=first.micrometres("x") if first else None,
        z_step_um=first.micrometres("z") if first else None,
        image_shape=(first.size("y"), first.size("x")) if first else None,
        dtype=first.dtype if first else None,
        extra=extra,
    )
    planes: dict[PlaneKey, str] = {}
    for well, entries in fields.items():
        for site, field in enumerate(entries or (), start=1):
            if field is not None:
                field.add_planes(well, site, planes)
    missing = [key for key in metadata.expected_planes() if key not in planes]
    return PlateScan(metadata, planes, missing)


def _folder_name(folder: PlateSource) -> str:
    # abspath settles "." and ".." without following a symlink to another name.
    name = Path(os.path.abspath(folder.location)).name if folder.is_local else folder.name
    for suffix in (".ome.zarr", ".zarr"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _names(plate: Json, key: str, file: Path | PlateSource) -> list[str]:
    entries = list_of_objects(plate.get(key), f"plate.{key}", file)
    names = [entry.get("name") for entry in entries]
    if not all(isinstance(name, str) for name in names):
        raise PlateFormatError(file, f"every entry of 'plate.{key}' needs a string 'name'")
    return names  # type: ignore[return-value]


def _index(entry: Json, key: str, names: list[str], name: str, file: Path | PlateSource) -> int:
    """A well's 0-based row or column index: its own, else where its path's name is listed."""
    index = entry.get(key)
    if index is None and name in names:
        return names.index(name)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(names):
        raise PlateFormatError(
            file,
            f"well {entry.get('path')!r} has {key} {index!r}, outside the plate's "
            f"{len(names)} entries",
        )
    return index


def _plate_wells(plate: Json, file: Path | PlateSource) -> tuple[int, int, list[tuple[str, str]]]:
    """The plate format (rows, columns) and its wells as ``(name, path)``, in row-major order."""
    row_names = _names(plate, "rows", file)
    column_names = _names(plate, "columns", file)
    rows, columns = len(row_names), len(column_names)
    wells: dict[tuple[int, int], str] = {}
    for entry in list_of_objects(plate.get("wells"), "plate.wells", file):
        parts = segments(entry.get("path"), "well path", file)
        if len(parts) != 2:
            raise PlateFormatError(file, f"well path {entry['path']!r} is not 'row/column'")
        row_index = _index(entry, "rowIndex", row_names, parts[0], file)
        column_index = _index(entry, "columnIndex", column_names, parts[1], file)
        # Names say where a well is on the plate (a sparse plate may list only
        # rows B and C); names that are not letters or numbers fall back to order.
        row_label, column_label = row_names[row_index], column_names[column_index]
        row = row_number(row_label) if row_label.isalpha() else row_index + 1
        column = int(column_label) if column_label.isdigit() else column_index + 1
        if (row, column) in wells:
            raise PlateFormatError(
                file,
                f"wells {wells[row, column]!r} and {entry['path']!r} are both "
                f"{well_name(row, column)}",
            )
        wells[row, column] = entry["path"]  # type: ignore[assignment]
        rows, columns = max(rows, row), max(columns, column)
    return rows, columns, [(well_name(*place), wells[place]) for place in sorted(wells)]


def _well_fields(folder: PlateSource, path: str, zarr_format: int) -> list[Field | None] | None:
    """Each field the well lists (``None`` where absent), or ``None`` for an absent well."""
    found = ngff_attrs(folder.joinpath(*path.split("/")), zarr_format)
    if found is None or "well" not in found[1]:
        return None
    file, attrs = found
    well = attrs["well"]
    if not isinstance(well, dict):
        raise PlateFormatError(file, f"'well' must be an object, not {well!r:.80}")
    check_version(
        attrs.get("version") if zarr_format == 3 else well.get("version"), zarr_format, file
    )
    fields: list[Field | None] = []
    for image in list_of_objects(well.get("images"), "well.images", file):
        parts = segments(image.get("path"), "field path", file)
        fields.append(read_field(folder, [*path.split("/"), *parts], zarr_format))
    return fields


def _parse_address(plate: PlateSource, address: str) -> tuple[PlateSource, str, tuple[int, ...]]:
    """The array's path, its path within the plate, and the indices of an address."""
    inside, mark, text = address.rpartition("#")
    try:
        indices = tuple(int(part) for part in text.split(",")) if text else ()
        parts = segments(inside, "array path", plate) if mark else []
    except (ValueError, PlateFormatError):
        parts = []
    if not parts:
        raise BadPlaneError(
            plate, f"{address!r} is not an OME-Zarr plane address ('<array path>#<indices>')"
        )
    return plate.joinpath(*parts), inside, indices
