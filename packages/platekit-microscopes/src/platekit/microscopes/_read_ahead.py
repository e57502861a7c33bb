"""Reading planes ahead of writing them, on a few threads, within a worker's share of the cores.

TIFF decoding (imagecodecs, tifffile) and the zarr codecs release the GIL, so a
worker that reads the next planes on threads while its current field is
compressed and written keeps busy instead of doing each step in turn.
"""

from __future__ import annotations

import itertools
import os
from collections import deque

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable
    from concurrent.futures import Future
    from typing import TypeVar

    Item = TypeVar("Item")
    Result = TypeVar("Result")


def thread_share() -> int:
    """The threads a worker may keep busy: its share of this machine's cores, at least 1.

    That is zarr-python's ``threading.max_workers`` when the executor set it
    for its workers (their share of the cores), else every core this process
    may run on.
    """
    import zarr

    configured = zarr.config.get("threading.max_workers")
    if configured:
        return max(1, int(configured))
    return available_cores()


def set_thread_share(threads: int) -> None:
    """Keep this process's threads (zarr-python's pool, and the plane reads that follow
    :func:`thread_share`) to ``threads``: an executor's worker's share of the cores."""
    import zarr

    zarr.config.set({"threading.max_workers": threads})


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def read_ahead(
    items: Iterable[Item], read: Callable[[Item], Result], threads: int, ahead: int
) -> Generator[Result, None, None]:
    """``read(item)`` for each item, in order, run on ``threads`` threads up to ``ahead`` early.

    A read's exception is raised when its turn comes. Memory holds at most
    ``ahead + 1`` results. Closing the iterator (a cancel, or an error in the
    caller) drops the reads not started and waits for the running ones, so
    no thread outlives it.
    """
    from concurrent.futures import ThreadPoolExecutor

    remaining = iter(items)
    pending: deque[Future[Result]] = deque()
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="platekit-read") as pool:
        try:
            for item in itertools.islice(remaining, ahead + 1):
                pending.append(pool.submit(read, item))
            while pending:
                result = pending.popleft().result()
                # The next read starts before this result is handed on to be written.
                for item in itertools.islice(remaining, 1):
                    pending.append(pool.submit(read, item))
                yield result
        finally:
            for future in pending:
                future.cancel()
