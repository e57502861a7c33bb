"""Converting wells in several processes at once, with progress and cancel across them.

Workers are started with ``spawn``: zarr-python runs an event loop in a
thread, and a process forked while that thread holds a lock can hang. Each
worker converts whole wells and reports every plane on a queue, so the
parent keeps one progress count; a cancel in the parent reaches the workers
through a shared event they check between planes.

A worker ends with its parent (:mod:`._parent`) and holds the output's lock
for as long as it lives (:mod:`._lock`), so no worker outlives its run
unseen. Ctrl-C is for the parent alone: the first lets the workers stop
between planes, a second kills them; either way the output stays resumable.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from concurrent.futures import Future
    from typing import Any

    from platekit.microscopes._convert import Flag, _Plan, _Tracker, _WellResult
    from platekit.microscopes._model import PlaneKey

# Set in each worker by _start_worker.
_reports: Any = None
_cancel: Any = None

_UNGUARDED = (
    "convert(..., workers=N) ran again as a worker process started, because the script "
    'calls it at module level: put the call under if __name__ == "__main__": in that script'
)


class WorkerLostError(RuntimeError):
    """A worker process of the conversion ended without finishing its wells."""


def end_if_starting_worker() -> None:
    """End a worker process that is still starting and was asked to convert.

    A spawned worker imports the main script; one that converts at module
    level, without the ``__main__`` guard, would convert again in every
    worker. Say what to do in one line, in place of multiprocessing's
    traceback, and end the worker (``SystemExit``).
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SystemExit(f"platekit: {_UNGUARDED}")


def _start_worker(reports: Any, cancel: Any, out: str) -> None:
    global _reports, _cancel
    from platekit.microscopes._lock import hold_shared
    from platekit.microscopes._parent import die_with_parent

    die_with_parent()
    # Ctrl-C reaches the whole process group; the parent alone decides what it means.
    # The worker started with it held back (see _interrupts_held): ignore, then let go.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    hold_shared(out)
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
    """Convert ``wells`` in ``workers`` processes; the first error stops the rest and is raised.

    An interrupt (Ctrl-C) lets the workers stop between planes; a second one
    while they do kills them. Raises :class:`WorkerLostError` when a worker
    process ends abruptly.
    """
    context = multiprocessing.get_context("spawn")
    reports = context.Queue()
    stop = context.Event()
    results: list[_WellResult] = []
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(wells)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(reports, stop, plan.out),
    )
    try:
        with _interrupts_held():
            pending: set[Future[_WellResult]] = {
                pool.submit(_convert_in_worker, plan, well, by_well[well]) for well in wells
            }
        while pending:
            finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain(reports, tracker)
            for future in finished:
                results.append(_result(future))
                tracker.well()
            if cancel is not None and cancel.is_set():
                stop.set()
    except BaseException:
        stop.set()
        _wind_down(pool, reports, tracker)
        raise
    finally:
        _drain(reports, tracker)
    pool.shutdown()
    return results


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C back while the pool starts its processes, which inherit the held mask.

    So a worker never dies of a Ctrl-C before it ignores it, and the parent
    gets its Ctrl-C as soon as the processes are started.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _result(future: Future[_WellResult]) -> _WellResult:
    try:
        return future.result()
    except BrokenProcessPool:
        raise WorkerLostError(
            "a worker process of the conversion ended abruptly (killed, or out of memory); "
            "run the conversion again to finish it. If a script calls convert(..., workers=N), "
            'the call must be under if __name__ == "__main__":'
        ) from None


def _wind_down(pool: ProcessPoolExecutor, reports: Any, tracker: _Tracker) -> None:
    """Wait for the workers to stop between planes; a second interrupt kills them instead."""
    # The pool keeps its processes private, and killing them is the only way to end at once.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    try:
        for process in processes:
            while process.is_alive():
                # A worker cannot end while its reports fill the pipe: keep reading them.
                _drain(reports, tracker)
                process.join(0.05)
    except BaseException:
        for process in processes:
            process.kill()
        raise


def _drain(reports: Any, tracker: _Tracker) -> None:
    while True:
        try:
            count = reports.get_nowait()
        except queue.Empty:
            return
        tracker.planes(count)
