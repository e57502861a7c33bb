"""Writing an OME-Zarr HCS plate from arrays: :class:`PlateWriter` and the steps it is made of.

A plate is written in three steps, each its own function so that
``convert`` writes through the same ones: a field's arrays (in
:mod:`._field_arrays`: plane by plane, or whole) and then its image metadata
(:func:`write_image_metadata`); a well's metadata once its fields are
written (:func:`write_well_metadata`); the plate's metadata last
(:func:`write_plate_metadata`). A reader sees a field, a well or a plate
only once its metadata is there, and then complete.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from platekit.microscopes._field_arrays import (
    LevelWriters,
    downsample_labels,
    level_plane_shape,
    save_levels,
)
from platekit.microscopes._field_planes import FieldPlanes
from platekit.microscopes._labels import (
    check_colors,
    label_attributes,
    label_axes,
    labels_group_attributes,
)
from platekit.microscopes._layout import PlateLayout
from platekit.microscopes._ngff import (
    ZARR_FORMAT,
    axes,
    check_version,
    image_attributes,
    plate_attributes,
    unwrap,
    well_attributes,
    well_path,
)
from platekit.microscopes._wells import normal_well
from platekit.storage.backends.fsspec import is_url, local_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Iterator
    from typing import Any

    import numpy as np

    from platekit.microscopes._model import PlateMetadata


class FieldWrittenError(FileExistsError):
    """The field (or label image) is already written, or being written by another writer."""


# -- the steps ------------------------------------------------------------------------------


def write_image_metadata(
    backend: Any,
    group: str,
    meta: PlateMetadata,
    ngff: str,
    name: str,
    levels: int,
    windows: dict[int, tuple[float, float]],
) -> None:
    """Write a field's ``multiscales`` and ``omero``: the field is complete from then on."""
    backend.set_attributes(group, image_attributes(meta, ngff, name, levels, windows))


def write_well_metadata(
    backend: Any, group: str, fields: list[str], ngff: str, extra: dict[str, Any] | None = None
) -> None:
    """Write a well's ``well`` metadata listing ``fields``, with ``extra`` attributes beside it."""
    attributes = well_attributes(fields, ngff)
    attributes.update(extra or {})
    backend.set_attributes(group, attributes)


