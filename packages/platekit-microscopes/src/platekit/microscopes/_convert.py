"""Converting a plate to an OME-Zarr HCS plate: planned here, well by well, resumable.

The output is written through platekit-storage's zarr backend, which
publishes every array atomically. A well is complete once its ``well``
metadata is written, and that is written last, after all its fields; the
plate's own metadata is written when every well is complete. So a
conversion killed at any moment leaves complete wells, at most one
half-written well, and no plate metadata; run again with the same
arguments, it redoes the half-written well and converts the rest.

The root group's ``platekit.conversion`` attribute records what is being
converted (the source plate, its structure, the options); a different
plate or other options into the same output are refused unless
``overwrite=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from platekit.microscopes._errors import BadPlaneError, PlateError
from platekit.microscopes._model import PlaneKey
from platekit.microscopes._ngff import (
    check_version,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    import numpy as np

    from platekit.microscopes._model import PlateMetadata
    from platekit.microscopes._plate import Plate

    class Flag(Protocol):
        def is_set(self) -> bool: ...


#: Bump when the layout of the output changes, so old partial outputs are not resumed.
_LAYOUT = 1


class ConversionCancelled(Exception):
    """The conversion was cancelled; the output stays resumable."""


class OutputNotWritableError(PermissionError):
    """The output folder cannot be written; what it holds is kept as it was."""


@dataclass
class Progress:
    """How far a conversion has come; given to the ``progress`` callback as it goes."""

    done: int
    total: int
    wells_done: int
    wells_total: int
    elapsed: float
    bytes_done: int = 0
    #: Planes of wells an earlier run completed, counted in ``done`` from the start.
    done_before: int = 0

    @property
    def rate(self) -> float:
        """Planes per second written by this run (an earlier run's planes do not count)."""
        return (self.done - self.done_before) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at this run's rate, or ``None`` before this run has written a plane."""
        rate = self.rate
        if rate <= 0:
            return None
        return (self.total - self.done) / rate


@dataclass
class AbsentPlane:
    """A plane written as absent (zeros), and why.

    ``kind`` is ``"missing"`` (the source's metadata lists it, its folder
    lacks it), ``"not_acquired"`` (the plate has no such plane, e.g. a 2-D
    channel in a z-stack, or a well with fewer fields than the others: the
    array still needs a value there) or ``"bad"`` (its file could not be
    used, skipped with ``skip_bad_planes``; ``path`` names it).
    """

    plane: PlaneKey
    reason: str
    path: str | None = None
    kind: str = "missing"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "well": self.plane.well,
            "site": self.plane.site,
            "channel": self.plane.channel,
            "z_index": self.plane.z_index,
            "timepoint": self.plane.timepoint,
            "reason": self.reason,
            "path": self.path,
        }


@dataclass
class ConversionResult:
    """What a conversion did."""

    out: Path
    ngff: str
    microscope: str
    wells_total: int
    #: Wells converted by this call (the others were complete already).
    wells_converted: int
    planes_total: int
    planes_written: int
    seconds: float
    #: True when the output was complete before this call, which then did nothing.
    already_complete: bool = False
    absent: list[AbsentPlane] = field(default_factory=list)

    @property
    def missing(self) -> list[AbsentPlane]:
        """Planes the source's metadata lists but its folder lacks."""
        return [a for a in self.absent if a.kind == "missing"]

    @property
    def not_acquired(self) -> list[AbsentPlane]:
        """Places in the arrays the plate has no plane for (a 2-D channel in a z-stack)."""
        return [a for a in self.absent if a.kind == "not_acquired"]

    @property
    def bad(self) -> list[AbsentPlane]:
        """Planes whose files could not be used, skipped with ``skip_bad_planes``."""
        return [a for a in self.absent if a.kind == "bad"]


