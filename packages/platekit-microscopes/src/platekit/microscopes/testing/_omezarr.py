"""Synthetic OME-Zarr HCS plates, written with zarr-python alone.

The layout and metadata follow the OME-NGFF 0.4 and 0.5 specifications and
are written here directly, never through platekit's converter, so that
reading one back checks the reader against the format, not against
platekit's own writer. A plate is plate group → row → column (the well) →
field (a multiscale image) → one array per pyramid level; every plane has
its own chunk.

Options (``write_plate("omezarr", folder, ..., option=value)``):

``ngff``
    ``"0.5"`` (default): Zarr v3, ``zarr.json`` everywhere, the NGFF keys under
    ``attributes.ome`` with the version there only, ``dimension_names`` on
    the arrays. ``"0.4"``: Zarr v2, ``.zgroup``/``.zattrs``/``.zarray`` with
    ``dimension_separator "/"``, ``"version": "0.4"`` inside plate, well
    and multiscales.
``axes``
    The arrays' axes, ``"tczyx"`` by default: any of t, c and z in that
    order, then ``yx`` (``"cyx"``, ``"czyx"``). A plate with more than one
    time point, channel or z plane needs that axis.
``levels``
    Pyramid levels, 1 by default; each further level takes every second
    pixel in y and x of the one before (and doubles their scale).
``column_names``
    ``"1"`` (default) names columns ``1 … 12``; ``"01"`` pads them, ``01 … 12``.
``channel_names``
    One ``omero`` label per channel; ``"Channel <n>"`` by default.
``field_paths``
    One group name per site; ``"0"``, ``"1"``, … by default.
``unit``
    The space axes' unit, ``"micrometer"`` by default (scales converted from
    the spec's µm); ``"nanometer"`` and ``"millimeter"`` too, or ``None`` to
    write no unit.

Missing planes: OME-Zarr has no list of planes, only of wells and fields.
A field whose planes are *all* in ``spec.missing`` has no group (its well
still lists it), and a well whose fields are all missing has no group (the
plate still lists it). A field with only *some* planes missing is written
whole, those planes left as the fill value 0: a reader sees them as planes
of zeros, not as missing ones.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import numpy as np

from platekit.microscopes._model import PlaneKey
from platekit.microscopes._wells import parse_well, row_letters
from platekit.microscopes.testing import PlateSpec, take_options

_OPTIONS: dict[str, object] = {
    "ngff": "0.5",
    "axes": "tczyx",
    "levels": 1,
    "column_names": "1",
    "channel_names": None,
    "field_paths": None,
    "unit": "micrometer",
}
# The unit's length in µm, to write the spec's µm sizes in it.
_UNITS = {"micrometer": 1.0, "nanometer": 1e-3, "millimeter": 1e3, None: 1.0}
_COLORS = ["0000FF", "00FF00", "FF0000", "FF00FF", "00FFFF", "FFFF00", "FFFFFF"]
_AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}


def write(folder: Path, spec: PlateSpec) -> Path:
    """Write ``spec`` as an OME-Zarr HCS plate in ``folder``; return ``folder``.

    Raises ``ValueError`` for an option the writer does not take or a value
    it cannot write.
    """
    import zarr

    options = take_options(spec, _OPTIONS)
    layout = _Layout(spec, options)
    root = zarr.open_group(folder, mode="w", zarr_format=layout.zarr_format)
    root.attrs.update(layout.ome("plate", layout.plate()))
    missing = set(spec.missing)
    for well in spec.wells:
        row, column = layout.place(well)
        written = [
            site
            for site in range(1, spec.sites + 1)
            if not all(key in missing for key in layout.field_planes(well, site))
        ]
        if not written:
            continue
        group = root.require_group(row).require_group(column)
        images = [{"path": path, "acquisition": 0} for path in layout.field_paths]
        group.attrs.update(layout.ome("well", {"images": images}))
        for site in written:
            _write_field(
                group.create_group(layout.field_paths[site - 1]), layout, well, site, missing
            )
    return folder


class _Layout:
    """The writer's choices for one plate, checked against its spec."""

    def __init__(self, spec: PlateSpec, options: dict[str, object]) -> None:
        self.spec = spec
        ngff = options["ngff"]
        if ngff not in ("0.4", "0.5"):
            raise ValueError(f"ngff must be '0.4' or '0.5', not {ngff!r}")
        self.ngff = str(ngff)
        self.zarr_format: Literal[2, 3] = 3 if ngff == "0.5" else 2
        self.axes = _check_axes(options["axes"], spec)
        levels = options["levels"]
        if not isinstance(levels, int) or levels < 1:
            raise ValueError(f"levels must be a whole number from 1, not {levels!r}")
        self.levels = levels
        padding = options["column_names"]
        if padding not in ("1", "01"):
            raise ValueError(f"column_names must be '1' or '01', not {padding!r}")
        self.rows = [row_letters(row) for row in range(1, spec.plate_format[0] + 1)]
        self.columns = [
            f"{column:02d}" if padding == "01" else str(column)
            for column in range(1, spec.plate_format[1] + 1)
        ]
        self.channel_names = _names(
            options["channel_names"], spec.channels, "channel_names", "Channel {}", 1
        )
        self.field_paths = _names(options["field_paths"], spec.sites, "field_paths", "{}", 0)
        if any(not re.fullmatch(r"[A-Za-z0-9]+", path) for path in self.field_paths):
            raise ValueError(f"field_paths must be alphanumeric, not {self.field_paths}")
        unit = options["unit"]
        if unit not in _UNITS:
            raise ValueError(f"unit must be one of {list(_UNITS)}, not {unit!r}")
        self.unit = unit if isinstance(unit, str) else None
        self.per_um = 1.0 / _UNITS[self.unit]

    def ome(self, key: str, value: dict[str, Any]) -> dict[str, Any]:
        """A group's attributes holding ``key``, where the version says they go."""
        if self.zarr_format == 3:
            return {"ome": {"version": self.ngff, key: value}}
        return {key: {**value, "version": self.ngff}}

    def place(self, well: str) -> tuple[str, str]:
        row, column = parse_well(well)
        if row > len(self.rows) or column > len(self.columns):
            raise ValueError(f"well {well} is outside the {self.spec.plate_format} plate")
        return self.rows[row - 1], self.columns[column - 1]

    def plate(self) -> dict[str, Any]:
        wells = []
        for well in self.spec.wells:
            row, column = self.place(well)
            wells.append(
                {
                    "path": f"{row}/{column}",
                    "rowIndex": self.rows.index(row),
                    "columnIndex": self.columns.index(column),
                }
            )
        return {
            "name": self.spec.name,
            "rows": [{"name": name} for name in self.rows],
            "columns": [{"name": name} for name in self.columns],
            "wells": wells,
            "field_count": self.spec.sites,
            "acquisitions": [
                {"id": 0, "name": "Measurement 1", "maximumfieldcount": self.spec.sites}
            ],
        }

    def field_planes(self, well: str, site: int) -> list[PlaneKey]:
        spec = self.spec
        return [
            PlaneKey(well, site, channel, z, t)
            for channel in range(1, spec.channels + 1)
            for z in range(1, spec.z + 1)
            for t in range(1, spec.t + 1)
        ]

    def shape(self, level: int) -> tuple[int, ...]:
        sizes = {"t": self.spec.t, "c": self.spec.channels, "z": self.spec.z}
        height, width = self.spec.shape
        sizes["y"] = len(range(0, height, 2**level))
        sizes["x"] = len(range(0, width, 2**level))
        return tuple(sizes[axis] for axis in self.axes)

    def scale(self, level: int) -> list[float]:
        pixel = self.spec.pixel_size_um * self.per_um * 2**level
        sizes = {"t": 1.0, "c": 1.0, "z": self.spec.z_step_um * self.per_um, "y": pixel, "x": pixel}
        return [sizes[axis] for axis in self.axes]

    def image(self, name: str) -> dict[str, Any]:
        """The field's ``multiscales[0]``."""
        axes: list[dict[str, str]] = []
        for axis in self.axes:
            entry = {"name": axis, "type": _AXIS_TYPES[axis]}
            if entry["type"] == "space" and self.unit:
                entry["unit"] = self.unit
            axes.append(entry)
        image: dict[str, Any] = {
            "name": name,
            "axes": axes,
            "datasets": [
                {
                    "path": str(level),
                    "coordinateTransformations": [{"type": "scale", "scale": self.scale(level)}],
                }
                for level in range(self.levels)
            ],
        }
        if self.zarr_format == 2:
            image["version"] = self.ngff
        return image

    def omero(self) -> dict[str, Any]:
        dtype = np.dtype(self.spec.dtype)
        if dtype.kind in "ui":
            info = np.iinfo(dtype)
            window: dict[str, float] = {
                "min": int(info.min),
                "max": int(info.max),
                "start": 0,
                "end": min(int(info.max), 4095),
            }
        else:
            window = {"min": 0.0, "max": 1.0, "start": 0.0, "end": 1.0}
        channels = [
            {
                "label": label,
                "color": _COLORS[number % len(_COLORS)],
                "window": window,
                "active": True,
            }
            for number, label in enumerate(self.channel_names)
        ]
        return {"channels": channels, "rdefs": {"model": "color"}}

    def index(self, key: PlaneKey) -> tuple[int, ...]:
        """Where the plane ``key`` sits in a field's array, before y and x."""
        values = {"t": key.timepoint - 1, "c": key.channel - 1, "z": key.z_index - 1}
        return tuple(values[axis] for axis in self.axes[:-2])


