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

import json
import os
import re
from pathlib import Path

from platekit.microscopes._errors import BadPlaneError, PlateFormatError, UnknownPlateError
from platekit.microscopes._handler import FilenameParser, MetadataHandler, MicroscopeHandler
from platekit.microscopes._model import Channel, PlaneKey, PlateMetadata, PlateScan
from platekit.microscopes._wells import row_number, well_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    import numpy as np

    from platekit.microscopes._model import PlaneName

# The NGFF version each Zarr format carries.
_VERSIONS = {2: "0.4", 3: "0.5"}
_SUPPORTED = "platekit reads OME-NGFF 0.4 (on Zarr v2) and 0.5 (on Zarr v3)"

# Micrometres in one of each UDUNITS length NGFF allows, plus common spellings.
_MICROMETRES = {
    "yoctometer": 1e-18, "zeptometer": 1e-15, "attometer": 1e-12, "femtometer": 1e-9,
    "picometer": 1e-6, "angstrom": 1e-4, "nanometer": 1e-3, "micrometer": 1.0,
    "millimeter": 1e3, "centimeter": 1e4, "decimeter": 1e5, "meter": 1e6,
    "hectometer": 1e8, "kilometer": 1e9, "megameter": 1e12, "gigameter": 1e15,
    "terameter": 1e18, "petameter": 1e21, "exameter": 1e24, "zettameter": 1e27,
    "yottameter": 1e30, "inch": 25400.0, "foot": 304800.0, "yard": 914400.0,
    "mile": 1.609344e9, "parsec": 3.0856775814913673e22,
    "nm": 1e-3, "um": 1.0, "µm": 1.0, "μm": 1.0, "micron": 1.0, "mm": 1e3, "m": 1e6,
}  # fmt: skip

# A path segment in the plate: alphanumeric by the spec, and "_", "." or "-" from lenient
# writers; never "." or ".." alone, which would lead out of the plate.
_SEGMENT = re.compile(r"[A-Za-z0-9_.\-]+")
_V2_DTYPE = re.compile(r"[<>|=]?([biufc])(\d+)")
_COLOR = re.compile(r"[0-9A-Fa-f]{6}")

Json = dict[str, object]


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

    def find_metadata_file(self, plate: Path) -> Path:
        """The plate group's ``zarr.json`` (NGFF 0.5) or ``.zattrs`` (NGFF 0.4).

        Raises ``FileNotFoundError`` when the folder has neither, or when
        they hold no ``plate`` metadata (saying what they hold instead), and
        :class:`~platekit.microscopes.PlateFormatError` when one is not JSON.
        """
        folder = Path(plate)
        found = _root(folder)
        if found is None or "plate" not in found[2]:
            raise FileNotFoundError(_not_a_plate(folder, found))
        return found[0]

    def read(self, plate: Path) -> PlateMetadata:
        """The plate's metadata; raises as :meth:`OmeZarrHandler.scan` does."""
        return _read_plate(Path(plate)).metadata


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

    def detect(self, plate: Path) -> Path | None:
        """The plate group's metadata file, or ``None``.

        A ``zarr.json``/``.zattrs`` that is not JSON counts as this format's,
        so opening the folder reports the broken file and line rather than
        an unknown plate.
        """
        try:
            return self.metadata().find_metadata_file(Path(plate))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        except PlateFormatError as exc:
            return Path(exc.path)

    def scan(self, plate: Path) -> PlateScan:
        """The plate's metadata and each plane's address, from its JSON files alone.

        Raises ``FileNotFoundError`` when the folder holds no Zarr group,
        :class:`~platekit.microscopes.UnknownPlateError` when it is an
        OME-Zarr image or well rather than a plate, and
        :class:`~platekit.microscopes.PlateFormatError` naming the file (and
        line) for malformed JSON, metadata of another NGFF version, or
        metadata that breaks the specification in a way that hides planes.
        """
        return _read_plate(Path(plate))

    def read_plane(self, plate: Path, address: str) -> np.ndarray:
        """The 2-D plane at ``address`` (``"<array path>#<indices>"``), in the array's dtype.

        Raises ``FileNotFoundError`` when the array is gone and
        :class:`~platekit.microscopes.BadPlaneError` naming the array when
        it cannot be read or the address does not fit it.
        """
        path, _, indices = _parse_address(Path(plate), address)
        import numpy as np
        import zarr

        try:
            array = zarr.open_array(str(path), mode="r")
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


