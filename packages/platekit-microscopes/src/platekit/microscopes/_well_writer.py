"""Writing one well of a conversion: its fields' arrays plane by plane, then its metadata.

The arrays and the metadata are written by the steps a
:class:`~platekit.microscopes.PlateWriter` is made of (:mod:`._writer`),
so a converted plate and a written one are laid out alike.

Runs in the calling process or in a worker process alike; everything it
needs travels in the conversion's plan, and a :class:`WellTask` is that
work as an executor runs it.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from platekit.microscopes._absent import encode
from platekit.microscopes._errors import BadPlaneError
from platekit.microscopes._field_arrays import LevelWriters
from platekit.microscopes._model import PlaneKey
from platekit.microscopes._ngff import ZARR_FORMAT, well_path
from platekit.microscopes._plan import AbsentPlane, ConversionCancelled, _WellResult
from platekit.microscopes._read_ahead import read_ahead, thread_share
from platekit.microscopes._writer import write_image_metadata, write_well_metadata

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    import numpy as np

    from platekit.microscopes._model import PlateMetadata
    from platekit.microscopes._object_output import StoreURL
    from platekit.microscopes._plan import Flag, _Plan


def backend_for(ngff: str, out: str = "", storage_options: Any = None) -> Any:
    """The zarr backend writing the Zarr format of NGFF ``ngff`` (into object storage for a URL)."""
    from platekit.storage.backends.fsspec import is_url

    if is_url(out):
        from platekit.storage.backends.zarr_fsspec import FsspecZarrBackend

        return FsspecZarrBackend(ZARR_FORMAT[ngff], storage_options=storage_options)
    from platekit.storage.backends.zarr import ZarrBackend

    return ZarrBackend(zarr_format=ZARR_FORMAT[ngff])


def well_group(out: Path | StoreURL, well: str) -> str:
    return str(out / well_path(well))


@dataclass(frozen=True)
class WellTask:
    """One well of one plate to write: the unit of work an executor runs, picklable."""

    plan: _Plan
    well: str
    #: The well's planes present in the source, and where each is.
    planes: dict[PlaneKey, str]

    @property
    def holds(self) -> tuple[str, ...]:
        """The output folders whose lock a process holds while it may run this task."""
        return (self.plan.out,)

    def __call__(self, report: Callable[[int], None], cancel: Flag | None) -> _WellResult:
        """Write the well, calling ``report(n)`` as planes are written; see :func:`convert_well`."""
        return convert_well(self.plan, self.well, self.planes, report, cancel)


def convert_well(
    plan: _Plan,
    well: str,
    planes: dict[PlaneKey, str],
    report: Callable[[int], None],
    cancel: Flag | None,
) -> _WellResult:
    """Write one well: every field's arrays, then the field and well metadata (last)."""
    from platekit.microscopes._object_output import out_location

    backend = backend_for(plan.ngff, plan.out, plan.out_options)
    handler = _handler(plan)
    out = out_location(plan.out)
    group = well_group(out, well)
    if backend.exists(group):
        # Left half-written by an interrupted run: its fields are redone from scratch.
        backend.delete(group, recursive=True)
    backend.ensure_directory(group)
    meta = plan.meta
    absent: list[AbsentPlane] = []
    written = 0
    fields = []
    threads = thread_share()

    def read(entry: tuple[int, PlaneKey]) -> tuple[int, PlaneKey, _Read]:
        channel_index, key = entry
        return channel_index, key, _read(handler, plan, key, planes.get(key))

    # The next planes are read (on threads) while the current ones are encoded and written,
    # across the fields' ends too.
    with closing(read_ahead(_well_planes(meta, well), read, threads, threads + 1)) as reads:
        for field_index in range(len(meta.sites)):
            name = str(field_index)
            fields.append(name)
            field_group = f"{group}/{name}"
            backend.ensure_directory(field_group)
            windows: dict[int, tuple[float, float]] = {}
            dimension_names = plan.axes if plan.ngff == "0.5" else None
            with LevelWriters(
                backend, field_group, plan.level_shapes, plan.dtype, dimension_names
            ) as writers:
                for _ in range(len(meta.channels) * meta.z_count * meta.t_count):
                    if cancel is not None and cancel.is_set():
                        raise ConversionCancelled(
                            f"the conversion to {plan.out!r} was cancelled; run it again "
                            "to finish it"
                        )
                    channel_index, key, (pixels, low_high, missing) = next(reads)
                    if missing is not None:
                        absent.append(missing)
                    if pixels is not None:
                        # Each plane is read afresh and never changed: handed over, not copied.
                        writers.write(plan.index(key, channel_index), pixels, copy=False)
                        low, high = windows.get(key.channel, (float("inf"), float("-inf")))
                        windows[key.channel] = (min(low, low_high[0]), max(high, low_high[1]))
                        written += 1
                    report(1)
            write_image_metadata(
                backend, field_group, meta, plan.ngff, f"{well}/{name}", plan.levels, windows
            )
    extra = {"platekit": {"absent_planes": encode(absent, meta)}}
    write_well_metadata(backend, group, fields, plan.ngff, extra)
    return _WellResult(well, written, absent)


def _handler(plan: _Plan) -> Any:
    """A handler of the plate's class, found by module and name (it may be in no registry)."""
    import importlib

    module, qualname = plan.handler
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found()


def _well_planes(meta: PlateMetadata, well: str) -> Iterator[tuple[int, PlaneKey]]:
    """The well's planes in the order they are written: field, channel, z, t; with the
    channel's index."""
    for site in meta.sites:
        for channel_index, channel in enumerate(meta.channels):
            for z in range(1, meta.z_count + 1):
                for t in range(1, meta.t_count + 1):
                    yield channel_index, PlaneKey(well, site, channel, z, t)


#: A plane read: its pixels and their (min, max), or why it is written as absent.
_Read = tuple["np.ndarray | None", tuple[float, float], "AbsentPlane | None"]


def _read(handler: Any, plan: _Plan, key: PlaneKey, address: str | None) -> _Read:
    """The plane's pixels and their range, or ``None`` and the record of why it is absent."""
    if address is None:
        if key in plan.missing:
            return None, (0.0, 0.0), AbsentPlane(key, "missing from the source plate")
        return None, (0.0, 0.0), AbsentPlane(key, "not acquired", kind="not_acquired")
    # A handler that reads through storage gets the plate's source: local or in object storage.
    reads_source = plan.source is not None and handler.reads_source
    plate = plan.source if reads_source else Path(plan.plate)
    path = str(plate / address)
    try:
        pixels = handler.read_plane(plate, address)
        expected = plan.level_shapes[0][-2:]
        if pixels.shape != expected or str(pixels.dtype) != plan.dtype:
            raise BadPlaneError(
                path,
                f"holds a {pixels.shape[0]}x{pixels.shape[1]} {pixels.dtype} image where the "
                f"plate's other planes are {expected[0]}x{expected[1]} {plan.dtype}",
            )
    except (BadPlaneError, FileNotFoundError) as exc:
        if not plan.skip_bad_planes:
            if isinstance(exc, FileNotFoundError):
                raise BadPlaneError(path, "vanished while the plate was converted") from exc
            raise
        return None, (0.0, 0.0), AbsentPlane(key, str(exc), path, kind="bad")
    # The range is taken here, on the reading thread, beside the decoding.
    return pixels, (float(pixels.min()), float(pixels.max())), None
