"""What storage raises: the standard exceptions, each with :class:`StorageError` mixed in.

A caller catches one kind of failure as usual (``except FileNotFoundError``)
or every storage failure at once (``except StorageError``). Each standard
exception a backend method raises leaves it as the same exception with
:class:`StorageError` mixed in: same class underneath, message, ``errno``,
``filename``, traceback and cause.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager

from platekit.registry import PluginImportError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])
    E = TypeVar("E", bound=BaseException)


class StorageError(Exception):
    """Base class of every error a storage backend, registry or file manager raises.

    Always mixed with a standard exception (``FileNotFoundError``,
    ``ValueError``, ...), so ``except StorageError`` catches every storage
    failure and ``except FileNotFoundError`` still catches the one it did.
    """


class StorageFileNotFoundError(StorageError, FileNotFoundError):
    """Nothing at the path (``ENOENT``)."""


class StorageFileExistsError(StorageError, FileExistsError):
    """Something already at the path (``EEXIST``)."""


class StorageIsADirectoryError(StorageError, IsADirectoryError):
    """A folder where a file was wanted (``EISDIR``)."""


class StorageNotADirectoryError(StorageError, NotADirectoryError):
    """A file where a folder was wanted (``ENOTDIR``)."""


class StoragePermissionError(StorageError, PermissionError):
    """A write refused: a read-only backend, or the system's permissions."""


class StorageTimeoutError(StorageError, TimeoutError):
    """An operation that waited too long, such as for a file lock."""


class StorageOSError(StorageError, OSError):
    """Any other failure of the operating system."""


class StorageValueError(StorageError, ValueError):
    """A value the call cannot use: a path outside a store, a mismatched batch, ..."""


class StorageTypeError(StorageError, TypeError):
    """Data or an option of a kind the backend cannot take."""


class StorageKeyError(StorageError, KeyError):
    """No backend, or no file format, by that name."""


class BackendNotFoundError(StorageKeyError):
    """No storage backend available by that name: unknown, left out or not installed.

    Raised by :class:`BackendRegistry` and :class:`FileManager` when the name
    is not one of theirs, never for a backend that failed while being made.
    The message names the available backends (and what to install, for a
    known optional one).
    """


class StorageNotImplementedError(StorageError, NotImplementedError):
    """A method the backend does not implement."""


class BackendImportError(StorageError, PluginImportError):
    """A backend whose plugin failed to import; ``__cause__`` is the original exception."""


# The exact standard class -> its storage version. Only exact classes are
# translated: a subclass (a plugin's own TimeoutError, say) stays what it is.
_MIXED: dict[type[BaseException], type[BaseException]] = {
    FileNotFoundError: StorageFileNotFoundError,
    FileExistsError: StorageFileExistsError,
    IsADirectoryError: StorageIsADirectoryError,
    NotADirectoryError: StorageNotADirectoryError,
    PermissionError: StoragePermissionError,
    TimeoutError: StorageTimeoutError,
    OSError: StorageOSError,
    ValueError: StorageValueError,
    TypeError: StorageTypeError,
    KeyError: StorageKeyError,
    NotImplementedError: StorageNotImplementedError,
    PluginImportError: BackendImportError,
}


def storage_error(kind: type[E], *args: Any) -> E:
    """An exception of the standard class ``kind``, with :class:`StorageError` mixed in.

    ``raise storage_error(FileExistsError, errno.EEXIST, "already there", path)``
    raises what ``raise FileExistsError(...)`` would, and ``except
    StorageError`` catches it too. Raises ``TypeError`` for a class that has
    no storage version (the standard ``OSError`` family, ``ValueError``,
    ``TypeError``, ``KeyError``, ``NotImplementedError``).
    """
    mixed = _MIXED.get(kind)
    if mixed is None:
        known = ", ".join(cls.__name__ for cls in _MIXED)
        raise TypeError(f"no storage version of {kind.__name__}; one of {known}")
    error: E = mixed(*args)  # type: ignore[assignment]
    return error


def translated(error: BaseException) -> BaseException | None:
    """``error`` as its storage version, or None when it is one already or has none.

    The copy keeps the message and every attribute (``errno``, ``filename``,
    notes), the traceback, the cause and the context.
    """
    mixed = _MIXED.get(type(error))
    if mixed is None:
        return None
    args: tuple[Any, ...] = error.args
    extra: dict[str, Any] = {}
    if isinstance(error, OSError) and error.errno is not None:
        args = (error.errno, error.strerror, error.filename, None, error.filename2)
    elif isinstance(error, ImportError):
        extra = {"name": error.name, "path": error.path}
    copy = mixed(*args, **extra)
    copy.__dict__.update(getattr(error, "__dict__", {}))
    copy.__cause__ = error.__cause__
    copy.__context__ = error.__context__
    copy.__suppress_context__ = error.__suppress_context__
    return copy.with_traceback(error.__traceback__)


def raising_storage_errors(method: F) -> F:
    """``method``, with every standard exception it raises turned into its storage version."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            failure = translated(exc)
            if failure is None:
                raise
        # Raised outside the handler, so the copy is not chained to its original.
        try:
            raise failure
        finally:
            del failure

    call.__storage_errors__ = True  # type: ignore[attr-defined]
    return call  # type: ignore[return-value]


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn every standard exception raised in the block into its storage version.

    For code that cannot be wrapped whole, such as the set-up and the end of
    a context manager around a caller's own block.
    """
    try:
        yield
    except Exception as exc:
        failure = translated(exc)
        if failure is None:
            raise
        if exc.__context__ is None:
            failure.__suppress_context__ = True  # it would only show the original again
        raise failure  # noqa: B904 (the copy carries the original's cause and traceback)
