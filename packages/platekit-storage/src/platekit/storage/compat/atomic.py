"""polystore's ``atomic`` module: its file lock and JSON writes, over platekit's."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from platekit.storage import _json_update
from platekit.storage._errors import StorageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class LockConfig:
    """polystore's lock settings: the lock file's suffix, the default timeout."""

    DEFAULT_TIMEOUT: float = _json_update.DEFAULT_TIMEOUT
    DEFAULT_POLL_INTERVAL: float = 0.1
    LOCK_SUFFIX: str = _json_update.LOCK_SUFFIX
    TEMP_PREFIX: str = ".tmp"
    JSON_INDENT: int | None = None

    def lock_path(self, file_path: PathLike) -> Path:
        """The lock file of ``file_path``: its name with :attr:`LOCK_SUFFIX` added."""
        return Path(_json_update.lock_path(file_path, self.LOCK_SUFFIX))


LOCK_CONFIG = LockConfig()


class FileLockError(StorageError):
    """A lock or an atomic write failed."""


class FileLockTimeoutError(FileLockError, TimeoutError):
    """A lock was not free in time (also a ``TimeoutError``)."""


@contextmanager
def file_lock(
    lock_path: PathLike,
    timeout: float = LOCK_CONFIG.DEFAULT_TIMEOUT,
    poll_interval: float = LOCK_CONFIG.DEFAULT_POLL_INTERVAL,
) -> Iterator[None]:
    """Hold the lock file ``lock_path`` itself (platekit's ``file_lock(..., lock_suffix="")``).

    ``poll_interval`` is accepted and unused: platekit's lock polls with a
    short backoff of its own. Raises :class:`FileLockTimeoutError`.
    """
    del poll_interval
    try:
        with _json_update.file_lock(lock_path, timeout=timeout, lock_suffix=""):
            yield
    except TimeoutError as exc:
        if not isinstance(exc, StorageError) or "could not lock" not in str(exc):
            raise
        raise FileLockTimeoutError(str(exc)) from exc


def atomic_write_json(
    file_path: PathLike,
    data: Any,
    indent: int | None = LOCK_CONFIG.JSON_INDENT,
    ensure_directory: bool = True,
) -> None:
    """Write ``json.dumps(data, indent=indent)`` to ``file_path`` atomically, as disk saves."""
    from platekit.storage.backends.disk import DiskBackend

    try:
        if not ensure_directory and not Path(file_path).parent.is_dir():
            raise FileNotFoundError(f"no folder {Path(file_path).parent} to write in")
        text = json.dumps(data, indent=indent)
        DiskBackend(fsync=True).save(text, file_path, overwrite=True, format="text")
    except Exception as exc:  # polystore reports every failure as its own error
        raise FileLockError(f"Atomic JSON write failed for {file_path}: {exc}") from exc


def atomic_update_json(
    file_path: PathLike,
    update_func: Callable[[Any], Any],
    lock_timeout: float = LOCK_CONFIG.DEFAULT_TIMEOUT,
    default_data: Any = None,
) -> None:
    """platekit's :func:`~platekit.storage.atomic_update_json`, called as polystore calls it."""

    def update(document: Any) -> Any:
        try:
            return update_func(document)
        except Exception as exc:  # polystore reports it as a lock error
            raise FileLockError(f"Update function failed for {file_path}: {exc}") from exc

    try:
        _json_update.atomic_update_json(
            file_path,
            update,
            timeout=lock_timeout,
            default=default_data,
        )
    except TimeoutError as exc:
        raise FileLockTimeoutError(str(exc)) from exc


__all__ = [
    "LOCK_CONFIG",
    "FileLockError",
    "FileLockTimeoutError",
    "LockConfig",
    "atomic_update_json",
    "atomic_write_json",
    "file_lock",
]
