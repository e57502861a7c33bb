"""A plate as a lazy array: dask and xarray views whose planes are read only when computed.

Dimensions are named as OME-Zarr and xarray users name them: ``well`` and
``field``, then ``t, c, z, y, x``. A vendor plate is one dask chunk per plane,
each read by :meth:`Plate.read_plane` when computed; an OME-Zarr plate's
fields are read through dask's own ``from_zarr``, so its chunks are the
arrays' chunks. Planes the plate lacks read as a fill value, and a boolean
array of the same shape (``mask=True``) says which they are.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import numpy as np

from platekit.microscopes._array_select import DIMS, Selection, select

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from platekit.microscopes._model import PlaneKey
    from platekit.microscopes._plate import Plate

#: The handler whose planes are slices of Zarr arrays, read through ``from_zarr``.
_OME_ZARR = "omezarr"


def need(module: str) -> Any:
    """``module`` imported, or an ImportError naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        from platekit.registry._install import install_command

        raise ImportError(
            f"plates as arrays need dask and xarray, and {module.split('.')[0]} is not "
            f"installed: {install_command('platekit-microscopes', 'arrays')}"
        ) from None


def plate_dask(
    plate: Plate,
    well: Any = None,
    site: Any = None,
    channel: Any = None,
    z: Any = None,
    t: Any = None,
    *,
    fill_value: Any = 0,
    mask: bool = False,
) -> Any:
    """The selected planes of ``plate`` as a dask array (see :meth:`Plate.to_dask`)."""
    da = need("dask.array")
    selection = select(plate, well, site, channel, z, t)
    present = {key for key, _ in plate.planes()}
    fill = fill_for(plate, fill_value)
    recorded: set[PlaneKey] = set()
    pixels = None
    shape: tuple[int, ...]
    if plate.microscope == _OME_ZARR:
        from platekit.microscopes._arrays_zarr import recorded_absent, zarr_dask

        # A converted plate holds its source's absent planes, written as zeros.
        recorded = recorded_absent(plate, selection.wells)
        present -= recorded
        pixels = zarr_dask(plate, selection, fill)
        shape = pixels.shape
    else:
        shape = (*selection.shape, *_plane_shape(plate, present))
    # One chunk per plane for the mask and a vendor plate (from_zarr chunks OME-Zarr pixels).
    chunks = (*(1,) * len(selection.shape), *shape[-2:])
    if mask:
        return _lazy_mask(~_presence(selection, present), shape, chunks)
    if pixels is None:
        source = _PlaneSource(plate, selection, present, shape, fill)
        return da.from_array(
            source,
            chunks=chunks,
            name=f"plate-{uuid.uuid4().hex}",
            meta=np.empty((0,) * len(shape), dtype=source.dtype),
            asarray=False,
        )
    absent = ~_presence(selection, present) if recorded else None
    if absent is not None and absent.any():
        return da.where(_lazy_mask(absent, shape, chunks), fill, pixels)
    return pixels


def _lazy_mask(absent: np.ndarray, shape: tuple[int, ...], chunks: tuple[int, ...]) -> Any:
    """The per-plane ``absent`` array broadcast over each plane's pixels, chunked as they are."""
    da = need("dask.array")
    return da.broadcast_to(da.from_array(absent[..., None, None], chunks=1), shape, chunks=chunks)


def plate_xarray(
    plate: Plate,
    well: Any = None,
    site: Any = None,
    channel: Any = None,
    z: Any = None,
    t: Any = None,
    *,
    fill_value: Any = 0,
    mask: bool = False,
) -> Any:
    """The selected planes of ``plate`` as an xarray DataArray (see :meth:`Plate.to_xarray`)."""
    xr = need("xarray")
    data = plate_dask(plate, well, site, channel, z, t, fill_value=fill_value, mask=mask)
    selection = select(plate, well, site, channel, z, t)
    meta = plate.metadata
    microns = {"units": "µm"}
    coords: dict[str, Any] = {}
    for dim, values in zip(DIMS[:5], selection.axes, strict=True):
        if dim == "c":
            names = [meta.channels[number].name for number in values]
            coords["c"] = _coordinate(selection, dim, names)
            coords["channel"] = _coordinate(selection, dim, list(values))
        elif dim == "z":
            coords["z_index"] = _coordinate(selection, dim, list(values))
            if meta.z_step_um is not None:
                positions = [(number - 1) * meta.z_step_um for number in values]
                coords["z"] = _coordinate(selection, dim, positions, microns)
        else:
            coords[dim] = _coordinate(selection, dim, list(values))
    if meta.pixel_size_um is not None:
        height, width = data.shape[-2:]
        coords["y"] = ("y", np.arange(height) * meta.pixel_size_um, microns)
        coords["x"] = ("x", np.arange(width) * meta.pixel_size_um, microns)
    attrs = {
        "plate": meta.name,
        "microscope": plate.microscope,
        "pixel_size_um": meta.pixel_size_um,
        "z_step_um": meta.z_step_um,
    }
    if not mask:
        attrs["fill_value"] = fill_for(plate, fill_value).item()
    return xr.DataArray(
        data,
        dims=selection.dims,
        coords=coords,
        attrs={key: value for key, value in attrs.items() if value is not None},
        name=f"{meta.name} absent" if mask else meta.name,
    )


