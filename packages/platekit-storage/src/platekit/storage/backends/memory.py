"""The ``memory`` backend: a thread-safe tree of folders and objects in this process."""

from __future__ import annotations

import os
import posixpath
import threading
import time

from platekit.storage._base import StorageBackend, not_found
from platekit.storage._errors import StorageNotImplementedError
from platekit.storage._listing import name_filter
from platekit.storage._natural import natural_sorted
from platekit.storage._stat import FileStat

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

    There are no symbolic links: :meth:`is_symlink` is False for every path
    and :meth:`create_symlink` raises ``NotImplementedError``.
    :meth:`stat` gives the time an object was saved (or a folder created)
    and the size of bytes, text (in UTF-8) and arrays (``nbytes``).
    """

    _backend_type = "memory"

    def __init__(self) -> None:
        self._files: dict[str, Any] = {}
        # Folder -> when it was created; file -> when it was saved.
        self._dirs: dict[str, float] = {"/": time.time()}
        self._times: dict[str, float] = {}
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

    def is_symlink(self, path: PathLike) -> bool:
        """False: the memory backend has no symbolic links."""
        _norm(path)
        return False

    def stat(self, path: PathLike) -> FileStat:
        key = _norm(path)
        with self._lock:
            if key in self._dirs:
                return FileStat("folder", None, self._dirs[key])
            if key in self._files:
                return FileStat("file", _size(self._files[key]), self._times[key])
        raise not_found(self, path)

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
            now = time.time()
            for parent in parents:
                self._dirs.setdefault(parent, now)
            self._files[key] = data
            self._times[key] = now

    def delete(self, path: PathLike, *, recursive: bool = False) -> None:
        key = _norm(path)
        with self._lock:
            if key in self._files:
                del self._files[key]
                del self._times[key]
                return
            if key not in self._dirs:
                raise not_found(self, path)
            if not recursive:
                raise IsADirectoryError(
                    21, "is a folder; pass recursive=True to delete it and everything in it", key
                )
            if key == "/":
                self._files.clear()
                self._times.clear()
                self._dirs = {"/": self._dirs["/"]}
                return
            prefix = key + "/"
            for file in [p for p in self._files if p.startswith(prefix)]:
                del self._files[file]
                del self._times[file]
            self._dirs = {
                d: t for d, t in self._dirs.items() if d != key and not d.startswith(prefix)
            }

    def ensure_directory(self, path: PathLike) -> str:
        key = _norm(path)
        with self._lock:
            for folder in (*self._parents(key), key):
                if folder in self._files:
                    raise FileExistsError(17, "a file is in the way in the memory backend", folder)
            now = time.time()
            for folder in (*self._parents(key), key):
                self._dirs.setdefault(folder, now)
        return key

    def copy(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        self._transfer(src, dst, overwrite=overwrite, remove=False)

    def move(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        self._transfer(src, dst, overwrite=overwrite, remove=True)

    def create_symlink(self, target: PathLike, link: PathLike, *, overwrite: bool = False) -> None:
        """Refused with ``NotImplementedError``: the memory backend has no symbolic links."""
        raise StorageNotImplementedError(
            f"the memory backend has no symbolic links, so it cannot link {os.fspath(link)!r} "
            f"to {os.fspath(target)!r}; copy() puts the same object under a second path "
            "without copying it, which is what a link to a file would give"
        )

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
                if remove:  # a move keeps the time of the last save, as a rename does
                    self._times[new] = self._times[old]
            if remove:
                self.delete(source, recursive=True)


def _size(data: object) -> int | None:
    """Bytes in ``data``: its length for bytes, its UTF-8 length for text, ``nbytes``
    for arrays; None for other objects."""
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    if isinstance(data, memoryview):
        return data.nbytes
    if isinstance(data, str):
        return len(data.encode("utf-8", "surrogatepass"))
    nbytes = getattr(data, "nbytes", None)
    return nbytes if isinstance(nbytes, int) else None
