"""Loaded by each worker of the LocalCluster the dask executor starts (a Dask preload).

Such a worker is a child of the run: it ends with the run's process, and
leaves Ctrl-C, which the terminal sends to the whole process group, to it.
"""

from __future__ import annotations

import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def dask_setup(worker: Any) -> None:
    """Called by Dask as the worker starts, in its main thread."""
    from platekit.microscopes._parent import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