def write_plate_metadata(
    backend: Any,
    root: str,
    meta: PlateMetadata,
    ngff: str,
    field_count: int,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the root's ``plate`` metadata (the wells in ``meta``), with ``extra`` beside it."""
    attributes = plate_attributes(meta, ngff, field_count)
    attributes.update(extra or {})
    backend.set_attributes(root, attributes)


def zarr_backend(ngff: str) -> Any:
    """The zarr backend writing the Zarr format of NGFF ``ngff`` to local folders."""
    from platekit.storage.backends.zarr import ZarrBackend

    return ZarrBackend(zarr_format=ZARR_FORMAT[ngff])


# -- the writer -----------------------------------------------------------------------------


class PlateWriter:
    """Writes an OME-Zarr HCS plate of a given :class:`PlateLayout`, field by field.

    .. code-block:: python

       writer = PlateWriter("out.zarr", PlateLayout.from_plate(plate, z_count=1))
       writer.write_field("A01", 0, image)  # (t, c, z, y, x), as the layout declares
       with writer.field_planes("A01", 1) as planes:  # or plane by plane
           planes[0, 0, 0] = plane  # (y, x) at t, c, z
       writer.write_labels("A01", 0, "nuclei", masks)  # (t, z, y, x), integers
       writer.finish()

    Making a writer creates the plate's root group and records the layout
    there; making another for the same output and layout (in another
    process, or after a crash) joins it, and :meth:`open` joins it from the
    output alone. A writer pickles as its output, layout and NGFF version,
    so a process or a Dask task can carry it. Fields may be written in any
    order, by any number of writers at once; the plate's metadata is written
    by :meth:`finish`, once. Per-well tables are not written.

    A field is published whole or not at all: a writer killed while writing
    leaves no array of it. Of two writers racing for one field, exactly one
    writes it, and the other gets :class:`FieldWrittenError` (a
    ``FileExistsError``) and leaves nothing; writing a field that is already
    there raises the same, unless ``overwrite=True``.

    Local folders only. Raises ``ValueError`` for an NGFF version other than
    0.5 and 0.4, a URL, or an output name not ending in ``.zarr``, and
    ``FileExistsError`` when ``out`` holds something else (another plate's
    layout, a Zarr store platekit did not write, a folder that is no Zarr
    store) unless ``overwrite=True`` replaces a Zarr store.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        layout: PlateLayout,
        *,
        ngff: str = "0.5",
        overwrite: bool = False,
    ) -> None:
        if is_url(out):
            raise ValueError(
                f"PlateWriter writes plates into local folders, not {str(out)!r}; write it to a "
                "folder and copy it, or convert into object storage with platekit convert"
            )
        self._out = Path(local_path(out))
        self._layout = layout
        self._ngff = check_version(ngff)
        self._backend: Any = None
        if not isinstance(layout, PlateLayout):
            raise TypeError(f"layout must be a PlateLayout, not {type(layout).__name__}")
        if not self._out.name.lower().endswith(".zarr"):
            raise ValueError(
                f"the output {str(self._out)!r} must be a folder whose name ends in .zarr, "
                f"e.g. {str(self._out) + '.zarr'!r}"
            )
        self._create(overwrite)

    @classmethod
    def open(cls, out: str | os.PathLike[str]) -> PlateWriter:
        """A writer joining the plate a writer started at ``out``, with its layout and version.

        Raises ``FileNotFoundError`` when ``out`` holds no plate a writer started.
        """
        record = _record(Path(out))
        if record is None:
            raise FileNotFoundError(
                f"{str(out)!r} holds no plate started by a PlateWriter; make one with "
                "PlateWriter(out, layout)"
            )
        return cls(out, PlateLayout.from_json(record["layout"]), ngff=record["ngff"])

    @property
    def out(self) -> Path:
        """The plate's folder."""
        return self._out

    @property
    def layout(self) -> PlateLayout:
        """What the plate holds."""
        return self._layout

    @property
    def ngff(self) -> str:
        """The NGFF version written: ``"0.5"`` or ``"0.4"``."""
        return self._ngff

    def __getstate__(self) -> dict[str, Any]:
        return {"out": str(self._out), "layout": self._layout.as_json(), "ngff": self._ngff}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._out, self._ngff = Path(state["out"]), state["ngff"]
        self._layout = PlateLayout.from_json(state["layout"])
        self._backend = None

    def __repr__(self) -> str:
        return f"PlateWriter({str(self._out)!r}, ngff={self._ngff!r})"

    @property
    def _store(self) -> Any:
        if self._backend is None:
            self._backend = zarr_backend(self._ngff)
        return self._backend

    # -- writing -----------------------------------------------------------------------------

    def write_field(self, well: str, field: int, image: Any, *, overwrite: bool = False) -> None:
        """Write one field's image, ``(t, c, z, y, x)`` of the layout's shape and dtype.

        Anything numpy can make an array of is taken (a computed dask array
        too). The field's arrays are published whole, then its metadata.
        Raises ``KeyError`` for a well or field the layout lacks,
        ``ValueError`` naming both shapes or dtypes when ``image`` differs
        from the layout, and :class:`FieldWrittenError` when the field is
        already written or another writer is writing it (``overwrite=True``
        replaces it; use it only when no other writer may be at it).
        """
        import numpy as np

        group = self._field_group(well, field)
        layout = self._layout
        pixels = np.asarray(image)
        _check(
            f"the image for {normal_well(well)} field {field}", pixels, layout.shape, layout.dtype
        )
        meta = layout.metadata()
        names = [axis["name"] for axis in axes(meta)]
        pixels = _drop_single(pixels, "tczyx", names)
        dimension_names = names if self._ngff == "0.5" else None
        try:
            save_levels(
                self._store, group, pixels, layout.levels, dimension_names, overwrite=overwrite
            )
        except FileExistsError as exc:
            raise self._lost(group, f"field {field} of well {normal_well(well)}") from exc
        windows = _windows(pixels, names.index("c"), layout)
        name = f"{normal_well(well)}/{field}"
        write_image_metadata(self._store, group, meta, self._ngff, name, layout.levels, windows)

    @contextmanager
    def field_planes(
        self, well: str, field: int, *, overwrite: bool = False
    ) -> Iterator[FieldPlanes]:
        """Write one field plane by plane: ``planes[t, c, z] = plane`` in the ``with`` block.

        .. code-block:: python

           with writer.field_planes("A01", 0) as planes:
               for c, z, plane in results:
                   planes[0, c, z] = plane

        For fields too large to hold whole: the planes go to the arrays as they
        are assigned, and the field is published when the block ends (not at
        all when it raises), with planes never assigned reading as 0. Raises
        as :meth:`write_field` does; a plane of another shape or dtype raises
        ``ValueError`` naming both, a position outside the field ``IndexError``.
        """
        group = self._field_group(well, field)
        layout = self._layout
        meta = layout.metadata()
        names = [axis["name"] for axis in axes(meta)]
        sizes = {"t": layout.t_count, "c": len(layout.channels), "z": layout.z_count}
        outer = tuple(sizes[name] for name in names[:-2])
        shapes = [outer + level_plane_shape(layout.image_shape, lv) for lv in range(layout.levels)]
        dimension_names = names if self._ngff == "0.5" else None
        what = f"field {field} of well {normal_well(well)}"
        block_failed = False
        try:
            with LevelWriters(
                self._store, group, shapes, layout.dtype, dimension_names, overwrite=overwrite
            ) as writers:
                planes = FieldPlanes(writers, names, layout, what)
                try:
                    yield planes
                except BaseException:
                    block_failed = True
                    raise
        except FileExistsError as exc:
            if block_failed:
                raise
            raise self._lost(group, what) from exc
        name = f"{normal_well(well)}/{field}"
        write_image_metadata(
            self._store, group, meta, self._ngff, name, layout.levels, planes.windows
        )

    def write_labels(
        self,
        well: str,
        field: int,
        name: str,
        labels: Any,
        *,
        colors: dict[int, tuple[int, int, int, int]] | None = None,
        overwrite: bool = False,
    ) -> None:
        """Write a label image ``name`` of one field: ``(t, z, y, x)`` integers of its size.

        Written as NGFF ``labels`` (the field's ``labels`` group, and
        ``image-label`` metadata), with ``colors`` as ``{label value: (r, g, b,
        a)}`` if given; smaller levels keep every second pixel, so label values
        stay whole. Raises ``KeyError`` for a well or field the layout lacks,
        ``ValueError`` for a bad name or colour, a non-integer dtype or a shape
        other than the field's, naming both, and :class:`FieldWrittenError`
        as :meth:`write_field` does.
        """
        import numpy as np

        group = self._field_group(well, field)
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ValueError(
                f"a label image's name must be a plain name like 'nuclei', not {name!r}"
            )
        checked = check_colors(colors)
        layout = self._layout
        masks = np.asarray(labels)
        if masks.dtype.kind not in "iu":
            raise ValueError(
                f"the labels {name!r} of {normal_well(well)} field {field} are {masks.dtype}; "
                "label images hold integers: give e.g. masks.astype('uint32')"
            )
        t, _, z, height, width = layout.shape
        _check(
            f"the labels {name!r} of {normal_well(well)} field {field}",
            masks,
            (t, z, height, width),
            None,
        )
        meta = layout.metadata()
        image_axes = axes(meta)
        names = [axis["name"] for axis in label_axes(image_axes)]
        masks = _drop_single(masks, "tzyx", names)
        levels = range(layout.levels)
        shapes = [masks.shape[:-2] + level_plane_shape(layout.image_shape, lv) for lv in levels]
        labels_group = f"{group}/labels"
        image = f"{labels_group}/{name}"
        what = f"the labels {name!r} of field {field} of well {normal_well(well)}"
        dimension_names = names if self._ngff == "0.5" else None
        try:
            with LevelWriters(
                self._store,
                image,
                shapes,
                str(masks.dtype),
                dimension_names,
                overwrite=overwrite,
                downsample=downsample_labels,
            ) as writers:
                writers.write((), masks)
        except FileExistsError as exc:
            raise self._lost(image, what) from exc
        scales = _label_scales(meta, names, layout.levels)
        self._store.set_attributes(
            image, label_attributes(self._ngff, name, label_axes(image_axes), scales, checked)
        )
        self._list_labels(labels_group)

    def written(self) -> dict[str, list[int]]:
        """The fields written so far, by well: ``{"A01": [0, 1], ...}``."""
        found: dict[str, list[int]] = {}
        for well in self._layout.wells:
            for field in range(self._layout.fields):
                if self._complete(f"{self._well_group(well)}/{field}"):
                    found.setdefault(well, []).append(field)
        return found

    def finish(self, *, partial: bool = False) -> None:
        """Write every well's metadata and then the plate's: readers see the plate from then on.

        Raises ``ValueError`` listing the fields not written yet, unless
        ``partial=True``, which writes the plate of the fields written (wells
        with none are left out). Finishing twice writes the same metadata again.
        """
        written = self.written()
        layout = self._layout
        missing = [
            f"{well} field {field}"
            for well in layout.wells
            for field in range(layout.fields)
            if field not in written.get(well, [])
        ]
        if missing and not partial:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if missing[5:] else ""
            )
            raise ValueError(
                f"{len(missing)} fields of {str(self._out)!r} are not written yet ({shown}); "
                "write them, or finish(partial=True) to write the plate without them"
            )
        store = self._store
        for well, fields in written.items():
            for field in fields:
                # Another writer may have added a label image since its own listing.
                if store.exists(f"{self._well_group(well)}/{field}/labels"):
                    self._list_labels(f"{self._well_group(well)}/{field}/labels")
            write_well_metadata(store, self._well_group(well), [str(f) for f in fields], self._ngff)
        meta = layout.metadata()
        meta.wells = [well for well in layout.wells if well in written]
        record = {"layout": layout.as_json(), "ngff": self._ngff, "state": "complete"}
        write_plate_metadata(
            store,
            str(self._out),
            meta,
            self._ngff,
            max(map(len, written.values()), default=0),
            {"platekit": {"writer": record}},
        )

    # -- helpers -----------------------------------------------------------------------------

    def _create(self, overwrite: bool) -> None:
        out = self._out
        record = {"layout": self._layout.as_json(), "ngff": self._ngff}
        if out.exists() and not out.is_dir():
            raise FileExistsError(f"{str(out)!r} is a file; give a folder name ending in .zarr")
        found = _record(out)
        if found is not None and not overwrite:
            if {key: found.get(key) for key in record} == record:
                return
            raise FileExistsError(
                f"{str(out)!r} holds a plate of another layout or NGFF version; choose another "
                "output, or pass overwrite=True to replace it"
            )
        metadata = {"zarr.json", ".zgroup", ".zattrs"}
        entries = {entry.name for entry in out.iterdir()} if out.is_dir() else set()
        entries = {name for name in entries if not name.startswith(".platekit-")}
        if entries and not (entries & metadata):
            raise FileExistsError(
                f"{str(out)!r} is a folder that is not a Zarr store; choose another output, "
                "or empty that folder yourself"
            )
        # A root group without attributes is what another writer making this plate leaves
        # between creating the group and recording the layout: taken as new.
        blank = entries <= metadata and not _root_attributes(out)
        if found is None and entries and not blank and not overwrite:
            raise FileExistsError(
                f"{str(out)!r} holds a Zarr store that no PlateWriter started; choose another "
                "output, or pass overwrite=True to replace it"
            )
        if overwrite and entries:
            self._store.delete(str(out), recursive=True)
        self._store.ensure_directory(str(out))
        self._store.set_attributes(
            str(out), {"platekit": {"writer": {**record, "state": "writing"}}}
        )

    def _well_group(self, well: str) -> str:
        return f"{self._out}/{well_path(well)}"

    def _field_group(self, well: str, field: int) -> str:
        name = normal_well(well)
        if name not in self._layout.wells:
            raise KeyError(
                f"well {name} is not in the plate's layout, whose wells are "
                f"{', '.join(self._layout.wells)}"
            )
        if (
            isinstance(field, bool)
            or not isinstance(field, int)
            or not (0 <= field < self._layout.fields)
        ):
            raise KeyError(
                f"field {field!r} is not in the plate's layout, whose fields are "
                f"0 to {self._layout.fields - 1}"
            )
        return f"{self._well_group(name)}/{field}"

    def _complete(self, group: str) -> bool:
        try:
            return "multiscales" in unwrap(self._ngff, self._store.attributes(group))
        except (FileNotFoundError, NotADirectoryError, KeyError):
            return False

    def _lost(self, group: str, what: str) -> FieldWrittenError:
        if self._complete(group):
            return FieldWrittenError(
                f"{what} in {str(self._out)!r} is already written; pass overwrite=True to "
                "replace it"
            )
        return FieldWrittenError(
            f"{what} in {str(self._out)!r} is being written by another writer, or was left by "
            "one that was stopped; pass overwrite=True to write it again when no other writer "
            "is at it"
        )

    def _list_labels(self, group: str) -> None:
        names = [name for name in self._store.list_dir(group) if self._complete(f"{group}/{name}")]
        self._store.set_attributes(group, labels_group_attributes(self._ngff, names))


