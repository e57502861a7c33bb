"""What a Dask worker needs before it converts: its preload, and thread pools sized to it.

Loaded by each worker of the LocalCluster the dask executor starts (a Dask
preload): such a worker is a child of the run, ends with the run's process,
and leaves Ctrl-C, which the terminal sends to the whole process group, to
it.

Dask's model is that a worker of ``nthreads`` threads uses ``nthreads``
cores (its nanny sets ``OMP_NUM_THREADS=1`` and the like for the same
reason). zarr-python encodes and writes chunks on a thread pool of its own,
by default as large as the machine allows, so a one-thread worker would take
more than its core and its neighbours' share: :func:`match_threads` sizes
that pool to the worker's threads, once per process, in the preload and, on
a cluster platekit did not start, at a task's start.
"""

from __future__ import annotations

import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: The threads zarr-python's pool was sized to in this process, once it has been.
_matched: int | None = None


def match_threads(nthreads: int) -> None:
    """Size zarr-python's thread pool to ``nthreads``, the first time it is called in a process.

    zarr's ``async.concurrency`` (how many chunks one call has in flight) is
    left as it is: it bounds waiting on storage, which costs no core, and an
    object store needs it.
    """
    global _matched
    if _matched is not None:
        return
    from platekit.microscopes._read_ahead import set_thread_share

    set_thread_share(nthreads)
    _matched = nthreads


def dask_setup(worker: Any) -> None:
    """Called by Dask as the worker starts, in its main thread."""
    from platekit.microscopes._parent import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    match_threads(worker.state.nthreads)