# -- JSON files ------------------------------------------------------------------------


def _read_json(path: Path) -> Json | None:
    """The JSON object in ``path``; ``None`` when there is no such file."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except IsADirectoryError:
        raise PlateFormatError(path, "is a folder where a Zarr metadata file belongs") from None
    except OSError as exc:
        raise PlateFormatError(path, f"cannot be read ({exc.strerror})") from exc
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        raise PlateFormatError(
            path, f"is not valid JSON ({exc.msg}, column {exc.colno})", exc.lineno
        ) from None
    except UnicodeDecodeError:
        raise PlateFormatError(path, "is not UTF-8 text, so not Zarr metadata") from None
    if not isinstance(document, dict):
        raise PlateFormatError(path, f"holds a JSON {type(document).__name__}, not an object")
    return document


def _ngff_attrs(folder: Path, zarr_format: int) -> tuple[Path, Json] | None:
    """A group's metadata file and NGFF keys (``attributes.ome`` or ``.zattrs``), or ``None``."""
    if zarr_format == 2:
        file = folder / ".zattrs"
        found = _read_json(file)
        return None if found is None else (file, found)
    file = folder / "zarr.json"
    document = _read_json(file)
    if document is None:
        return None
    attributes = document.get("attributes", {})
    ome = attributes.get("ome", {}) if isinstance(attributes, dict) else None
    if not isinstance(ome, dict):
        raise PlateFormatError(file, "has 'attributes' or 'attributes.ome' that is not an object")
    return file, ome


def _root(folder: Path) -> tuple[Path, int, Json] | None:
    """The plate group's metadata file, Zarr format and NGFF keys, preferring one with a plate."""
    first: tuple[Path, int, Json] | None = None
    for zarr_format in (3, 2):
        found = _ngff_attrs(folder, zarr_format)
        if found is None:
            continue
        if "plate" in found[1]:
            return found[0], zarr_format, found[1]
        first = first or (found[0], zarr_format, found[1])
    return first


def _not_a_plate(folder: Path, found: tuple[Path, int, Json] | None) -> str:
    if found is None:
        return (
            f"no OME-Zarr plate in {str(folder)!r}: it has neither a zarr.json (NGFF 0.5) nor "
            "a .zattrs (NGFF 0.4); give the plate's top folder, the one that holds its rows"
        )
    file, _, attrs = found
    if "multiscales" in attrs:
        return (
            f"{str(folder)!r} is an OME-Zarr image ({file.name} holds 'multiscales'), not an "
            "HCS plate: it has no 'plate' metadata. platekit reads plates of wells; open the "
            "plate folder that holds this image's well instead"
        )
    if "well" in attrs:
        return (
            f"{str(folder)!r} is one well of an OME-Zarr plate ({file.name} holds 'well'); "
            "open the plate folder two levels up instead"
        )
    return (
        f"{str(folder)!r} is a Zarr group without OME-NGFF 'plate' metadata in {file.name}; "
        "give the folder of an OME-Zarr HCS plate"
    )


def _check_version(version: object, zarr_format: int, file: Path) -> None:
    if version is None or version == _VERSIONS[zarr_format]:
        return
    raise PlateFormatError(
        file,
        f"says OME-NGFF version {version!r} in a Zarr v{zarr_format} group; {_SUPPORTED}. "
        "Rewrite the plate with a current OME-Zarr writer",
    )


def _list_of_objects(value: object, what: str, file: Path) -> list[Json]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PlateFormatError(file, f"'{what}' must be a list of objects, not {value!r:.80}")
    return value


