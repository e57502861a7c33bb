"""An OME-Zarr plate as a dask array built from its fields' arrays with dask's ``from_zarr``.

Each field's level-0 array keeps its own chunks. Which array axis is t, c or z
is read from the plane addresses the plate gives (``"A/1/0/0#1,0,2"``: the
array's path and the indices before y and x), so the metadata is not parsed
twice. A field the plate lacks, or planes beyond a smaller field's array,
read as the fill value.
"""

from __future__ import annotations

import json

from platekit.microscopes._arrays import need

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import numpy as np

    from platekit.microscopes._array_select import Selection
    from platekit.microscopes._model import PlaneKey
    from platekit.microscopes._plate import Plate

_ROLES = ("t", "c", "z")


def zarr_dask(plate: Plate, selection: Selection, fill: np.generic) -> Any:
    """The selected planes of the OME-Zarr ``plate``, one dask chunk per zarr chunk."""
    da = need("dask.array")
    meta = plate.metadata
    fields = _fields(plate, selection)
    sizes = (meta.t_count, len(meta.channels), meta.z_count)
    built = {
        place: _field_array(plate, path, planes, sizes, fill)
        for place, (path, planes) in fields.items()
    }
    if not built:
        from platekit.microscopes._errors import PlateError

        raise PlateError(
            f"none of the chosen fields of {str(plate.path)!r} has an array; choose wells "
            "and sites the plate holds"
        )
    plane_shape = _one_shape(plate, built)
    blank = da.full((*sizes, *plane_shape), fill, dtype=fill.dtype, chunks=(1, 1, 1, *plane_shape))
    wells = []
    for well in selection.wells:
        per_site = [_pick(built.get((well, site), blank), selection) for site in selection.sites]
        wells.append(da.stack(per_site) if selection.kept[1] else per_site[0])
    return da.stack(wells) if selection.kept[0] else wells[0]


def recorded_absent(plate: Plate, wells: tuple[str, ...]) -> set[PlaneKey]:
    """The planes of ``wells`` a platekit conversion wrote as absent, as the wells record them.

    Other writers record none: their plates give an empty set.
    """
    from platekit.microscopes._absent import decode

    paths: dict[str, str] = {}
    for key, address in plate.planes():
        if key.well in wells:
            paths.setdefault(key.well, "/".join(address.split("/")[:2]))
    found: set[PlaneKey] = set()
    for well, path in paths.items():
        record = _platekit_attributes(plate.path.joinpath(*path.split("/"))).get("absent_planes")
        if record:
            found.update(plane.plane for plane in decode(well, record))
    return found


def _platekit_attributes(group: Any) -> dict[str, Any]:
    """The ``platekit`` attributes of the well group ``group`` (a path, or what reads like one)."""
    for name, inside in (("zarr.json", ("attributes", "platekit")), (".zattrs", ("platekit",))):
        try:
            found: Any = json.loads((group / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for part in inside:
            found = found.get(part, {}) if isinstance(found, dict) else {}
        return found if isinstance(found, dict) else {}
    return {}


def _pick(array: Any, selection: Selection) -> Any:
    """The chosen t, c and z of a field's ``(t, c, z, y, x)`` array; a scalar choice drops its axis.

    One axis at a time, since dask indexes with a list along one axis only.
    """
    axis = 0
    for values, kept, size in zip(
        selection.axes[2:], selection.kept[2:], array.shape, strict=False
    ):
        positions = [value - 1 for value in values]
        if not kept:
            array = array[(slice(None),) * axis + (positions[0],)]
            continue
        if positions != list(range(size)):
            array = array[(slice(None),) * axis + (positions,)]
        axis += 1
    return array


def _fields(plate: Plate, selection: Selection) -> dict[tuple[str, int], tuple[str, list[Any]]]:
    """Each chosen field's array path and its planes as ``(key, indices)``."""
    wells, sites = set(selection.wells), set(selection.sites)
    found: dict[tuple[str, int], tuple[str, list[Any]]] = {}
    for key, address in plate.planes():
        if key.well not in wells or key.site not in sites:
            continue
        path, _, indices = address.rpartition("#")
        numbers = tuple(int(part) for part in indices.split(",")) if indices else ()
        found.setdefault((key.well, key.site), (path, []))[1].append((key, numbers))
    return found


def _field_array(
    plate: Plate, path: str, planes: list[tuple[PlaneKey, tuple[int, ...]]], sizes: Any, fill: Any
) -> Any:
    """One field as ``(t, c, z, y, x)`` in the plate's sizes, whatever its array's axis order."""
    da = need("dask.array")
    import zarr

    # Opened here, read-only, on zarr's local store; from_zarr given a path goes through fsspec.
    field = zarr.open_array(str(plate.path.joinpath(*path.split("/"))), mode="r")
    array = da.from_zarr(field)
    leading = array.ndim - 2
    roles = [_role(axis, planes) if array.shape[axis] > 1 else None for axis in range(leading)]
    # Single-entry axes (and axes of no role) go; the others are put in t, c, z order.
    array = array[tuple(slice(None) if role else 0 for role in roles) + (slice(None),) * 2]
    present = [role for role in roles if role]
    array = array.transpose(
        *sorted(range(len(present)), key=lambda axis: _ROLES.index(present[axis])),
        len(present),
        len(present) + 1,
    )
    for axis, role in enumerate(_ROLES):
        if role not in present:
            array = da.expand_dims(array, axis)
        short = sizes[axis] - array.shape[axis]
        if short > 0:
            pad = list(array.shape)
            pad[axis] = short
            chunks = [1 if at < 3 else size for at, size in enumerate(pad)]
            padding = da.full(pad, fill, dtype=array.dtype, chunks=chunks)
            array = da.concatenate([array, padding], axis=axis)
    return array


def _role(axis: int, planes: list[tuple[PlaneKey, tuple[int, ...]]]) -> str:
    """Which of t, c and z the array axis ``axis`` indexes, judged by the planes' addresses."""
    for role in _ROLES:
        attribute = {"t": "timepoint", "c": "channel", "z": "z_index"}[role]
        if all(indices[axis] == getattr(key, attribute) - 1 for key, indices in planes):
            return role
    raise ValueError(f"the array axis {axis} of a field is none of t, c and z")


def _one_shape(plate: Plate, built: dict[tuple[str, int], Any]) -> tuple[int, int]:
    shapes = {tuple(array.shape[-2:]) for array in built.values()}
    if len(shapes) > 1:
        (first_place, first), *rest = built.items()
        other = next((place, a) for place, a in rest if a.shape[-2:] != first.shape[-2:])
        raise ValueError(
            f"the fields of {str(plate.path)!r} differ in size: {first_place} is "
            f"{first.shape[-2:]} and {other[0]} is {other[1].shape[-2:]}; choose fields of "
            "one size with well= and site="
        )
    height, width = shapes.pop()
    return height, width
