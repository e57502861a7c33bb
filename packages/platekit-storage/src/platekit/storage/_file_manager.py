"""FileManager: every storage call, routed to the backend named in it."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator, Mapping, Sequence

from platekit.storage._base import StorageBackend
from platekit.storage._errors import (
    BackendNotFoundError,
    StorageFileExistsError,
    StorageFileNotFoundError,
    StorageTypeError,
    StorageValueError,
    raising_storage_errors,
)
from platekit.storage._natural import natural_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from platekit.storage._stat import FileStat

    PathLike = str | os.PathLike[str]


class FileManager:
    """Routes each call to the backend it names: ``fm.save(data, path, "disk")``.

    ``backends`` is a :class:`~platekit.storage.BackendRegistry` or any
    mapping of name → backend instance (``{"memory": MemoryBackend()}``);
    :meth:`register_backend` adds more. Every method takes the same
    arguments as the backend method of the same name, with the backend's
    name after the path (or paths). Names match without regard to case
    (``"Disk"`` finds ``"disk"``) unless two names differ only in case; an
    unknown name raises ``KeyError`` (``BackendNotFoundError``) naming the
    available ones. A :class:`~platekit.storage.BackendRegistry` backend
    whose plugin failed to import raises
    :class:`~platekit.registry.PluginImportError`, with the plugin's own
    error, as the registry does. Every error is also a
    :class:`~platekit.storage.StorageError`.

    Raises ``TypeError`` when ``backends`` is not a mapping (``None``
    included).
    """

    def __init__(self, backends: Mapping[str, StorageBackend]) -> None:
        given: object = backends  # checked as any value: callers need not type-check
        if not isinstance(given, Mapping):
            raise StorageTypeError(
                f"FileManager needs the backends to route calls to, not {given!r}: pass "
                "FileManager(BackendRegistry()) for every installed backend, or a dict of "
                "name to backend such as FileManager({'memory': MemoryBackend()})"
            )
        self.backends = backends
        self._registered: dict[str, StorageBackend] = {}

    @raising_storage_errors
    def register_backend(
        self, name: str, backend: StorageBackend, *, replace: bool = False
    ) -> None:
        """Route calls naming ``name`` to ``backend``, in this file manager only.

        The mapping the file manager was given is not changed. Raises
        ``ValueError`` when the name is taken, in any case, by a backend
        already here and ``replace`` is false (with ``replace=True`` the new
        backend takes the old one's name), and ``TypeError`` when ``name``
        is not a non-empty string or ``backend`` is not a backend instance
        (for a class, the message says to create one).
        """
        given: object = backend
        if not isinstance(name, str) or not name:
            raise StorageTypeError(f"a backend name is a non-empty string, not {name!r}")
        if isinstance(given, type) and issubclass(given, StorageBackend):
            raise StorageTypeError(
                f"register_backend takes a backend instance, not the class {given.__name__}: "
                f"pass {given.__name__}()"
            )
        if not isinstance(given, StorageBackend):
            raise StorageTypeError(
                f"register_backend takes a StorageBackend instance, not {type(given).__name__}"
            )
        taken = [n for n in self._names() if n.casefold() == name.casefold()]
        if taken and not replace:
            raise StorageValueError(
                f"a storage backend called {taken[0]!r} is already in this FileManager; "
                "pass replace=True to route its calls to the new backend"
            )
        # A replacement takes the old name, so calls that found the old backend find it.
        self._registered[taken[0] if taken else name] = backend

    @raising_storage_errors
    def backend(self, name: str) -> StorageBackend:
        """The backend called ``name``, in any case when only one name fits."""
        found = self._registered.get(name)
        if found is not None:
            return found
        try:
            return self.backends[name]
        except KeyError as exc:
            if name in self.backends:
                raise  # raised while creating the backend
            cased = (
                [n for n in self._names() if n != name and n.casefold() == name.casefold()]
                if isinstance(name, str)
                else []
            )
            if len(cased) == 1:
                return self.backend(cased[0])
            available = ", ".join(self._names()) or "none"
            if cased:
                raise BackendNotFoundError(
                    f"no storage backend {name!r} in this FileManager, and "
                    f"{' and '.join(map(repr, cased))} differ from it only in case; "
                    f"name one exactly. Available: {available}"
                ) from None
            if isinstance(exc, BackendNotFoundError):
                # A BackendRegistry explains itself: what to install, or why a backend is left out.
                raise
            if exc.args != (name,):
                raise BackendNotFoundError(*exc.args) from None  # a mapping's own words
            raise BackendNotFoundError(
                f"no storage backend {name!r} in this FileManager; available: {available}"
            ) from None

    def _names(self) -> list[str]:
        return [*self._registered, *(n for n in self.backends if n not in self._registered)]

    def __repr__(self) -> str:
        return f"FileManager({self._names()!r})"

    # -- routed calls -------------------------------------------------------------

    @raising_storage_errors
    def load(self, path: PathLike, backend: str, **kwargs: Any) -> Any:
        return self.backend(backend).load(path, **kwargs)

    @raising_storage_errors
    def load_batch(self, paths: Sequence[PathLike], backend: str, **kwargs: Any) -> list[Any]:
        return self.backend(backend).load_batch(paths, **kwargs)

    @raising_storage_errors
    def save(self, data: Any, path: PathLike, backend: str, **kwargs: Any) -> None:
        self.backend(backend).save(data, path, **kwargs)

    @raising_storage_errors
    def save_batch(
        self, items: Sequence[Any], paths: Sequence[PathLike], backend: str, **kwargs: Any
    ) -> None:
        self.backend(backend).save_batch(items, paths, **kwargs)

    @raising_storage_errors
    def list_files(
        self,
        directory: PathLike,
        backend: str,
        *,
        pattern: str | None = None,
        extensions: Iterable[str] | None = None,
        recursive: bool = False,
    ) -> list[str]:
        return self.backend(backend).list_files(
            directory, pattern=pattern, extensions=extensions, recursive=recursive
        )

    @raising_storage_errors
    def list_dir(self, path: PathLike, backend: str) -> list[str]:
        return self.backend(backend).list_dir(path)

    @raising_storage_errors
    def exists(self, path: PathLike, backend: str) -> bool:
        return self.backend(backend).exists(path)

    @raising_storage_errors
    def is_file(self, path: PathLike, backend: str) -> bool:
        return self.backend(backend).is_file(path)

    @raising_storage_errors
    def is_dir(self, path: PathLike, backend: str) -> bool:
        return self.backend(backend).is_dir(path)

    @raising_storage_errors
    def delete(self, path: PathLike, backend: str, *, recursive: bool = False) -> None:
        self.backend(backend).delete(path, recursive=recursive)

    @raising_storage_errors
    def ensure_directory(self, path: PathLike, backend: str) -> str:
        return self.backend(backend).ensure_directory(path)

    @raising_storage_errors
    def copy(self, src: PathLike, dst: PathLike, backend: str, *, overwrite: bool = False) -> None:
        self.backend(backend).copy(src, dst, overwrite=overwrite)

    @raising_storage_errors
    def move(self, src: PathLike, dst: PathLike, backend: str, *, overwrite: bool = False) -> None:
        self.backend(backend).move(src, dst, overwrite=overwrite)

    @raising_storage_errors
    def is_symlink(self, path: PathLike, backend: str) -> bool:
        return self.backend(backend).is_symlink(path)

    @raising_storage_errors
    def stat(self, path: PathLike, backend: str, *, follow_symlinks: bool = True) -> FileStat:
        return self.backend(backend).stat(path, follow_symlinks=follow_symlinks)

    @raising_storage_errors
    def read_bytes(
        self,
        path: PathLike,
        backend: str,
        *,
        sha256: str | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        return self.backend(backend).read_bytes(path, sha256=sha256, max_bytes=max_bytes)

    @raising_storage_errors
    def accepts(self, data: Any, path: PathLike, backend: str, **kwargs: Any) -> bool:
        return self.backend(backend).accepts(data, path, **kwargs)

    @raising_storage_errors
    def create_symlink(
        self, target: PathLike, link: PathLike, backend: str, *, overwrite: bool = False
    ) -> None:
        self.backend(backend).create_symlink(target, link, overwrite=overwrite)

    @raising_storage_errors
    def transfer(
        self,
        src: PathLike,
        src_backend: str,
        dst: PathLike,
        dst_backend: str,
        *,
        overwrite: bool = False,
    ) -> list[str]:
        """Copy a file, or a folder's files, from one backend to another; return the new paths.

        Each file is loaded from ``src_backend`` and saved to ``dst_backend``,
        so the data must be something both can hold (an array between disk,
        memory and zarr). Raises ``FileNotFoundError`` when ``src`` is missing
        and ``FileExistsError`` when a target exists and ``overwrite`` is false.
        """
        source = self.backend(src_backend)
        target = self.backend(dst_backend)
        if source.is_file(src):
            pairs = [(os.fspath(src), os.fspath(dst))]
        elif source.is_dir(src):
            walked = _walk(source, os.fspath(src), os.fspath(dst))
            pairs = sorted(walked, key=lambda pair: natural_key(pair[0]))
        else:
            raise StorageFileNotFoundError(
                2, f"nothing to transfer in the {src_backend} backend", os.fspath(src)
            )
        if not overwrite:
            taken = [new for _, new in pairs if target.exists(new)]
            if taken:
                raise StorageFileExistsError(
                    17,
                    f"already exists in the {dst_backend} backend; pass overwrite=True",
                    taken[0],
                )
        for old, new in pairs:
            target.save(source.load(old), new, overwrite=overwrite)
        return [new for _, new in pairs]


def _walk(backend: StorageBackend, src: str, dst: str) -> Iterator[tuple[str, str]]:
    """(source file, target path) for every file under the folder ``src``.

    Built from names (``list_dir``), not from listed paths, so it holds for
    any backend however it spells its paths (the memory backend makes every
    path absolute).
    """
    folders = [(src, dst)]
    while folders:
        here, there = folders.pop()
        for name in backend.list_dir(here):
            old, new = posixpath.join(here, name), posixpath.join(there, name)
            if backend.is_dir(old):
                folders.append((old, new))
            elif backend.is_file(old):
                yield old, new
