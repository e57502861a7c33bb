"""One conversion at a time writes into an output: a lock file in it, held for the run.

The run takes the lock exclusively, to know it is alone, then holds it
shared, as each of its worker processes does for as long as it lives. A
second run cannot take it exclusively while the first run or any of its
workers is alive, so it never resumes (and never marks complete) a well
that another process may still be writing. The lock is the system's
(``flock``), so it goes with the processes that held it, however they end.
Where ``fcntl`` is missing (Windows), or the file system has no locks, no
lock is taken.
"""

from __future__ import annotations

import errno
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from platekit.storage.backends.fsspec import is_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

# Windows has no fcntl: there no lock is taken.
_NO_FCNTL = sys.platform == "win32"
if not _NO_FCNTL:
    import fcntl

#: The lock file's name, in the output's top folder; hidden, and no Zarr node.
LOCK_NAME = ".platekit-lock"

# What flock fails with on a file system that has no locks.
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)

# The worker's hold on its run's lock: kept open for the life of the process.
_held: list[int] = []


class OutputInUseError(FileExistsError):
    """Another conversion is writing into the output."""


class OutputLock:
    """The lock of the output folder ``out`` (which must exist), held until :meth:`release`."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock; ``OutputInUseError`` when another run or its workers hold it.

        Raises ``PermissionError`` when the lock file cannot be created or opened.
        """
        if _NO_FCNTL:
            return
        path = self.out / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except PermissionError:
            # A read-only output may still be complete, with nothing to write.
            if not path.is_file():
                raise
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Shared from now on, so that the run's workers can hold it with the run.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputInUseError(
                f"another conversion is writing into {str(self.out)!r}; wait for it to end "
                "(or end it), then run this command again"
            ) from None
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                os.close(fd)
                raise
            # A file system without locks (some network mounts): convert unlocked, as on Windows.
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def verify(self) -> None:
        """Nothing to check: no other run can take a folder's lock while this one holds it.

        (An object store's lock is advisory, and its ``verify`` raises
        ``OutputInUseError`` when another run took it over.)
        """

    def release(self) -> None:
        """Let go of the lock (workers still alive keep holding it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def hold_shared(out: str) -> None:
    """In a worker process: hold the lock of ``out`` shared for as long as the process lives."""
    if _NO_FCNTL or is_url(out):  # an output in object storage has a lock object instead
        return
    fd = os.open(Path(out) / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError as exc:
        if exc.errno not in _NO_LOCKS:
            raise
    _held.append(fd)


@contextmanager
def held_shared(folders: Iterable[str]) -> Iterator[None]:
    """Hold the locks of ``folders`` shared while the block runs, and let go of them after.

    For a process that runs tasks of runs it did not start (a Dask worker):
    a run cannot begin on an output while such a task may still write into it.
    """
    fds: list[int] = []
    try:
        for folder in folders:
            if _NO_FCNTL:
                break
            if is_url(folder):  # an output in object storage has a lock object instead
                continue
            fd = os.open(Path(folder) / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)
            except OSError as exc:
                if exc.errno not in _NO_LOCKS:
                    raise
        yield
    finally:
        for fd in fds:
            os.close(fd)
