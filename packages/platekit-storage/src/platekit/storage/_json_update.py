"""Read-modify-write of a JSON file under an inter-process lock: no update is ever lost.

Several worker processes updating one metadata file each take the lock,
read the file, change it and write it back atomically before letting go,
so every update sees the one before it. The lock is the operating
system's: ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows, taken on
a lock file beside the data (``meta.json.lock`` for ``meta.json``). The
system releases it when its holder exits, even when killed, so a crashed
worker never leaves a stale lock. The lock file itself stays: removing it
while another process waits on it would let two processes in at once.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import sys
import time
from contextlib import contextmanager

from platekit.storage._errors import StorageTimeoutError, StorageTypeError, StorageValueError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    PathLike = str | os.PathLike[str]

#: Seconds to wait for a lock before giving up.
DEFAULT_TIMEOUT = 30.0
#: How often a waiting process tries the lock again, in seconds.
_POLL = 0.01
_POLL_MAX = 0.1


#: What is added to a file's name to name its lock file, unless a call says otherwise.
LOCK_SUFFIX = ".lock"


def lock_path(path: PathLike, lock_suffix: str = LOCK_SUFFIX) -> str:
    """The lock file of ``path``: the same name with ``lock_suffix`` (``.lock``) added.

    Raises ``ValueError`` when ``lock_suffix`` is not a str or holds a path separator.
    """
    if not isinstance(lock_suffix, str) or "/" in lock_suffix or os.sep in lock_suffix:
        raise StorageValueError(
            f"lock_suffix must be text added to the file's name, such as '.lock', "
            f"without a path separator, not {lock_suffix!r}"
        )
    return os.fspath(path) + lock_suffix


@contextmanager
def file_lock(
    path: PathLike, *, timeout: float = DEFAULT_TIMEOUT, lock_suffix: str = LOCK_SUFFIX
) -> Iterator[str]:
    """Hold the inter-process lock of ``path`` for the ``with`` block; give the lock file's path.

    Locks ``path + lock_suffix`` (``.lock`` unless told otherwise; created,
    with the folders above it, if needed), not ``path`` itself, so the data
    file can be replaced while locked; ``lock_suffix=""`` locks ``path``
    itself, for a path that names a lock file. Threads of one process
    exclude each other too. Only code that takes the same lock is kept out:
    the lock is advisory. Raises ``TimeoutError`` (a
    :class:`~platekit.storage.StorageError`) naming the lock file and the
    process holding it when the lock is not free within ``timeout``
    seconds, and ``ValueError`` for a negative ``timeout`` or a
    ``lock_suffix`` with a path separator.
    """
    if not timeout >= 0:
        raise StorageValueError(f"timeout must be a number of seconds, 0 or more, not {timeout!r}")
    name = lock_path(path, lock_suffix)
    folder = os.path.dirname(name)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _acquire(fd, name, os.fspath(path), timeout)
        try:
            _record_holder(fd)
            yield name
        finally:
            _release(fd)
    finally:
        os.close(fd)


def atomic_update_json(
    path: PathLike,
    update: Callable[[Any], Any],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    default: Any = None,
    fsync: bool = False,
    lock_suffix: str = LOCK_SUFFIX,
) -> Any:
    """Change the JSON file at ``path`` with ``update``, under its inter-process lock.

    Holding :func:`file_lock` of ``path``, reads the file (``default`` when
    there is none), calls ``update`` with the document, and writes what it
    returns through the disk backend (atomic, indented JSON). ``update`` may
    also change the document in place and return None. Returns the document
    written. ``fsync=True`` flushes it to the device before the lock is let
    go. ``lock_suffix`` names the lock file (``path + lock_suffix``), so
    programs that lock ``meta.json.guard`` share the lock.

    Raises ``ValueError`` for an empty ``lock_suffix`` (the data file itself
    is replaced, so it cannot be the lock), ``TimeoutError`` naming the
    lock file and its holder when the lock is not free within ``timeout``
    seconds; ``ValueError`` when the file is not valid JSON (it is left as
    it is, never replaced by ``default``); ``TypeError`` when there is
    nothing to write (no file, no ``default`` and ``update`` returned None)
    or the document is not JSON. An exception
    from ``update`` passes through, and the file stays as it was.
    """
    from platekit.storage.backends.disk import DiskBackend

    target = os.fspath(path)
    if lock_suffix == "":
        raise StorageValueError(
            f"lock_suffix must not be empty for {target!r}: the file is replaced when written, "
            "so its lock must be another file; pass a suffix such as '.lock'"
        )
    with file_lock(target, timeout=timeout, lock_suffix=lock_suffix):
        try:
            with open(target, "rb") as file:
                raw = file.read()
        except FileNotFoundError:
            document = copy.deepcopy(default)
        else:
            try:
                document = json.loads(raw)
            except ValueError as exc:
                raise StorageValueError(
                    f"cannot update {target!r}: it is not valid JSON ({exc}); fix or remove it"
                ) from None
        changed = update(document)
        if changed is None:
            changed = document
        if changed is None:
            raise StorageTypeError(
                f"nothing to write to {target!r}: there was no file and no default, and the "
                "update returned None; return the document to write, or pass default={}"
            )
        DiskBackend(fsync=fsync).save(changed, target, overwrite=True, format="json")
        return changed


def _holder(fd: int) -> str:
    """Who holds the lock, as the holder wrote it in the lock file: ``" (process 1234)"``."""
    try:
        written = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except (OSError, AttributeError):  # no pread on Windows, or the region is locked
        return ""
    return f", held by process {written}" if written.isdigit() else ""


def _give_up(fd: int, name: str, path: str, timeout: float) -> StorageTimeoutError:
    return StorageTimeoutError(
        errno.ETIMEDOUT,
        f"could not lock {path!r} within {timeout:g} s: another process holds its lock file"
        f"{_holder(fd)}; wait for it to finish, or pass a longer timeout",
        name,
    )


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _release(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def _record_holder(fd: int) -> None:
        pass  # the first byte is locked, so others could not read a process id there

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _record_holder(fd: int) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)


def _acquire(fd: int, name: str, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pause = _POLL
    while not _try_lock(fd):
        left = deadline - time.monotonic()
        if left <= 0:
            raise _give_up(fd, name, path, timeout)
        time.sleep(min(pause, left))
        pause = min(pause * 2, _POLL_MAX)
