"""Plates as napari layers: one lazy image layer per channel, wells and fields on sliders.

Each channel of the plate is one image layer whose dask array has the axes
``well, field, t, z, y, x``: napari's sliders choose the well (in the order
of the layer's ``metadata["wells"]``), the field, the time point and the
plane, and only the plane on screen is read. Channels are added in their
metadata colours, blended additively, scaled in µm where the plate says
its pixel size.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from platekit.microscopes._plate import Plate

    LayerData = tuple[Any, dict[str, Any], str]

#: The axes of every layer, slowest first.
AXES = ("well", "field", "t", "z", "y", "x")
# When a format records no colours: one channel grey, several in a cycle napari has by name.
_DEFAULT_COLOURS = ("green", "magenta", "cyan", "yellow", "red", "blue")


def get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """napari's reader hook: a function reading ``path`` when it is a plate, else ``None``.

    ``None`` (napari then asks other readers) for several paths, a file, or a
    folder no platekit handler recognises.
    """
    from platekit.microscopes import PlateError, detect_microscope

    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    if not os.path.isdir(path):
        return None
    try:
        detect_microscope(path)
    except (PlateError, OSError, ValueError):
        return None
    return _read


def _read(path: str | list[str]) -> list[LayerData]:
    from platekit.microscopes import open_plate

    folder = path[0] if isinstance(path, list) else path
    return plate_layers(open_plate(folder))


def plate_layers(plate: Plate) -> list[LayerData]:
    """The plate's napari layer data: ``(dask array, layer options, "image")`` per channel.

    Each array is ``plate.to_dask(channel=number)``, axes :data:`AXES`;
    nothing is read to build it. Options: ``name`` (the channel's name),
    ``colormap`` (its colour), ``scale`` (µm for z, y and x where the plate
    records them, 1 otherwise), ``blending``, ``axis_labels``, and
    ``metadata`` (plate name, microscope, wells and fields in slider order).
    No contrast limits: napari fits them to the plane it shows. Raises
    ``ImportError`` naming the extra without dask.
    """
    meta = plate.metadata
    step = meta.z_step_um or 1.0
    pixel = meta.pixel_size_um or 1.0
    scale = (1.0, 1.0, 1.0, step, pixel, pixel)
    layers: list[LayerData] = []
    for index, (number, channel) in enumerate(meta.channels.items()):
        data = plate.to_dask(channel=number)
        options: dict[str, Any] = {
            "name": channel.name,
            "colormap": _colour(channel.color, index, len(meta.channels)),
            "scale": scale,
            "blending": "additive",
            "axis_labels": AXES,
            "metadata": {
                "plate": meta.name,
                "microscope": plate.microscope,
                "channel": number,
                "wells": list(meta.wells),
                "fields": list(meta.sites),
            },
        }
        layers.append((data, options, "image"))
    return layers


def _colour(code: str | None, index: int, count: int) -> str:
    """A colormap napari takes: the format's ``RRGGBB`` colour, else a named one."""
    if code and code.lower() != "000000":
        return "#" + code.lower()
    return "gray" if count == 1 else _DEFAULT_COLOURS[index % len(_DEFAULT_COLOURS)]
