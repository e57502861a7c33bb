"""The ``memory`` backend: a thread-safe tree of folders and objects in this process."""

from __future__ import annotations

import os
import posixpath
import threading

from platekit.storage._base import StorageBackend, not_found
from platekit.storage._listing import name_filter
from platekit.storage._natural import natural_sorted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    PathLike = str | os.PathLike[str]


def _norm(path: PathLike) -> str:
    """One spelling per path: POSIX separators, absolute, no ``.``, ``..`` or trailing ``/``."""
    text = os.fspath(path).replace("\\", "/")
    return posixpath.normpath("/" + text.lstrip("/"))


class MemoryBackend(StorageBackend):
    """Objects kept in a dictionary, by path; nothing touches the disk.

    Stores references, as a dictionary does: saving an array and then
    changing it changes what :meth:`load` returns. Every call is atomic with
    respect to other threads.
    """

    _backend_type = "memory"

    def __init__(self) -> None:
        self._files: dict[str, Any] = {}
        self._dirs: set[str] = {"/"}
        self._lock = threading.RLock()

    # -- reading -------------------------------------------------------------------

    def load(self, path: PathLike, **kwargs: Any) -> Any:
        key = _norm(path)
        with self._lock:
            if key in self._files:
                return self._files[key]
            if key in self._dirs:
                raise IsADirectoryError(21, "is a folder, not a file, in the memory backend", key)
        raise not_found(self, path)

    def list_files(
        self,
        directory: PathLike,
        *,
        pattern: str | None = None,
        extensions: Iterable[str] | None = None,
        recursive: bool = False,
    ) -> list[str]:
        folder = self._folder(directory)
        keep = name_filter(pattern, extensions)
        prefix = folder.rstrip("/") + "/"
        with self._lock:
            candidates = [p for p in self._files if p.startswith(prefix)]
        found = []
        for path in candidates:
            rest = path[len(prefix) :]
            if not recursive and "/" in rest:
                continue
            if keep(posixpath.basename(path)):
                found.append(path)
        return natural_sorted(found)

    def list_dir(self, path: PathLike) -> list[str]:
        folder = self._folder(path)
        prefix = folder.rstrip("/") + "/"
        with self._lock:
            names = {
                p[len(prefix) :].split("/", 1)[0]
                for p in (*self._files, *self._dirs)
                if p.startswith(prefix) and p != folder
            }
        return natural_sorted(names)

    def exists(self, path: PathLike) -> bool:
        key = _norm(path)
        with self._lock:
            return key in self._files or key in self._dirs

    def is_file(self, path: PathLike) -> bool:
        with self._lock:
            return _norm(path) in self._files

    def is_dir(self, path: PathLike) -> bool:
        with self._lock:
            return _norm(path) in self._dirs

    # -- writing -------------------------------------------------------------------

    def save(self, data: Any, path: PathLike, *, overwrite: bool = False, **kwargs: Any) -> None:
        key = _norm(path)
        with self._lock:
            if key in self._dirs:
                raise IsADirectoryError(21, "is a folder in the memory backend", key)
            if key in self._files and not overwrite:
                raise FileExistsError(
                    17, "already exists in the memory backend; pass overwrite=True to replace", key
                )
            parents = self._parents(key)
            for parent in parents:
                if parent in self._files:
                    raise NotADirectoryError(20, "a file is in the way", parent)
            self._dirs.update(parents)
            self._files[key] = data

    def delete(self, path: PathLike, *, recursive: bool = False) -> None:
        key = _norm(path)
        with self._lock:
            if key in self._files:
                del self._files[key]
                return
            if key not in self._dirs:
                raise not_found(self, path)
            if not recursive:
                raise IsADirectoryError(
                    21, "is a folder; pass recursive=True to delete it and everything in it", key
                )
            if key == "/":
                self._files.clear()
                self._dirs.intersection_update({"/"})
                return
            prefix = key + "/"
            for file in [p for p in self._files if p.startswith(prefix)]:
                del self._files[file]
            self._dirs = {d for d in self._dirs if d != key and not d.startswith(prefix)}

    def ensure_directory(self, path: PathLike) -> str:
        key = _norm(path)
        with self._lock:
            for folder in (*self._parents(key), key):
                if folder in self._files:
                    raise FileExistsError(17, "a file is in the way in the memory backend", folder)
            self._dirs.update(self._parents(key))
            self._dirs.add(key)
        return key

    def copy(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        self._transfer(src, dst, overwrite=overwrite, remove=False)

    def move(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        self._transfer(src, dst, overwrite=overwrite, remove=True)

    # -- helpers -------------------------------------------------------------------

    def _folder(self, path: PathLike) -> str:
        key = _norm(path)
        with self._lock:
            if key in self._dirs:
                return key
            if key in self._files:
                raise NotADirectoryError(20, "is a file, not a folder, in the memory backend", key)
        raise not_found(self, path)

    @staticmethod
    def _parents(key: str) -> list[str]:
        parents = []
        parent = posixpath.dirname(key)
        while parent not in ("/", ""):
            parents.append(parent)
            parent = posixpath.dirname(parent)
        return parents

    def _transfer(self, src: PathLike, dst: PathLike, *, overwrite: bool, remove: bool) -> None:
        source, target = _norm(src), _norm(dst)
        with self._lock:
            if source in self._files:
                moves = {source: target}
            elif source in self._dirs:
                if target.startswith(source + "/"):
                    raise ValueError(f"cannot put the folder {source!r} inside itself ({target!r})")
                prefix = source + "/"
                moves = {p: target + p[len(source) :] for p in self._files if p.startswith(prefix)}
            else:
                raise not_found(self, src)
            if self.exists(target) and not overwrite:
                raise FileExistsError(
                    17,
                    "already exists in the memory backend; pass overwrite=True to replace",
                    target,
                )
            if target == source:
                return  # onto itself: already where it should be
            if source in self._dirs:
                folders = [d for d in self._dirs if d == source or d.startswith(source + "/")]
                for folder in folders:
                    self.ensure_directory(target + folder[len(source) :])
            for old, new in moves.items():
                self.save(self._files[old], new, overwrite=True)
            if remove:
                self.delete(source, recursive=True)