def _coordinate(
    selection: Selection, dim: str, values: list[Any], attrs: dict[str, str] | None = None
) -> Any:
    """A coordinate along ``dim``, or a scalar one where the selection dropped ``dim``."""
    if dim in selection.dims:
        return (dim, values, attrs or {})
    return ((), values[0], attrs or {})


def _presence(selection: Selection, present: set[PlaneKey]) -> np.ndarray:
    """Whether each selected plane is present, shaped as the selection's leading dimensions."""
    found = np.array([key in present for key in selection.planes()], dtype=bool)
    return found.reshape(selection.shape)


def _plane_shape(plate: Plate, present: set[PlaneKey]) -> tuple[int, int]:
    """The plate's plane shape from its metadata, or from its first plane where it says none."""
    meta = plate.metadata
    if meta.image_shape is not None:
        return meta.image_shape
    height, width = _first_plane(plate, present).shape
    return height, width


def _dtype(plate: Plate) -> np.dtype[Any]:
    meta = plate.metadata
    if meta.dtype is not None:
        return np.dtype(meta.dtype)
    present = {key for key, _ in plate.planes()}
    return _first_plane(plate, present).dtype


def _first_plane(plate: Plate, present: set[PlaneKey]) -> np.ndarray:
    # Only when the metadata leaves the plane's shape or type out is a pixel read to learn it.
    if not present:
        from platekit.microscopes._errors import PlateError

        raise PlateError(
            f"plate {plate.metadata.name!r} at {str(plate.path)!r} has no planes to read, so "
            "no array; check the folder holds its images"
        )
    return plate.read_plane(min(present))


def fill_for(plate: Plate, fill_value: Any) -> np.generic:
    """``fill_value`` in the plate's pixel type; ``ValueError`` when that type cannot hold it."""
    dtype = _dtype(plate)
    try:
        with np.errstate(invalid="ignore", over="ignore"):
            value = np.array(fill_value).astype(dtype)
        fits = bool(value == np.array(fill_value)) or bool(np.isnan(value) and np.isnan(fill_value))
    except (TypeError, ValueError):
        fits = False
    if not fits:
        raise ValueError(
            f"fill_value {fill_value!r} does not fit this plate's {dtype} pixels; give a "
            f"value {dtype} holds (0 is the default)"
        )
    scalar: np.generic = value.dtype.type(value)
    return scalar


@dataclass
class _PlaneSource:
    """The selected planes of a plate as an array that dask slices one plane at a time.

    It holds the :class:`Plate` itself, so a task computed in another process
    carries everything it needs to read its plane.
    """

    plate: Plate
    selection: Selection
    present: set[PlaneKey]
    shape: tuple[int, ...]
    fill_value: np.generic

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.fill_value.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, index: Any) -> np.ndarray:
        """The planes at ``index``: slices or numbers (dask passes both), one per dimension."""
        parts = index if isinstance(index, tuple) else (index,)
        if any(part is Ellipsis for part in parts):
            where = next(n for n, part in enumerate(parts) if part is Ellipsis)
            fill = (slice(None),) * (self.ndim - len(parts) + 1)
            parts = (*parts[:where], *fill, *parts[where + 1 :])
        parts = (*parts, *(slice(None),) * (self.ndim - len(parts)))
        leading, plane = parts[:-2], parts[-2:]
        picks = [
            np.atleast_1d(np.arange(size)[part])
            for part, size in zip(leading, self.shape[:-2], strict=True)
        ]
        counts = tuple(len(pick) for pick in picks)
        first = self.selection.key(tuple(int(pick[0]) for pick in picks))
        if all(count == 1 for count in counts) and first in self.present:
            # One plane, as dask asks for: its pixels as read, without a copy.
            out = self._read(first).reshape(*counts, *self.shape[-2:])
        else:
            out = np.full((*counts, *self.shape[-2:]), self.fill_value)
            for at in itertools.product(*(range(count) for count in counts)):
                indices = tuple(int(pick[n]) for pick, n in zip(picks, at, strict=True))
                key = self.selection.key(indices)
                if key in self.present:
                    out[at] = self._read(key)
        # A number drops its dimension, as numpy's indexing does.
        numbers = tuple(
            axis
            for axis, part in enumerate(leading)
            if not isinstance(part, slice) and np.ndim(part) == 0
        )
        inside: tuple[Any, ...] = (Ellipsis, *plane)
        chunk: np.ndarray = out.squeeze(axis=numbers)[inside]
        return chunk

    def _read(self, key: PlaneKey) -> np.ndarray:
        pixels = self.plate.read_plane(key)
        if pixels.shape != self.shape[-2:]:
            from platekit.microscopes._errors import BadPlaneError

            raise BadPlaneError(
                self.plate.path,
                f"plane {key} is {pixels.shape[0]} x {pixels.shape[1]} pixels where the plate's "
                f"are {self.shape[-2]} x {self.shape[-1]}; read it alone with Plate.read",
            )
        if pixels.dtype != self.dtype:
            if not np.can_cast(pixels.dtype, self.dtype):
                from platekit.microscopes._errors import BadPlaneError

                raise BadPlaneError(
                    self.plate.path,
                    f"plane {key} holds {pixels.dtype} pixels where the plate's are "
                    f"{self.dtype}; read it alone with Plate.read",
                )
            pixels = pixels.astype(self.dtype)
        return pixels
