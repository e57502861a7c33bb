"""The OME-NGFF metadata of an HCS plate: plate, well and image, for NGFF 0.5 and 0.4.

0.5 keeps every key under ``attributes.ome`` of Zarr v3 nodes, with the
version there and nowhere else; 0.4 keeps them at the top of ``.zattrs``
of Zarr v2 nodes, with ``"version": "0.4"`` inside ``plate``, ``well`` and
each ``multiscales`` entry.
"""

from __future__ import annotations

from platekit.microscopes._wells import parse_well, row_letters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal

    from platekit.microscopes._model import Channel, PlateMetadata

#: The NGFF versions platekit writes, and the Zarr format each lives on.
ZARR_FORMAT: dict[str, Literal[2, 3]] = {"0.5": 3, "0.4": 2}

# Colours for channels the source gives none: the usual order of viewers.
_PALETTE = ("0000FF", "00FF00", "FF0000", "FF00FF", "00FFFF", "FFFF00", "FFFFFF")


def check_version(ngff: object) -> str:
    """``ngff`` if platekit writes it; ``ValueError`` naming the versions it writes otherwise.

    Callers pass what a user gave, which may be the number 0.5 for the text ``"0.5"``.
    """
    if not isinstance(ngff, str) and str(ngff) in ZARR_FORMAT:
        raise ValueError(
            f"the NGFF version is text, {str(ngff)!r}, not the number {ngff!r}; "
            f"pass ngff={str(ngff)!r}"
        )
    if not isinstance(ngff, str) or ngff not in ZARR_FORMAT:
        raise ValueError(
            f"platekit writes OME-NGFF {' and '.join(sorted(ZARR_FORMAT))}, not {ngff!r}; "
            "use 0.5 (Zarr v3) or 0.4 (Zarr v2, for readers that lack Zarr v3)"
        )
    return ngff


def wrap(ngff: str, **keys: Any) -> dict[str, Any]:
    """Node attributes holding ``keys`` as NGFF ``ngff`` places them."""
    if ngff == "0.5":
        return {"ome": {"version": "0.5", **keys}}
    return dict(keys)


def unwrap(ngff: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """The NGFF keys of a node's attributes (the inverse of :func:`wrap`)."""
    if ngff == "0.5":
        ome = attributes.get("ome")
        return ome if isinstance(ome, dict) else {}
    return attributes


def _versioned(ngff: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "version": "0.4"} if ngff == "0.4" else entry


def column_name(column: int) -> str:
    """A plate column's group name: ``"1"`` for column 1, as OME-Zarr HCS plates name them."""
    return str(column)


def well_path(well: str) -> str:
    """``"B03" -> "B/3"``: the row and column groups of a well."""
    row, column = parse_well(well)
    return f"{row_letters(row)}/{column_name(column)}"


def plate_attributes(meta: PlateMetadata, ngff: str, field_count: int) -> dict[str, Any]:
    """The ``plate`` metadata of the root group: every row and column, the wells converted."""
    wells = []
    for well in meta.wells:
        row, column = parse_well(well)
        wells.append({"path": well_path(well), "rowIndex": row - 1, "columnIndex": column - 1})
    plate = {
        "name": meta.name,
        "rows": [{"name": row_letters(row)} for row in range(1, meta.rows + 1)],
        "columns": [{"name": column_name(col)} for col in range(1, meta.columns + 1)],
        "wells": wells,
        "field_count": field_count,
        "acquisitions": [{"id": 0, "name": meta.name}],
    }
    # NGFF 0.5 keeps the version in "ome", but its final text still asks for
    # plate.version, and ome-zarr-py and ome-zarr-models read it there: write both.
    return wrap(ngff, plate={**plate, "version": ngff})


def well_attributes(fields: list[str], ngff: str) -> dict[str, Any]:
    """The ``well`` metadata of a well group: its fields, all of acquisition 0."""
    images = [{"path": field, "acquisition": 0} for field in fields]
    return wrap(ngff, well=_versioned(ngff, {"images": images}))


def axes(meta: PlateMetadata) -> list[dict[str, str]]:
    """The image axes, ``t, c, z, y, x`` as present: t and z only when there are several."""
    space = {"type": "space"}
    if meta.pixel_size_um is not None:
        space["unit"] = "micrometer"
    found: list[dict[str, str]] = []
    if meta.t_count > 1:
        found.append({"name": "t", "type": "time"})
    found.append({"name": "c", "type": "channel"})
    if meta.z_count > 1:
        found.append({"name": "z", **space})
    found += [{"name": "y", **space}, {"name": "x", **space}]
    return found


def image_attributes(
    meta: PlateMetadata,
    ngff: str,
    name: str,
    levels: int,
    windows: dict[int, tuple[float, float]],
) -> dict[str, Any]:
    """``multiscales`` and ``omero`` of one field: ``levels`` datasets, each 2x smaller in y, x.

    ``windows`` gives each channel's (min, max) over the field's pixels.
    """
    names = [axis["name"] for axis in axes(meta)]
    pixel = meta.pixel_size_um if meta.pixel_size_um is not None else 1.0
    z_step = meta.z_step_um if meta.z_step_um is not None else 1.0
    datasets = []
    for level in range(levels):
        factor = 2**level
        scale = {"t": 1.0, "c": 1.0, "z": float(z_step), "y": pixel * factor, "x": pixel * factor}
        datasets.append(
            {
                "path": str(level),
                "coordinateTransformations": [
                    {"type": "scale", "scale": [scale[axis] for axis in names]}
                ],
            }
        )
    multiscale = _versioned(ngff, {"name": name, "axes": axes(meta), "datasets": datasets})
    return wrap(
        ngff, multiscales=[multiscale], omero=omero(list(meta.channels.values()), windows, meta)
    )


def omero(
    channels: list[Channel], windows: dict[int, tuple[float, float]], meta: PlateMetadata
) -> dict[str, Any]:
    """The transitional ``omero`` block: channel labels, colours and display windows."""
    import numpy as np

    top = (
        float(np.iinfo(meta.dtype).max) if meta.dtype and np.dtype(meta.dtype).kind in "ui" else 1.0
    )
    shown = []
    for index, channel in enumerate(channels):
        low, high = windows.get(channel.id, (0.0, top))
        shown.append(
            {
                "label": channel.name,
                "color": channel.color or _PALETTE[index % len(_PALETTE)],
                "window": {"min": 0.0, "max": top, "start": low, "end": high},
                "active": True,
            }
        )
    return {"channels": shown, "rdefs": {"model": "color" if len(shown) > 1 else "greyscale"}}
