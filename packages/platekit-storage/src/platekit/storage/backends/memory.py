"""The ``memory`` backend: a thread-safe tree of folders and objects in this process."""

from __future__ import annotations

import errno
import os
import posixpath
import threading
import time

from platekit.storage._base import StorageBackend, not_found
from platekit.storage._listing import name_filter
from platekit.storage._natural import natural_sorted
from platekit.storage._stat import FileStat
from platekit.storage._verified import check_request, verified

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, MutableMapping
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

    ``MemoryBackend(store)`` keeps its files in the caller's dictionary
    ``store``, keyed by absolute POSIX path (``"/plate/A01.tif"``): what is
    in it already is a file (a key such as ``"a.txt"`` is renamed
    ``"/a.txt"``), the folders above its keys exist, and the caller sees
    every save and delete there. Links and folders are kept beside it.

    Symbolic links (:meth:`create_symlink`) point to a file or folder by
    path and are followed by everything but :meth:`is_symlink`,
    :meth:`delete`, :meth:`move` and ``stat(path, follow_symlinks=False)``,
    as on disk; a link whose target is deleted stays, broken. Only the
    last name of a path is followed: a link to a folder lists and loads as
    that folder, but saving through it is refused. :meth:`stat` gives the
    time an object was saved (or a folder created) and the size of bytes,
    text (in UTF-8) and arrays (``nbytes``).

    Pickled (to cross to another process), it is a snapshot: the copy holds
    the files, folders, links and times there were when it was pickled, in a
    plain dictionary of its own, and from then on the two are independent;
    nothing saved on one side is seen on the other. A backend over a
    caller's ``store`` pickles that store's contents the same way.
    """

    _backend_type = "memory"

    def __init__(self, store: MutableMapping[str, Any] | None = None) -> None:
        """A memory backend, empty or over the caller's dictionary ``store`` (see the class)."""
        now = time.time()
        self._files: MutableMapping[str, Any] = {} if store is None else store
        for name in [name for name in self._files if _norm(name) != name]:
            self._files[_norm(name)] = self._files.pop(name)
        # Folder -> when it was created; file or link -> when it was saved.
        self._dirs: dict[str, float] = {"/": now}
        self._times: dict[str, float] = {}
        # Link -> the path it points to.
        self._links: dict[str, str] = {}
        self._lock = threading.RLock()
        for name in self._files:
            for parent in self._parents(name):
                self._dirs.setdefault(parent, now)

    def __getstate__(self) -> dict[str, Any]:
        # A snapshot taken under the lock, so no save lands half-way through it.
        with self._lock:
            return {
                "files": dict(self._files),
                "dirs": dict(self._dirs),
                "times": dict(self._times),
                "links": dict(self._links),
            }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._files = state["files"]
        self._dirs = state["dirs"]
        self._times = state["times"]
        self._links = state["links"]
        self._lock = threading.RLock()

    # -- reading -------------------------------------------------------------------

    def load(self, path: PathLike, **kwargs: Any) -> Any:
        with self._lock:
            key = self._resolve(_norm(path))
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
            candidates += [p for p in self._links if p.startswith(prefix) and self.is_file(p)]
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
                for p in (*self._files, *self._dirs, *self._links)
                if p.startswith(prefix) and p != folder
            }
        return natural_sorted(names)

    def exists(self, path: PathLike) -> bool:
        with self._lock:
            key = self._followed(_norm(path))
            return key is not None and (key in self._files or self._is_folder(key))

    def is_file(self, path: PathLike) -> bool:
        with self._lock:
            return self._followed(_norm(path)) in self._files

    def is_dir(self, path: PathLike) -> bool:
        with self._lock:
            key = self._followed(_norm(path))
            return key is not None and self._is_folder(key)

    def is_symlink(self, path: PathLike) -> bool:
        with self._lock:
            return _norm(path) in self._links

    def stat(self, path: PathLike, *, follow_symlinks: bool = True) -> FileStat:
        key = _norm(path)
        with self._lock:
            if key in self._links and not follow_symlinks:
                target = self._links[key]
                return FileStat("link", None, self._times.get(key), target, self.exists(key))
            key = self._resolve(key)
            if self._is_folder(key):
                return FileStat("folder", None, self._dirs.get(key))
            if key in self._files:
                return FileStat("file", _size(self._files[key]), self._times.get(key))
        raise not_found(self, path)

    def read_bytes(
        self, path: PathLike, *, sha256: str | None = None, max_bytes: int | None = None
    ) -> bytes:
        """The bytes saved at ``path`` (see :meth:`StorageBackend.read_bytes`).

        Only ``bytes``, ``bytearray`` and ``memoryview`` objects are bytes
        here; another object raises ``TypeError`` naming its type.
        """
        check_request(sha256, max_bytes)
        data = self.load(path)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"{_norm(path)!r} in the memory backend holds a {type(data).__name__}, not "
                "bytes, so it has no bytes to read; load() it instead"
            )
        content = bytes(data)
        return verified(
            _norm(path), lambda limit: content[: None if limit < 0 else limit], sha256, max_bytes
        )

    # -- writing -------------------------------------------------------------------

    def save(self, data: Any, path: PathLike, *, overwrite: bool = False, **kwargs: Any) -> None:
        key = _norm(path)
        with self._lock:
            if key in self._dirs:
                raise IsADirectoryError(21, "is a folder in the memory backend", key)
            if (key in self._files or key in self._links) and not overwrite:
                raise FileExistsError(
                    17, "already exists in the memory backend; pass overwrite=True to replace", key
                )
            parents = self._parents(key)
            for parent in parents:
                if parent in self._files or parent in self._links:
                    raise NotADirectoryError(20, "a file or link is in the way", parent)
            self._links.pop(key, None)  # a link saved over is replaced, as on disk
            now = time.time()
            for parent in parents:
                self._dirs.setdefault(parent, now)
            self._files[key] = data
            self._times[key] = now

    def delete(self, path: PathLike, *, recursive: bool = False) -> None:
        key = _norm(path)
        with self._lock:
            if key in self._links:  # the link, never what it points to
                del self._links[key]
                self._times.pop(key, None)
                return
            if key in self._files:
                del self._files[key]
                self._times.pop(key, None)
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
                self._links.clear()
                self._dirs = {"/": self._dirs["/"]}
                return
            prefix = key + "/"
            for file in [p for p in self._files if p.startswith(prefix)]:
                del self._files[file]
                self._times.pop(file, None)
            for link in [p for p in self._links if p.startswith(prefix)]:
                del self._links[link]
                self._times.pop(link, None)
            self._dirs = {
                d: t for d, t in self._dirs.items() if d != key and not d.startswith(prefix)
            }

    def ensure_directory(self, path: PathLike) -> str:
        key = _norm(path)
        with self._lock:
            for folder in (*self._parents(key), key):
                if folder in self._files or folder in self._links:
                    raise FileExistsError(
                        17, "a file or link is in the way in the memory backend", folder
                    )
            now = time.time()
            for folder in (*self._parents(key), key):
                self._dirs.setdefault(folder, now)
        return key

    def copy(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        self._transfer(src, dst, overwrite=overwrite, remove=False)

    def move(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        self._transfer(src, dst, overwrite=overwrite, remove=True)

    def create_symlink(self, target: PathLike, link: PathLike, *, overwrite: bool = False) -> None:
        """Make ``link`` point to ``target`` (see :meth:`StorageBackend.create_symlink`)."""
        source, key = _norm(target), _norm(link)
        with self._lock:
            if not self.exists(source):
                raise not_found(self, target)
            if key in self._dirs:
                if not overwrite:
                    raise FileExistsError(
                        17, "already exists in the memory backend; pass overwrite=True", key
                    )
                raise IsADirectoryError(
                    21, "is a folder in the memory backend; a link cannot replace it", key
                )
            if (key in self._files or key in self._links) and not overwrite:
                raise FileExistsError(
                    17, "already exists in the memory backend; pass overwrite=True to replace", key
                )
            self.ensure_directory(posixpath.dirname(key))
            self._files.pop(key, None)
            self._links[key] = source
            self._times[key] = time.time()

    # -- helpers -------------------------------------------------------------------

    def _folder(self, path: PathLike) -> str:
        with self._lock:
            key = self._resolve(_norm(path))
            if self._is_folder(key):
                return key
            if key in self._files:
                raise NotADirectoryError(20, "is a file, not a folder, in the memory backend", key)
        raise not_found(self, path)

    def _is_folder(self, key: str) -> bool:
        """A folder made here, or one holding a file put in a caller's store directly."""
        if key in self._dirs:
            return True
        prefix = key + "/"
        return key not in self._files and any(p.startswith(prefix) for p in self._files)

    def _followed(self, key: str) -> str | None:
        """``key`` after following links; None for a link loop."""
        try:
            return self._resolve(key)
        except OSError:
            return None

    def _resolve(self, key: str) -> str:
        """``key`` after following links; ``OSError`` (ELOOP) for a link loop."""
        for _ in range(_MAX_HOPS):
            if key not in self._links:
                return key
            key = self._links[key]
        raise OSError(errno.ELOOP, "too many levels of links in the memory backend", key)

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
            if remove and source in self._links:  # a move takes the link itself
                if self.exists(target) and not overwrite:
                    raise FileExistsError(
                        17,
                        "already exists in the memory backend; pass overwrite=True to replace",
                        target,
                    )
                if target != source:
                    self.create_symlink(self._links[source], target, overwrite=True)
                    self.delete(source)
                return
            source = self._resolve(source)
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
                if remove and old in self._times:  # a move keeps the time, as a rename does
                    self._times[new] = self._times[old]
            if remove:
                self.delete(source, recursive=True)


#: Links followed in a row before giving up (as the Linux kernel's limit).
_MAX_HOPS = 40


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