def _write_field(group: Any, layout: _Layout, well: str, site: int, missing: set[PlaneKey]) -> None:
    """One field: its multiscale metadata, its arrays, and every plane not missing."""
    name = f"{well}_{layout.field_paths[site - 1]}"
    attributes: dict[str, Any] = {"multiscales": [layout.image(name)], "omero": layout.omero()}
    if layout.zarr_format == 3:
        group.attrs.update({"ome": {"version": layout.ngff, **attributes}})
    else:
        group.attrs.update(attributes)
    arrays = []
    for level in range(layout.levels):
        shape = layout.shape(level)
        extra: dict[str, object] = (
            {"dimension_names": list(layout.axes)}
            if layout.zarr_format == 3
            else {"chunk_key_encoding": {"name": "v2", "separator": "/"}}
        )
        arrays.append(
            group.create_array(
                str(level),
                shape=shape,
                dtype=layout.spec.dtype,
                chunks=(1,) * (len(shape) - 2) + shape[-2:],
                fill_value=0,
                **extra,
            )
        )
    for key in layout.field_planes(well, site):
        if key in missing:
            continue
        pixels = layout.spec.pixels(key)
        at = layout.index(key)
        for level, array in enumerate(arrays):
            array[at] = pixels[:: 2**level, :: 2**level]


def _check_axes(axes: object, spec: PlateSpec) -> str:
    if not isinstance(axes, str) or not re.fullmatch(r"t?c?z?yx", axes):
        raise ValueError(
            f"axes must be any of t, c and z in that order, then 'yx' (e.g. 'tczyx', 'cyx'), "
            f"not {axes!r}"
        )
    for axis, count in (("t", spec.t), ("c", spec.channels), ("z", spec.z)):
        if count > 1 and axis not in axes:
            raise ValueError(f"axes {axes!r} have no {axis} axis for the plate's {count} {axis}")
    return axes


def _names(value: object, count: int, option: str, default: str, start: int) -> list[str]:
    if value is None:
        return [default.format(number) for number in range(start, start + count)]
    if not isinstance(value, (list, tuple)) or len(value) != count:
        raise ValueError(f"{option} must list {count} names, not {value!r}")
    return [str(name) for name in value]
