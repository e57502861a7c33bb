"""polystore's exception classes, each also a :class:`~platekit.storage.StorageError`."""

from __future__ import annotations

from platekit.storage._errors import BackendNotFoundError, StorageError


class StorageResolutionError(StorageError, ValueError):
    """A path or backend could not be resolved (polystore's name; a ``ValueError``)."""


class UnknownBackendError(StorageResolutionError, BackendNotFoundError):
    """No backend by that name: polystore's ``StorageResolutionError``, and platekit's
    ``BackendNotFoundError`` (a ``KeyError``) as platekit's file manager raises."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ImageLoadError(StorageError, RuntimeError):
    """An image could not be read."""


class ImageSaveError(StorageError, RuntimeError):
    """An image could not be written."""


class StorageWriteError(StorageError, RuntimeError):
    """A write failed."""


class MetadataNotFoundError(StorageError, ValueError):
    """Expected metadata is not there."""


class PathMismatchError(StorageError, ValueError):
    """A path does not fit the backend it was given to."""


class VFSTypeError(StorageError, TypeError):
    """A path of the wrong type."""


__all__ = [
    "ImageLoadError",
    "ImageSaveError",
    "MetadataNotFoundError",
    "PathMismatchError",
    "StorageResolutionError",
    "StorageWriteError",
    "UnknownBackendError",
    "VFSTypeError",
]