def _segments(path: object, what: str, file: Path) -> list[str]:
    """The parts of a path inside the plate; refuses anything that could leave it."""
    parts = path.split("/") if isinstance(path, str) else []
    if not parts or any(not _SEGMENT.fullmatch(part) or part in (".", "..") for part in parts):
        raise PlateFormatError(
            file, f"{what} {path!r} is not a path inside the plate (alphanumeric names and '/')"
        )
    return parts


# -- the plate -------------------------------------------------------------------------


def _read_plate(folder: Path) -> PlateScan:
    found = _root(folder)
    if found is None:
        raise FileNotFoundError(_not_a_plate(folder, found))
    file, zarr_format, attrs = found
    plate = attrs.get("plate")
    if plate is None:
        raise UnknownPlateError(_not_a_plate(folder, found))
    if not isinstance(plate, dict):
        raise PlateFormatError(file, f"'plate' must be an object, not {plate!r:.80}")
    _check_version(
        attrs.get("version") if zarr_format == 3 else plate.get("version"), zarr_format, file
    )
    rows, columns, wells = _plate_wells(plate, file)

    fields: dict[str, list[_Field | None] | None] = {}
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
    extra: Json = {"ngff_version": _VERSIONS[zarr_format], "zarr_format": zarr_format}
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


