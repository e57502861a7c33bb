"""Reading OME-NGFF metadata from its JSON files, for the OME-Zarr handler.

``zarr.json`` (Zarr v3, NGFF 0.5) or ``.zattrs``/``.zgroup``/``.zarray``
(Zarr v2, NGFF 0.4) are read as JSON directly, so a plate scans without
importing zarr; every malformed file is a :class:`PlateFormatError` naming it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from platekit.microscopes._errors import PlateFormatError
from platekit.microscopes._model import PlaneKey

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.microscopes._source import PlateSource

# The NGFF version each Zarr format carries.
VERSIONS = {2: "0.4", 3: "0.5"}
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


# -- JSON files ------------------------------------------------------------------------


def _read_json(path: Path | PlateSource) -> Json | None:
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


def ngff_attrs(folder: PlateSource, zarr_format: int) -> tuple[PlateSource, Json] | None:
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


def root(folder: PlateSource) -> tuple[PlateSource, int, Json] | None:
    """The plate group's metadata file, Zarr format and NGFF keys, preferring one with a plate."""
    first: tuple[PlateSource, int, Json] | None = None
    for zarr_format in (3, 2):
        found = ngff_attrs(folder, zarr_format)
        if found is None:
            continue
        if "plate" in found[1]:
            return found[0], zarr_format, found[1]
        first = first or (found[0], zarr_format, found[1])
    return first


def not_a_plate(folder: PlateSource, found: tuple[PlateSource, int, Json] | None) -> str:
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


def check_version(version: object, zarr_format: int, file: Path | PlateSource) -> None:
    if version is None or version == VERSIONS[zarr_format]:
        return
    raise PlateFormatError(
        file,
        f"says OME-NGFF version {version!r} in a Zarr v{zarr_format} group; {_SUPPORTED}. "
        "Rewrite the plate with a current OME-Zarr writer",
    )


def list_of_objects(value: object, what: str, file: Path | PlateSource) -> list[Json]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PlateFormatError(file, f"'{what}' must be a list of objects, not {value!r:.80}")
    return value


def segments(path: object, what: str, file: Path | PlateSource) -> list[str]:
    """The parts of a path inside the plate; refuses anything that could leave it."""
    parts = path.split("/") if isinstance(path, str) else []
    if not parts or any(not _SEGMENT.fullmatch(part) or part in (".", "..") for part in parts):
        raise PlateFormatError(
            file, f"{what} {path!r} is not a path inside the plate (alphanumeric names and '/')"
        )
    return parts


# -- one field -------------------------------------------------------------------------


class Field:
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


def read_field(folder: PlateSource, parts: list[str], zarr_format: int) -> Field | None:
    """The field at ``folder/parts``, or ``None`` when its group, image or array is absent."""
    found = ngff_attrs(folder.joinpath(*parts), zarr_format)
    if found is None or "multiscales" not in found[1]:
        return None
    file, attrs = found
    multiscales = list_of_objects(attrs["multiscales"], "multiscales", file)
    if not multiscales:
        raise PlateFormatError(file, "'multiscales' is empty; a field needs one image")
    image = multiscales[0]
    check_version(
        attrs.get("version") if zarr_format == 3 else image.get("version"), zarr_format, file
    )
    names, roles, units = _axes(image.get("axes"), file)
    datasets = list_of_objects(image.get("datasets"), "multiscales[0].datasets", file)
    if not datasets:
        raise PlateFormatError(file, "'multiscales[0].datasets' is empty; it lists the levels")
    level = segments(datasets[0].get("path"), "dataset path", file)
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
    return Field(
        "/".join([*parts, *level]),
        roles,
        shape,
        scale or overall,
        units,
        dtype,
        _omero_channels(attrs.get("omero")),
    )


def _axes(value: object, file: Path | PlateSource) -> tuple[list[str], list[str], list[str | None]]:
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
    path: Path | PlateSource, zarr_format: int, axes: list[str]
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
