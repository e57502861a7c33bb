"""The ``processes`` executor: tasks in a pool of local processes, with progress and cancel.

With one worker, or one task, the tasks run in the calling process. Workers
are started with ``spawn``: zarr-python runs an event loop in a
thread, and a process forked while that thread holds a lock can hang. Each
worker converts whole wells and reports every plane on a queue, so the
parent keeps one progress count; a cancel in the parent reaches the workers
through a shared event they check between planes. Each of N workers on C cores
keeps its threads (zarr's, and the plane reads) to C // N, at least one, so
the workers side by side do not oversubscribe the cores.

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

from platekit.microscopes._executor import Executor, check_workers
from platekit.microscopes._plan import WorkerLostError
from platekit.microscopes._read_ahead import available_cores, set_thread_share

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from concurrent.futures import Future
    from typing import Any

    from platekit.microscopes._executor import Flag, Task

# Set in each worker by _start_worker.
_reports: Any = None
_cancel: Any = None

_UNGUARDED = (
    "convert(..., workers=N) ran again as a worker process started, because the script "
    'calls it at module level: put the call under if __name__ == "__main__": in that script'
)


def end_if_starting_worker() -> None:
    """End a worker process that is still starting and was asked to convert.

    A spawned worker imports the main script; one that converts at module
    level, without the ``__main__`` guard, would convert again in every
    worker. Say what to do in one line, in place of multiprocessing's
    traceback, and end the worker (``SystemExit``).
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SystemExit(f"platekit: {_UNGUARDED}")


def worker_threads(workers: int, cores: int) -> int:
    """The threads each of ``workers`` processes may keep busy on ``cores`` cores: its share."""
    return max(1, cores // workers)


def _start_worker(reports: Any, cancel: Any, holds: list[str], threads: int) -> None:
    global _reports, _cancel
    from platekit.microscopes._lock import hold_shared
    from platekit.microscopes._parent import die_with_parent

    die_with_parent()
    # Its share of the cores, so workers side by side do not oversubscribe them.
    set_thread_share(threads)
    # Ctrl-C reaches the whole process group; the parent alone decides what it means.
    # The worker started with it held back (see _interrupts_held): ignore, then let go.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    for folder in holds:
        hold_shared(folder)
    _reports, _cancel = reports, cancel


def _report(count: int) -> None:
    _reports.put(count)


def _run_in_worker(task: Task) -> Any:
    return task(_report, _cancel)


class ProcessesExecutor(Executor):
    """Tasks in ``workers`` local processes (the default executor); one worker: in this process.

    An interrupt (Ctrl-C) lets the workers stop between planes; a second one
    while they do kills them. Raises :class:`~platekit.microscopes._plan.WorkerLostError`
    when a worker process ends abruptly.
    """

    _executor_type = "processes"
    display_name = "processes on this machine (the default)"

    def __init__(self, *, workers: int = 1, scheduler: str | None = None) -> None:
        check_workers(workers)
        if scheduler is not None:
            raise ValueError(
                f"a scheduler ({scheduler!r}) is for the dask executor; pass executor='dask' "
                "(--executor dask) with it, or leave it out"
            )
        self.workers = workers

    def run(
        self,
        tasks: Sequence[Task],
        done: Callable[[int, Any, BaseException | None], None],
        report: Callable[[int], None],
        cancel: Flag | None,
    ) -> None:
        if not tasks:
            return
        if self.workers == 1 or len(tasks) == 1:
            for index, task in enumerate(tasks):
                try:
                    result = task(report, cancel)
                except Exception as exc:
                    done(index, None, exc)
                else:
                    done(index, result, None)
            return
        _run_in_pool(tasks, min(self.workers, len(tasks)), done, report, cancel)


def _run_in_pool(
    tasks: Sequence[Task],
    workers: int,
    done: Callable[[int, Any, BaseException | None], None],
    report: Callable[[int], None],
    cancel: Flag | None,
) -> None:
    context = multiprocessing.get_context("spawn")
    reports = context.Queue()
    stop = context.Event()
    holds = sorted({folder for task in tasks for folder in task.holds})
    threads = worker_threads(workers, available_cores())
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(reports, stop, holds, threads),
    )
    try:
        with _interrupts_held():
            index_of: dict[Future[Any], int] = {
                pool.submit(_run_in_worker, task): index for index, task in enumerate(tasks)
            }
        pending = set(index_of)
        while pending:
            finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain(reports, report)
            for future in finished:
                error = _error(future)
                done(index_of[future], None if error else future.result(), error)
            if cancel is not None and cancel.is_set():
                stop.set()
    except BaseException:
        stop.set()
        _wind_down(pool, reports, report)
        raise
    finally:
        _drain(reports, report)
    pool.shutdown()


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


def _error(future: Future[Any]) -> BaseException | None:
    """What the task raised, or ``None``; a lost worker ends the whole run instead."""
    error = future.exception()
    if isinstance(error, BrokenProcessPool):
        raise WorkerLostError(
            "a worker process of the conversion ended abruptly (killed, or out of memory); "
            "run the conversion again to finish it. If a script calls convert(..., workers=N), "
            'the call must be under if __name__ == "__main__":'
        ) from None
    return error


def _wind_down(pool: ProcessPoolExecutor, reports: Any, report: Callable[[int], None]) -> None:
    """Wait for the workers to stop between planes; a second interrupt kills them instead."""
    # The pool keeps its processes private, and killing them is the only way to end at once.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    try:
        for process in processes:
            while process.is_alive():
                # A worker cannot end while its reports fill the pipe: keep reading them.
                _drain(reports, report)
                process.join(0.05)
    except BaseException:
        for process in processes:
            process.kill()
        raise


def _drain(reports: Any, report: Callable[[int], None]) -> None:
    while True:
        try:
            count = reports.get_nowait()
        except queue.Empty:
            return
        report(count)
