"""polystore's ``DiskBackend`` (``DiskStorageBackend``) over platekit's disk backend,
and its ``FileFormatRegistry`` of writer and reader functions."""

from __future__ import annotations

import os
from pathlib import Path

from platekit.storage.backends.disk import DiskBackend as _PlatekitDisk
from platekit.storage.compat.base import PolystoreCalls

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class FileFormatRegistry:
    """Suffix -> a writer ``writer(path, data, **kwargs)`` and a reader ``reader(path, **kwargs)``.

    Each compat disk backend has one, as ``format_registry``: a suffix
    registered there (``".witness.zip"``, any case) is saved and loaded by
    its functions, before platekit's formats. It starts empty; platekit's
    own formats are :class:`~platekit.storage.FileFormat` classes, found by
    the backend itself.
    """

    def __init__(self) -> None:
        self._codecs: dict[str, tuple[Callable[..., None], Callable[..., Any]]] = {}

    def register(self, ext: str, writer: Callable[..., None], reader: Callable[..., Any]) -> None:
        """Save and load files ending in ``ext`` with ``writer`` and ``reader``.

        Raises ``ValueError`` when ``ext`` already has other functions.
        """
        suffix = ext.lower()
        if self._codecs.get(suffix, (writer, reader)) != (writer, reader):
            raise ValueError(
                f"File format {suffix!r} already has a writer and a reader registered."
            )
        self._codecs[suffix] = (writer, reader)

    def get_writer(self, ext: str) -> Callable[..., None]:
        """The writer registered for ``ext``; ``KeyError`` when there is none."""
        return self._codecs[ext.lower()][0]

    def get_reader(self, ext: str) -> Callable[..., Any]:
        """The reader registered for ``ext``; ``KeyError`` when there is none."""
        return self._codecs[ext.lower()][1]

    def is_registered(self, ext: str) -> bool:
        """Whether ``ext`` has a writer and a reader here."""
        return ext.lower() in self._codecs

    def resolve_extension(self, path: str | os.PathLike[str]) -> str | None:
        """The longest registered suffix of ``path``'s name, or None."""
        suffixes = Path(path).suffixes
        for start in range(len(suffixes)):
            extension = "".join(suffixes[start:]).lower()
            if self.is_registered(extension):
                return extension
        return None


class DiskStorageBackend(PolystoreCalls, _PlatekitDisk):  # type: ignore[misc]
    """platekit's disk backend, called as polystore calls its own."""

    _backend_type = None  # type: ignore[assignment]  # platekit's "disk" is registered

    def __init__(self, *, fsync: bool = False) -> None:
        super().__init__(fsync=fsync)
        self.format_registry = FileFormatRegistry()

    @property
    def name(self) -> str:
        return "disk"

    def save(
        self,
        data: Any,
        path: Any,
        *,
        overwrite: bool = False,
        format: str | None = None,
        tiff_config: Any = None,
        **kwargs: Any,
    ) -> None:
        """platekit's save; ``tiff_config`` (a compat ``TiffConfig``) sets a TIFF's options.

        A suffix in :attr:`format_registry` is written by its writer, at the
        path itself (not atomically), after the same overwrite check.
        """
        registered = None if format is not None else self.format_registry.resolve_extension(path)
        if registered is not None:
            target = os.fspath(path)
            self._check_destination(target, is_folder=False, overwrite=overwrite)
            self._make_parents(target)
            self.format_registry.get_writer(registered)(Path(path), data, **kwargs)
            return
        if tiff_config is not None and tiff_config.applies_to_path(path):
            kwargs = {**tiff_config.save_options(), **kwargs}
        super().save(data, path, overwrite=overwrite, format=format, **kwargs)

    def accepts(self, data: Any, path: Any, *, format: str | None = None) -> bool:
        """platekit's; a suffix in :attr:`format_registry` takes whatever its writer is given."""
        if format is None and self.format_registry.resolve_extension(path) is not None:
            return True
        return super().accepts(data, path, format=format)

    def load(self, path: Any, *, format: str | None = None, **kwargs: Any) -> Any:
        """platekit's load; a suffix in :attr:`format_registry` is read by its reader."""
        registered = None if format is not None else self.format_registry.resolve_extension(path)
        if registered is not None and self.is_file(path):
            return self.format_registry.get_reader(registered)(Path(path), **kwargs)
        return super().load(path, format=format, **kwargs)

    def ensure_directory(self, directory: Any) -> Any:
        """Create the folder and those above it; its path as a ``pathlib.Path``."""
        return Path(super().ensure_directory(directory))


# polystore's class attribute, set once the class exists: platekit's registry keeps its own
# disk backend under the name.
DiskStorageBackend._backend_type = "disk"  # type: ignore[assignment]
DiskBackend = DiskStorageBackend

__all__ = ["DiskBackend", "DiskStorageBackend", "FileFormatRegistry"]
