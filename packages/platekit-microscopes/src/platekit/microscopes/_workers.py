"""Converting wells in several processes at once, with progress and cancel across them.

Workers are started with ``spawn``: zarr-python runs an event loop in a
thread, and a process forked while that thread holds a lock can hang. Each
worker converts whole wells and reports every plane on a queue, so the
parent keeps one progress count; a cancel in the parent reaches the workers
through a shared event they check between planes.
"""

from __future__ import annotations

import multiprocessing
import queue
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import Future
    from typing import Any

    from platekit.microscopes._convert import Flag, _Plan, _Tracker, _WellResult
    from platekit.microscopes._model import PlaneKey

# Set in each worker by _start_worker.
_reports: Any = None
_cancel: Any = None


def _start_worker(reports: Any, cancel: Any) -> None:
    global _reports, _cancel
    _reports, _cancel = reports, cancel


def _report(count: int) -> None:
    _reports.put(count)


def _convert_in_worker(plan: _Plan, well: str, planes: dict[PlaneKey, str]) -> _WellResult:
    from platekit.microscopes._well_writer import convert_well

    return convert_well(plan, well, planes, _report, _cancel)


def run_in_processes(
    plan: _Plan,
    wells: list[str],
    by_well: dict[str, dict[PlaneKey, str]],
    workers: int,
    tracker: _Tracker,
    cancel: Flag | None,
) -> list[_WellResult]:
    """Convert ``wells`` in ``workers`` processes; the first error stops the rest and is raised."""
    context = multiprocessing.get_context("spawn")
    reports = context.Queue()
    stop = context.Event()
    results: list[_WellResult] = []
    with ProcessPoolExecutor(
        max_workers=min(workers, len(wells)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(reports, stop),
    ) as pool:
        pending: set[Future[_WellResult]] = {
            pool.submit(_convert_in_worker, plan, well, by_well[well]) for well in wells
        }
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                _drain(reports, tracker)
                for future in finished:
                    results.append(future.result())
                    tracker.well()
                if cancel is not None and cancel.is_set():
                    stop.set()
        except BaseException:
            stop.set()
            for future in pending:
                future.cancel()
            raise
        finally:
            _drain(reports, tracker)
    return results


def _drain(reports: Any, tracker: _Tracker) -> None:
    while True:
        try:
            count = reports.get_nowait()
        except queue.Empty:
            return
        tracker.planes(count)
