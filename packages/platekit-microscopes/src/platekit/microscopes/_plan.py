"""What a conversion is to do and what it did: the plan, its outcome and its errors.

The bottom of the conversion's modules: the well writer, the output state,
the executors and the orchestration all build on these and nothing here
imports them. A :class:`_Plan` holds everything a worker needs to write a
well, and crosses process boundaries by pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from platekit.microscopes._errors import BadPlaneError, PlateError
from platekit.microscopes._model import PlaneKey

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    import numpy as np

    from platekit.microscopes._model import PlateMetadata
    from platekit.microscopes._object_output import StoreURL
    from platekit.microscopes._plate import Plate
    from platekit.microscopes._source import PlateSource

    class Flag(Protocol):
        def is_set(self) -> bool: ...


#: Bump when the layout of the output changes, so old partial outputs are not resumed.
_LAYOUT = 1


class ConversionCancelled(Exception):
    """The conversion was cancelled; the output stays resumable."""


class WorkerLostError(RuntimeError):
    """A worker of the conversion ended without finishing its wells."""


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
class ScreenResult:
    """What a conversion of many plates did: each plate's result, and the plates that failed."""

    #: The folder (or object-storage URL) holding one ``NAME.zarr`` per plate.
    out: Path | StoreURL
    #: The plates converted (or found complete), in the order given.
    converted: list[ConversionResult]
    #: Each plate that failed, as given, with why: the others were converted all the same.
    failed: dict[str, str]
    seconds: float
    #: Bytes of pixels this run wrote (absent planes count nothing).
    bytes_written: int = 0

    @property
    def planes_written(self) -> int:
        """Planes written by this run, over every plate."""
        return sum(result.planes_written for result in self.converted)


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
    #: Where the plate is and the read-only storage that reads it (a PlateSource), for
    #: workers to read planes through; its repr and pickle never show credentials' values.
    source: Any = None
    #: fsspec storage options of an output in object storage (credentials: never shown).
    out_options: Any = None

    def index(self, key: PlaneKey, channel_index: int) -> tuple[int, ...]:
        """Where the plane ``key`` goes in a field array."""
        position = {"t": key.timepoint - 1, "c": channel_index, "z": key.z_index - 1}
        return tuple(position[axis] for axis in self.axes[:-2])


@dataclass
class _WellResult:
    well: str
    planes_written: int
    absent: list[AbsentPlane]


# -- planning ------------------------------------------------------------------------------


def check_out(out: Path | StoreURL, source: Path | PlateSource) -> Path | StoreURL:
    from platekit.microscopes._overlap import refuse_overlap

    if not any(part.lower().endswith(".zarr") for part in out.parts[-1:]):
        stores = [part for part in out.parts[:-1] if part.lower().endswith(".zarr")]
        if stores:
            raise ValueError(
                f"the output {str(out)!r} is inside the Zarr store {stores[-1]!r}; a plate is a "
                "store of its own: give a folder whose name ends in .zarr outside any other"
            )
        if not out.parts or str(out) == ".":
            raise ValueError(
                "no output named: give the folder to write, whose name ends in .zarr "
                "(e.g. Plate1.zarr)"
            )
        raise ValueError(
            f"the output {str(out)!r} must be a folder whose name ends in .zarr, "
            f"e.g. {str(out) + '.zarr'!r}"
        )
    # A plate or an output in object storage holds no local folder the other could be in.
    if isinstance(source, Path) and isinstance(out, Path):
        refuse_overlap(source, out)
    elif not isinstance(source, Path) and not isinstance(out, Path):
        from platekit.microscopes._object_output import refuse_url_overlap

        refuse_url_overlap(str(source), out)
    return out


def planes_per_well(meta: PlateMetadata) -> int:
    return meta.site_count * len(meta.channels) * meta.z_count * meta.t_count


def make_plan(
    source: Plate, out: Path | StoreURL, ngff: str, levels: int, skip_bad_planes: bool
) -> _Plan:
    from platekit.microscopes._field_arrays import check_levels, level_plane_shape
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
    check_levels(levels, shape)
    names = [axis["name"] for axis in axes(meta)]
    sizes = {"t": meta.t_count, "c": len(meta.channels), "z": meta.z_count}
    outer = tuple(sizes[name] for name in names[:-2])
    level_shapes = [outer + level_plane_shape(shape, level) for level in range(levels)]
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
        source=source.source,
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


def identity(source: Plate, plan: _Plan) -> dict[str, Any]:
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
        # The record is UTF-8 JSON: a name's bytes that are not UTF-8 are kept as \xff escapes.
        "source": os.fsencode(str(source.path.resolve())).decode("utf-8", "backslashreplace"),
        "microscope": source.microscope,
        "fingerprint": digest,
        "ngff": plan.ngff,
        "levels": plan.levels,
    }