@dataclass
class _Plan:
    """Everything a worker needs to convert wells: picklable, sent to each process."""

    plate: str
    microscope: str
    out: str
    ngff: str
    levels: int
    meta: PlateMetadata
    axes: list[str]
    level_shapes: list[tuple[int, ...]]
    dtype: str
    skip_bad_planes: bool
    #: The handler class as (module, qualified name), so a worker process finds it
    #: even when it is not announced through an entry point.
    handler: tuple[str, str]
    #: Planes the source's metadata lists but its folder lacks.
    missing: frozenset[PlaneKey]

    def index(self, key: PlaneKey, channel_index: int) -> tuple[int, ...]:
        """Where the plane ``key`` goes in a field array."""
        position = {"t": key.timepoint - 1, "c": channel_index, "z": key.z_index - 1}
        return tuple(position[axis] for axis in self.axes[:-2])


@dataclass
class _WellResult:
    well: str
    planes_written: int
    absent: list[AbsentPlane]


def convert(
    plate: str | os.PathLike[str] | Plate,
    out: str | os.PathLike[str],
    *,
    microscope: str = "auto",
    ngff: str = "0.5",
    levels: int = 1,
    workers: int = 1,
    overwrite: bool = False,
    skip_bad_planes: bool = False,
    progress: Callable[[Progress], None] | None = None,
    cancel: Flag | None = None,
) -> ConversionResult:
    """Convert the plate in folder ``plate`` to the OME-Zarr HCS plate ``out`` (a ``.zarr`` path).

    ``ngff`` is ``"0.5"`` (Zarr v3) or ``"0.4"`` (Zarr v2); ``levels`` the
    number of resolution levels, each 2x smaller in y and x; ``workers``
    the number of processes, each converting whole wells. ``progress`` is
    called with a :class:`Progress` as planes are written; ``cancel``
    (anything with ``is_set()``, e.g. a ``threading.Event``) stops the
    conversion between planes, raising :class:`ConversionCancelled` and
    leaving the output resumable.

    Running again with the same arguments after an interruption converts
    only the wells not yet complete; running it on a complete output does
    nothing (``already_complete``). The source plate is only read.

    Raises ``FileExistsError`` when ``out`` holds another conversion or
    something else, unless ``overwrite=True`` (which replaces a Zarr store,
    never another kind of folder), and when another conversion is writing
    into ``out``; ``PermissionError`` when ``out`` cannot be written;
    :class:`~platekit.microscopes.BadPlaneError` naming the file for an
    unreadable, truncated or mismatched plane, unless ``skip_bad_planes=True``
    (then such planes are written as absent and listed in the result);
    ``ValueError`` for bad options, among them an output inside the source
    or holding it; :class:`~platekit.microscopes.PlateError` for a plate
    without planes; and what :func:`~platekit.microscopes.open_plate` raises
    for the source.
    """
    from platekit.microscopes._output import backend_for, prepare_output
    from platekit.microscopes._plate import Plate, open_plate
    from platekit.microscopes._workers import end_if_starting_worker

    end_if_starting_worker()
    started = time.perf_counter()
    check_version(ngff)
    if not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be a whole number of at least 1, got {levels!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, got {workers!r}")
    source = plate if isinstance(plate, Plate) else open_plate(plate, microscope)
    out_path = _check_out(Path(out), source.path)
    plan = _plan(source, out_path, ngff, levels, skip_bad_planes)
    backend = backend_for(ngff)
    identity = _identity(source, plan)

    try:
        state, lock = prepare_output(backend, out_path, identity, overwrite)
        try:
            return _convert_locked(
                source, plan, backend, identity, state, workers, progress, cancel, started
            )
        finally:
            lock.release()
    except PermissionError as exc:
        where = f" ({exc.filename})" if exc.filename not in (None, str(out_path)) else ""
        raise OutputNotWritableError(
            f"cannot write into the output {str(out_path)!r}: {exc.strerror or exc}{where}; "
            "make that folder writable, or choose another output"
        ) from exc


def _convert_locked(
    source: Plate,
    plan: _Plan,
    backend: Any,
    identity: dict[str, Any],
    state: str,
    workers: int,
    progress: Callable[[Progress], None] | None,
    cancel: Flag | None,
    started: float,
) -> ConversionResult:
    from platekit.microscopes._output import finish, recorded_absent, well_complete

    out_path, ngff = Path(plan.out), plan.ngff
    meta = source.metadata
    planes_per_well = _planes_per_well(meta)
    if state == "complete":
        return ConversionResult(
            out=out_path,
            ngff=ngff,
            microscope=source.microscope,
            wells_total=len(meta.wells),
            wells_converted=0,
            planes_total=planes_per_well * len(meta.wells),
            planes_written=0,
            seconds=time.perf_counter() - started,
            already_complete=True,
            absent=recorded_absent(backend, out_path, meta.wells),
        )

    if state == "resume":
        # A run killed while it made a group or rewrote metadata leaves a staging
        # file next to it, which a complete well would otherwise keep for good.
        # Safe: the output's lock keeps every other writer out.
        backend.remove_leftovers(str(out_path))
    done_wells = {well for well in meta.wells if well_complete(backend, out_path, well, ngff)}
    todo = [well for well in meta.wells if well not in done_wells]
    by_well: dict[str, dict[PlaneKey, str]] = {well: {} for well in todo}
    for key, address in source.planes():
        if key.well in by_well:
            by_well[key.well][key] = address

    total = planes_per_well * len(meta.wells)
    tracker = _Tracker(
        total,
        len(meta.wells),
        planes_per_well * len(done_wells),
        len(done_wells),
        progress,
        started,
        plan,
    )
    results = _run(plan, todo, by_well, workers, tracker, cancel)

    absent = [a for result in results for a in result.absent]
    absent += recorded_absent(backend, out_path, done_wells)
    absent.sort(key=lambda a: a.plane)
    finish(backend, out_path, plan, identity, absent)
    return ConversionResult(
        out=out_path,
        ngff=ngff,
        microscope=source.microscope,
        wells_total=len(meta.wells),
        wells_converted=len(todo),
        planes_total=total,
        planes_written=sum(r.planes_written for r in results),
        seconds=time.perf_counter() - started,
        absent=absent,
    )


# -- planning ------------------------------------------------------------------------------


def _check_out(out: Path, source: Path) -> Path:
    from platekit.microscopes._overlap import refuse_overlap

    if not any(part.lower().endswith(".zarr") for part in out.parts[-1:]):
        raise ValueError(
            f"the output {str(out)!r} must be a folder whose name ends in .zarr, "
            f"e.g. {str(out) + '.zarr'!r}"
        )
    refuse_overlap(source, out)
    return out


def _planes_per_well(meta: PlateMetadata) -> int:
    return meta.site_count * len(meta.channels) * meta.z_count * meta.t_count


def _plan(source: Plate, out: Path, ngff: str, levels: int, skip_bad_planes: bool) -> _Plan:
    from platekit.microscopes._ngff import axes

    meta = source.metadata
    if not meta.wells or not meta.channels or not meta.sites:
        raise PlateError(
            f"the plate {str(source.path)!r} has no planes to convert "
            f"({len(meta.wells)} wells, {meta.site_count} sites, {len(meta.channels)} channels)"
        )
    if next(source.planes(), None) is None:
        listed = len(source.missing())
        raise PlateError(
            f"the plate {str(source.path)!r} has no image to convert: its metadata lists "
            f"{listed} planes but none of their images is there; copy the images along with "
            "the metadata, or convert the folder that holds them"
        )
    shape, dtype = meta.image_shape, meta.dtype
    if shape is None or dtype is None:
        first = _first_readable(source, skip_bad_planes)
        shape, dtype = (int(first.shape[0]), int(first.shape[1])), str(first.dtype)
        meta.image_shape, meta.dtype = shape, dtype
    names = [axis["name"] for axis in axes(meta)]
    sizes = {"t": meta.t_count, "c": len(meta.channels), "z": meta.z_count}
    outer = tuple(sizes[name] for name in names[:-2])
    level_shapes = [outer + _level_plane_shape(shape, level) for level in range(levels)]
    return _Plan(
        plate=str(source.path),
        microscope=source.microscope,
        out=str(out),
        ngff=ngff,
        levels=levels,
        meta=meta,
        axes=names,
        level_shapes=level_shapes,
        dtype=dtype,
        skip_bad_planes=skip_bad_planes,
        handler=(type(source.handler).__module__, type(source.handler).__qualname__),
        missing=frozenset(source.missing()),
    )


def _first_readable(source: Plate, skip_bad_planes: bool) -> np.ndarray:
    """The first plane that can be read, which gives the shape and dtype the others must have."""
    for key, _ in source.planes():
        try:
            return source.read_plane(key)
        except (BadPlaneError, FileNotFoundError):
            if not skip_bad_planes:
                raise
    raise ValueError(f"the plate {str(source.path)!r} has no readable image to convert")


def _level_plane_shape(shape: tuple[int, int], level: int) -> tuple[int, int]:
    height, width = shape
    for _ in range(level):
        height, width = (height + 1) // 2, (width + 1) // 2
    return height, width


def _identity(source: Plate, plan: _Plan) -> dict[str, Any]:
    """What this conversion is of: compared with a partial output's before resuming it."""
    meta = source.metadata
    structure = {
        "layout": _LAYOUT,
        "microscope": source.microscope,
        "name": meta.name,
        "wells": meta.wells,
        "sites": meta.sites,
        "channels": {str(k): c.name for k, c in meta.channels.items()},
        "z": meta.z_count,
        "t": meta.t_count,
        "shape": list(plan.level_shapes[0]),
        "dtype": plan.dtype,
        "planes": [[str(k), a] for k, a in source.planes()],
    }
    digest = hashlib.sha256(json.dumps(structure, sort_keys=True).encode()).hexdigest()
    return {
        "source": str(source.path.resolve()),
        "microscope": source.microscope,
        "fingerprint": digest,
        "ngff": plan.ngff,
        "levels": plan.levels,
    }


# -- running -------------------------------------------------------------------------------


class _Tracker:
    """Counts planes as they are written and calls the progress callback."""

    def __init__(
        self,
        total: int,
        wells_total: int,
        done: int,
        wells_done: int,
        callback: Callable[[Progress], None] | None,
        started: float,
        plan: _Plan,
    ) -> None:
        import numpy as np

        self.total, self.wells_total = total, wells_total
        self.done, self.wells_done = done, wells_done
        self._skipped = done
        self._callback = callback
        self._started = started
        plane = plan.level_shapes[0][-2:]
        self._plane_bytes = int(plane[0] * plane[1] * np.dtype(plan.dtype).itemsize)
        self._last = 0.0
        if callback is not None:
            callback(self._progress())

    def _progress(self) -> Progress:
        return Progress(
            done=self.done,
            total=self.total,
            wells_done=self.wells_done,
            wells_total=self.wells_total,
            elapsed=time.perf_counter() - self._started,
            bytes_done=(self.done - self._skipped) * self._plane_bytes,
            done_before=self._skipped,
        )

    def planes(self, count: int) -> None:
        self.done += count
        now = time.perf_counter()
        # At most 20 calls a second, whatever the plane rate.
        if self._callback is not None and now - self._last >= 0.05:
            self._last = now
            self._callback(self._progress())

    def well(self) -> None:
        self.wells_done += 1
        if self._callback is not None:
            self._callback(self._progress())


def _run(
    plan: _Plan,
    wells: list[str],
    by_well: dict[str, dict[PlaneKey, str]],
    workers: int,
    tracker: _Tracker,
    cancel: Flag | None,
) -> list[_WellResult]:
    if not wells:
        return []
    if workers == 1 or len(wells) == 1:
        from platekit.microscopes._well_writer import convert_well

        results = []
        for well in wells:
            results.append(convert_well(plan, well, by_well[well], tracker.planes, cancel))
            tracker.well()
        return results
    from platekit.microscopes._workers import run_in_processes

    return run_in_processes(plan, wells, by_well, workers, tracker, cancel)