def _root_attributes(out: Path) -> dict[str, Any]:
    """The attributes of the root group of ``out``, in either Zarr format; ``{}`` for none."""
    for ngff in ZARR_FORMAT:
        try:
            attributes = zarr_backend(ngff).attributes(str(out))
        except (FileNotFoundError, NotADirectoryError, ValueError, OSError):
            continue
        if attributes:
            return dict(attributes)
    return {}


def _record(out: Path) -> dict[str, Any] | None:
    """What a writer recorded in the root of ``out``, or ``None``."""
    record = _root_attributes(out).get("platekit", {}).get("writer")
    return record if isinstance(record, dict) else None


def _check(what: str, array: np.ndarray, shape: tuple[int, ...], dtype: str | None) -> None:
    """``ValueError`` naming both shapes (or dtypes) when ``array`` is not as declared."""
    if array.shape != tuple(shape) or (dtype is not None and str(array.dtype) != dtype):
        given = "x".join(map(str, array.shape)) or "scalar"
        declared = "x".join(map(str, shape))
        raise ValueError(
            f"{what} is {given} {array.dtype} where the plate's layout declares {declared}"
            + (f" {dtype}" if dtype else "")
            + " (t, c, z, y, x for images; t, z, y, x for labels); give an array of that shape"
            + (" and dtype" if dtype else "")
        )


