"""Ending a worker process when the process that started it is gone.

A worker whose parent was killed would otherwise go on writing into an
output that nobody watches any more, and that a new run may be resuming.
On Linux the kernel sends the worker SIGKILL the moment its parent ends;
everywhere, a watcher thread notices a new parent within half a second.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

#: prctl's option asking for a signal when the parent ends (linux/prctl.h).
_PR_SET_PDEATHSIG = 1

#: How often the watcher thread looks at the parent, in seconds.
_INTERVAL = 0.5


def die_with_parent() -> None:
    """Make the calling process end when its parent process ends.

    Call it first thing in a worker process (a pool's initializer, say). On
    Linux the process is killed as its parent ends; elsewhere, and should
    that request fail, a daemon thread ends it with ``os._exit`` within
    half a second of the parent's end. Raises nothing.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        _ask_kernel()
    # The parent may have ended before the kernel was asked.
    if os.getppid() != parent:
        os._exit(1)
    watcher = threading.Thread(
        target=_watch, args=(parent,), name="platekit-parent-watch", daemon=True
    )
    watcher.start()


def _ask_kernel() -> None:
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        # Without prctl the watcher thread alone does the work.
        pass


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_INTERVAL)
    os._exit(1)
