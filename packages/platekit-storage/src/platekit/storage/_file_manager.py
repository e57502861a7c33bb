"""FileManager: every storage call, routed to the backend named in it."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator, Mapping, Sequence

from platekit.storage._base import StorageBackend
from platekit.storage._natural import natural_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    PathLike = str | os.PathLike[str]


class FileManager:
    """Routes each call to the backend it names: ``fm.save(data, path, "disk")``.

    ``backends`` is a :class:`~platekit.storage.BackendRegistry` or any
    mapping of name → backend instance (``{"memory": MemoryBackend()}``).
    Every method takes the same arguments as the backend method of the same
    name, with the backend's name after the path (or paths). An unknown
    backend name raises ``KeyError`` naming the available ones. A
    :class:`~platekit.storage.BackendRegistry` backend whose plugin failed to
    import raises :class:`~platekit.registry.PluginImportError`, with the
    plugin's own error, as the registry does.
    """

    def __init__(self, backends: Mapping[str, StorageBackend]) -> None:
        self.backends = backends

    def backend(self, name: str) -> StorageBackend:
        """The backend called ``name``."""
        try:
            return self.backends[name]
        except KeyError as exc:
            if name in self.backends or exc.args != (name,):
                # Raised inside the backend, or a mapping that explains itself (a
                # BackendRegistry says what to install, or why a backend is left out).
                raise
            available = ", ".join(self.backends) or "none"
            raise KeyError(
                f"no storage backend {name!r} in this FileManager; available: {available}"
            ) from None

    def __repr__(self) -> str:
        return f"FileManager({list(self.backends)!r})"

    # -- routed calls -------------------------------------------------------------

    def load(self, path: PathLike, backend: str, **kwargs: Any) -> Any:
        return self.backend(backend).load(path, **kwargs)

    def load_batch(self, paths: Sequence[PathLike], backend: str, **kwargs: Any) -> list[Any]:
        return self.backend(backend).load_batch(paths, **kwargs)

    def save(self, data: Any, path: PathLike, backend: str, **kwargs: Any) -> None:
        self.backend(backend).save(data, path, **kwargs)

    def save_batch(
        self, items: Sequence[Any], paths: Sequence[PathLike], backend: str, **kwargs: Any
    ) -> None:
        self.backend(backend).save_batch(items, paths, **kwargs)

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

    def list_dir(self, path: PathLike, backend: str) -> list[str]:
        return self.backend(backend).list_dir(path)

    def exists(self, path: PathLike, backend: str) -> bool:
        return self.backend(backend).exists(path)

    def is_file(self, path: PathLike, backend: str) -> bool:
        return self.backend(backend).is_file(path)

    def is_dir(self, path: PathLike, backend: str) -> bool:
        return self.backend(backend).is_dir(path)

    def delete(self, path: PathLike, backend: str, *, recursive: bool = False) -> None:
        self.backend(backend).delete(path, recursive=recursive)

    def ensure_directory(self, path: PathLike, backend: str) -> str:
        return self.backend(backend).ensure_directory(path)

    def copy(self, src: PathLike, dst: PathLike, backend: str, *, overwrite: bool = False) -> None:
        self.backend(backend).copy(src, dst, overwrite=overwrite)

    def move(self, src: PathLike, dst: PathLike, backend: str, *, overwrite: bool = False) -> None:
        self.backend(backend).move(src, dst, overwrite=overwrite)

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
            raise FileNotFoundError(
                2, f"nothing to transfer in the {src_backend} backend", os.fspath(src)
            )
        if not overwrite:
            taken = [new for _, new in pairs if target.exists(new)]
            if taken:
                raise FileExistsError(
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