def _folder_name(folder: Path) -> str:
    # abspath settles "." and ".." without following a symlink to another name.
    name = Path(os.path.abspath(folder)).name
    for suffix in (".ome.zarr", ".zarr"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _names(plate: Json, key: str, file: Path) -> list[str]:
    entries = _list_of_objects(plate.get(key), f"plate.{key}", file)
    names = [entry.get("name") for entry in entries]
    if not all(isinstance(name, str) for name in names):
        raise PlateFormatError(file, f"every entry of 'plate.{key}' needs a string 'name'")
    return names  # type: ignore[return-value]


def _index(entry: Json, key: str, names: list[str], name: str, file: Path) -> int:
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


def _plate_wells(plate: Json, file: Path) -> tuple[int, int, list[tuple[str, str]]]:
    """The plate format (rows, columns) and its wells as ``(name, path)``, in row-major order."""
    row_names = _names(plate, "rows", file)
    column_names = _names(plate, "columns", file)
    rows, columns = len(row_names), len(column_names)
    wells: dict[tuple[int, int], str] = {}
    for entry in _list_of_objects(plate.get("wells"), "plate.wells", file):
        parts = _segments(entry.get("path"), "well path", file)
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


def _well_fields(folder: Path, path: str, zarr_format: int) -> list[_Field | None] | None:
    """Each field the well lists (``None`` where absent), or ``None`` for an absent well."""
    found = _ngff_attrs(folder.joinpath(*path.split("/")), zarr_format)
    if found is None or "well" not in found[1]:
        return None
    file, attrs = found
    well = attrs["well"]
    if not isinstance(well, dict):
        raise PlateFormatError(file, f"'well' must be an object, not {well!r:.80}")
    _check_version(
        attrs.get("version") if zarr_format == 3 else well.get("version"), zarr_format, file
    )
    fields: list[_Field | None] = []
    for image in _list_of_objects(well.get("images"), "well.images", file):
        parts = _segments(image.get("path"), "field path", file)
        fields.append(_read_field(folder, [*path.split("/"), *parts], zarr_format))
    return fields


# -- one field -------------------------------------------------------------------------


class _Field:
    """One field: where its level-0 array is, which axis is which, and its metadata."""

    def __init__(
        self,
        array: str,
        roles: list[str],
        shape: list[int],
        scale: list[float] | None,
        units: list[str | None],
        dtype: str | None,
        channels: list[tuple[str, str | None]],
    ) -> None:
        self.array = array
        self.roles = roles
        self.shape = shape
        self.scale = scale
        self.units = units
        self.dtype = dtype
        self.channels = channels

    def size(self, role: str) -> int:
        return self.shape[self.roles.index(role)] if role in self.roles else 1

    def micrometres(self, role: str) -> float | None:
        """The scale of axis ``role`` in µm; ``None`` without the axis, a scale or a length unit."""
        if role not in self.roles or self.scale is None:
            return None
        axis = self.roles.index(role)
        unit = self.units[axis]
        factor = _MICROMETRES.get(unit) if unit else None
        return None if factor is None else self.scale[axis] * factor

    def add_planes(self, well: str, site: int, planes: dict[PlaneKey, str]) -> None:
        """Every plane of the array into ``planes``, at its address."""
        leading = self.roles[:-2]
        for t in range(self.size("t")):
            for c in range(self.size("c")):
                for z in range(self.size("z")):
                    index = {"t": t, "c": c, "z": z}
                    at = ",".join(str(index.get(role, 0)) for role in leading)
                    planes[PlaneKey(well, site, c + 1, z + 1, t + 1)] = f"{self.array}#{at}"


def _read_field(folder: Path, parts: list[str], zarr_format: int) -> _Field | None:
    """The field at ``folder/parts``, or ``None`` when its group, image or array is absent."""
    found = _ngff_attrs(folder.joinpath(*parts), zarr_format)
    if found is None or "multiscales" not in found[1]:
        return None
    file, attrs = found
    multiscales = _list_of_objects(attrs["multiscales"], "multiscales", file)
    if not multiscales:
        raise PlateFormatError(file, "'multiscales' is empty; a field needs one image")
    image = multiscales[0]
    _check_version(
        attrs.get("version") if zarr_format == 3 else image.get("version"), zarr_format, file
    )
    names, roles, units = _axes(image.get("axes"), file)
    datasets = _list_of_objects(image.get("datasets"), "multiscales[0].datasets", file)
    if not datasets:
        raise PlateFormatError(file, "'multiscales[0].datasets' is empty; it lists the levels")
    level = _segments(datasets[0].get("path"), "dataset path", file)
    shape, dtype = _array_shape(folder.joinpath(*parts, *level), zarr_format, names)
    if shape is None:
        return None
    for role, name, size in zip(roles, names, shape, strict=True):
        if role == "" and size != 1:
            raise PlateFormatError(
                file,
                f"axis {name!r} (of {names}) has {size} entries; platekit reads the "
                "axes t, c, z, y and x only",
            )
    scale = _scale(datasets[0].get("coordinateTransformations"), len(roles))
    overall = _scale(image.get("coordinateTransformations"), len(roles))
    if scale is not None and overall is not None:
        scale = [a * b for a, b in zip(scale, overall, strict=True)]
    return _Field(
        "/".join([*parts, *level]),
        roles,
        shape,
        scale or overall,
        units,
        dtype,
        _omero_channels(attrs.get("omero")),
    )


def _axes(value: object, file: Path) -> tuple[list[str], list[str], list[str | None]]:
    """Axis names, roles (``t c z y x``, ``""`` for another axis) and units."""
    if not isinstance(value, list) or not value:
        raise PlateFormatError(file, f"'multiscales[0].axes' must be a list, not {value!r:.80}")
    names: list[str] = []
    kinds: list[str] = []
    units: list[str | None] = []
    for axis in value:
        entry = axis if isinstance(axis, dict) else {"name": axis}
        name, kind, unit = entry.get("name"), entry.get("type"), entry.get("unit")
        if not isinstance(name, str):
            raise PlateFormatError(file, f"axis {axis!r} has no name")
        names.append(name)
        kinds.append(kind if isinstance(kind, str) else "")
        units.append(unit.lower() if isinstance(unit, str) else None)
    roles = [
        name.lower()
        if name.lower() in ("t", "c", "z", "y", "x")
        else {"time": "t", "channel": "c", "space": "space"}.get(kind, "")
        for name, kind in zip(names, kinds, strict=True)
    ]
    # Space axes with other names (e.g. "depth", "height", "width") are z, y, x from the end.
    unnamed = [axis for axis, role in enumerate(roles) if role == "space"]
    spare = [role for role in ("z", "y", "x") if role not in roles]
    if len(unnamed) > len(spare):
        raise PlateFormatError(file, f"the axes {names} have more than three space axes")
    for axis, role in zip(reversed(unnamed), reversed(spare), strict=False):
        roles[axis] = role
    known = [role for role in roles if role]
    if len(set(known)) != len(known) or roles[-2:] != ["y", "x"]:
        raise PlateFormatError(
            file, f"the axes {names} are not t, c, z, y, x (any of t, c and z, then y and x)"
        )
    return names, roles, units


def _array_shape(
    path: Path, zarr_format: int, axes: list[str]
) -> tuple[list[int] | None, str | None]:
    """The shape and dtype of the array at ``path`` (one size per axis); ``None``s when absent."""
    file = path / (".zarray" if zarr_format == 2 else "zarr.json")
    document = _read_json(file)
    if document is None:
        return None, None
    if zarr_format == 3 and document.get("node_type") != "array":
        raise PlateFormatError(file, "is not an array, but the image lists it as its level 0")
    shape = document.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in shape
    ):
        raise PlateFormatError(file, f"'shape' must be a list of sizes, not {shape!r:.80}")
    if len(shape) != len(axes):
        raise PlateFormatError(file, f"has {len(shape)} dimensions but the image's axes are {axes}")
    dtype = document.get("data_type" if zarr_format == 3 else "dtype")
    if isinstance(dtype, dict):  # a Zarr v3 extension data type
        dtype = dtype.get("name")
    if zarr_format == 2 and isinstance(dtype, str):
        match = _V2_DTYPE.fullmatch(dtype)
        if match:
            kind, size = match.group(1), int(match.group(2))
            names = {"b": "bool", "u": "uint", "i": "int", "f": "float", "c": "complex"}
            dtype = "bool" if kind == "b" else f"{names[kind]}{size * 8}"
    return shape, dtype if isinstance(dtype, str) else None


