"""One run of a conversion: the plates' outputs prepared, their wells as one set of tasks.

Every plate of the run is a :class:`_Job`: its output locked and its state
read, its unfinished wells made into tasks. The tasks of all plates go to
one executor, plate after plate; a plate's metadata is written as soon as
its last well is, and a plate whose well fails is set aside while the
others go on, unless the run stops at the first error (one plate).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from platekit.microscopes._output import finish, prepare_output, recorded_absent, well_complete
from platekit.microscopes._plan import (
    ConversionCancelled,
    ConversionResult,
    Progress,
    planes_per_well,
)
from platekit.microscopes._well_writer import WellTask, backend_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from platekit.microscopes._executor import Executor
    from platekit.microscopes._lock import OutputLock
    from platekit.microscopes._model import PlaneKey
    from platekit.microscopes._plan import Flag, _Plan, _WellResult
    from platekit.microscopes._plate import Plate


@dataclass
class _Job:
    """One plate of a run and its output."""

    source: Plate
    plan: _Plan
    identity: dict[str, Any]
    backend: Any = None
    state: str = ""
    lock: OutputLock | None = None
    done_wells: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)
    results: list[_WellResult] = field(default_factory=list)
    left: int = 0
    error: BaseException | None = None
    result: ConversionResult | None = None

    @property
    def out(self) -> Path:
        from platekit.microscopes._object_output import out_location

        return out_location(self.plan.out)  # type: ignore[return-value]

    @property
    def plane_bytes(self) -> int:
        import numpy as np

        height, width = self.plan.level_shapes[0][-2:]
        return int(height * width * np.dtype(self.plan.dtype).itemsize)

    def prepare(self, overwrite: bool) -> None:
        """Lock the output and find the wells left to convert."""
        self.backend = backend_for(self.plan.ngff, self.plan.out, self.plan.out_options)
        self.state, self.lock = prepare_output(self.backend, self.out, self.identity, overwrite)
        wells = self.plan.meta.wells
        if self.state == "complete":
            self.done_wells = list(wells)
            return
        if self.state == "resume":
            # A run killed while it made a group or rewrote metadata leaves a staging
            # file next to it, which a complete well would otherwise keep for good.
            # Safe: the output's lock keeps every other writer out.
            self.backend.remove_leftovers(str(self.out))
        ngff = self.plan.ngff
        # A new output holds no well yet: asking after each one is a request per well for nothing.
        self.done_wells = (
            []
            if self.state == "new"
            else [w for w in wells if well_complete(self.backend, self.out, w, ngff)]
        )
        done = set(self.done_wells)
        self.todo = [well for well in wells if well not in done]

    def tasks(self) -> list[WellTask]:
        by_well: dict[str, dict[PlaneKey, str]] = {well: {} for well in self.todo}
        for key, address in self.source.planes():
            if key.well in by_well:
                by_well[key.well][key] = address
        self.left = len(self.todo)
        return [WellTask(_well_plan(self.plan, well), well, by_well[well]) for well in self.todo]

    def finish(self, started: float) -> None:
        """Write the plate's metadata (unless it was complete) and make its result."""
        meta = self.plan.meta
        complete = self.state == "complete"
        absent = [a for result in self.results for a in result.absent]
        absent += recorded_absent(self.backend, self.out, self.done_wells)
        absent.sort(key=lambda a: a.plane)
        if not complete:
            # An object store's lock is advisory: the run checks it still holds it.
            if self.lock is not None:
                self.lock.verify()
            finish(self.backend, self.out, self.plan, self.identity, absent)
        self.result = ConversionResult(
            out=self.out,
            ngff=self.plan.ngff,
            microscope=self.source.microscope,
            wells_total=len(meta.wells),
            wells_converted=len(self.todo),
            planes_total=planes_per_well(meta) * len(meta.wells),
            planes_written=sum(r.planes_written for r in self.results),
            seconds=time.perf_counter() - started,
            already_complete=complete,
            absent=absent,
        )
        self.release()

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def _well_plan(plan: _Plan, well: str) -> _Plan:
    """The plan as the task of ``well`` needs it: the plate's per-plane data of that well only.

    A task crosses to its worker whole; with every plane's stage position a
    384-well plate's plan is megabytes, and one well's is kilobytes.
    """
    meta = plan.meta
    positions = {key: at for key, at in meta.positions.items() if key.well == well}
    missing = frozenset(key for key in plan.missing if key.well == well)
    return replace(plan, meta=replace(meta, positions=positions), missing=missing)


def run_jobs(
    jobs: list[_Job],
    executor: Executor,
    *,
    stop_on_error: bool,
    progress: Callable[[Progress], None] | None,
    cancel: Flag | None,
    started: float,
) -> None:
    """Convert the prepared ``jobs``' wells on ``executor``; each job ends with a result or error.

    With ``stop_on_error`` the first error of a well is raised and the other
    tasks stopped; otherwise it becomes its plate's ``error``. A cancel
    raises :class:`ConversionCancelled` either way.
    """
    owners: list[_Job] = []
    tasks: list[WellTask] = []
    for job in jobs:
        if job.state == "complete":
            job.finish(started)
            continue
        job_tasks = job.tasks()
        owners += [job] * len(job_tasks)
        tasks += job_tasks
        if not job_tasks:
            job.finish(started)
    tracker = _Tracker(jobs, progress, started)

    def done(index: int, result: Any, error: BaseException | None) -> None:
        job = owners[index]
        job.left -= 1
        if error is not None:
            if stop_on_error or isinstance(error, ConversionCancelled):
                raise error
            job.error = job.error or error
        elif job.error is None:
            job.results.append(result)
            tracker.well()
        if job.left == 0 and job.error is None:
            try:
                job.finish(started)
            except (OSError, ValueError) as exc:
                if stop_on_error:
                    raise
                job.error = exc

    executor.run(tasks, done, tracker.planes, cancel)


class _Tracker:
    """Counts planes as they are written, over every plate, and calls the progress callback."""

    def __init__(
        self, jobs: list[_Job], callback: Callable[[Progress], None] | None, started: float
    ) -> None:
        counted = [job for job in jobs if job.state]
        self.total = sum(planes_per_well(j.plan.meta) * len(j.plan.meta.wells) for j in counted)
        self.wells_total = sum(len(job.plan.meta.wells) for job in counted)
        self.wells_done = sum(len(job.done_wells) for job in counted)
        self.done = sum(planes_per_well(j.plan.meta) * len(j.done_wells) for j in counted)
        self._skipped = self.done
        # Bytes by the planes' mean size: exact when the plates' images are alike, as in a screen.
        left = [(planes_per_well(j.plan.meta) * len(j.todo), j.plane_bytes) for j in counted]
        planes = sum(count for count, _ in left)
        self._plane_bytes = sum(c * b for c, b in left) / planes if planes else 0.0
        self._callback = callback
        self._started = started
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
            bytes_done=round((self.done - self._skipped) * self._plane_bytes),
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