def _windows(
    pixels: np.ndarray, channel_axis: int, layout: PlateLayout
) -> dict[int, tuple[float, float]]:
    """Each channel's (min, max) over the field's pixels, by channel number."""
    others = tuple(axis for axis in range(pixels.ndim) if axis != channel_axis)
    lows, highs = pixels.min(axis=others), pixels.max(axis=others)
    return {
        channel.id: (float(low), float(high))
        for channel, low, high in zip(layout.channels, lows, highs, strict=True)
    }


def _drop_single(array: np.ndarray, given: str, kept: list[str]) -> np.ndarray:
    """``array`` (axes ``given``) with the axes not in ``kept`` dropped: they are of size 1."""
    dropped = tuple(i for i, axis in enumerate(given) if axis not in kept)
    return array.squeeze(axis=dropped) if dropped else array


def _label_scales(meta: PlateMetadata, names: list[str], levels: int) -> list[list[float]]:
    pixel = meta.pixel_size_um if meta.pixel_size_um is not None else 1.0
    z_step = meta.z_step_um if meta.z_step_um is not None else 1.0
    scales = []
    for level in range(levels):
        factor = 2**level
        scale = {"t": 1.0, "z": float(z_step), "y": pixel * factor, "x": pixel * factor}
        scales.append([scale[axis] for axis in names])
    return scales