def _scale(transforms: object, ndim: int) -> list[float] | None:
    """The ``scale`` among ``transforms``, when it is one number per axis."""
    if not isinstance(transforms, list):
        return None
    for transform in transforms:
        if isinstance(transform, dict) and transform.get("type") == "scale":
            scale = transform.get("scale")
            if (
                isinstance(scale, list)
                and len(scale) == ndim
                and all(
                    isinstance(value, (int, float)) and not isinstance(value, bool)
                    for value in scale
                )
            ):
                return [float(value) for value in scale]
    return None


def _omero_channels(omero: object) -> list[tuple[str, str | None]]:
    """Channel labels and colours from the transitional ``omero`` block, where it gives them.

    Display hints only: an entry that breaks the spec is passed over, never an error.
    """
    entries = omero.get("channels") if isinstance(omero, dict) else None
    channels: list[tuple[str, str | None]] = []
    for number, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
        label = entry.get("label") if isinstance(entry, dict) else None
        color = entry.get("color") if isinstance(entry, dict) else None
        channels.append(
            (
                label if isinstance(label, str) and label else f"Channel {number}",
                color.upper() if isinstance(color, str) and _COLOR.fullmatch(color) else None,
            )
        )
    return channels


def _parse_address(plate: Path, address: str) -> tuple[Path, str, tuple[int, ...]]:
    """The array's path, its path within the plate, and the indices of an address."""
    inside, mark, text = address.rpartition("#")
    try:
        indices = tuple(int(part) for part in text.split(",")) if text else ()
        parts = _segments(inside, "array path", plate) if mark else []
    except (ValueError, PlateFormatError):
        parts = []
    if not parts:
        raise BadPlaneError(
            plate, f"{address!r} is not an OME-Zarr plane address ('<array path>#<indices>')"
        )
    return plate.joinpath(*parts), inside, indices
