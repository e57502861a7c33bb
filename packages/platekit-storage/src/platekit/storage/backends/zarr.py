"""The ``zarr`` backend: arrays as nodes of local Zarr v3 stores, through zarr-python 3.

The class exists only where zarr-python can run: with the ``zarr`` extra
installed (``pip install 'platekit-storage[zarr]'``) on Python 3.11 or newer.
Elsewhere this module defines no backend, so ``zarr`` is not among the
registry's keys and ``BackendRegistry()["zarr"]`` says what to install. zarr itself is
imported on first use, never when this module is imported: zarr-python takes
hundreds of milliseconds to import.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import sys
from contextlib import contextmanager

from platekit.storage._base import StorageBackend, not_found
from platekit.storage._listing import name_filter
from platekit.storage._natural import natural_sorted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any

    import numpy as np

    PathLike = str | os.PathLike[str]

__all__ = ["ZarrBackend"]

#: Each node of a Zarr v3 hierarchy is a folder holding this metadata document.
_METADATA = "zarr.json"
#: Prefix of the folders and files a write builds before publishing them; never a node.
_STAGING = ".platekit-tmp-"
_GROUP_METADATA = b'{"zarr_format": 3, "node_type": "group", "attributes": {}}'
#: zarr.create_array options that save() passes through as they are.
_PASSTHROUGH = frozenset(
    {
        "shards",
        "filters",
        "serializer",
        "fill_value",
        "order",
        "dimension_names",
        "chunk_key_encoding",
        "config",
    }
)
_ERRNO = {FileExistsError: errno.EEXIST, NotADirectoryError: errno.ENOTDIR}


def _zarr_installed() -> bool:
    """Whether zarr-python can be imported here, found without importing it."""
    # zarr-python 3 needs Python 3.11; hexversion, because a type checker set to
    # Python 3.10 would take a version_info test as settled and skip the rest.
    if sys.hexversion < 0x030B0000:
        return False
    try:
        return importlib.util.find_spec("zarr") is not None
    except (ImportError, ValueError):
        return False


def _install_hint() -> str:
    from platekit.storage._registry import INSTALL_HINTS

    return INSTALL_HINTS["zarr"]


_checked_version = False


def _require_zarr3() -> None:
    """Import zarr-python; refuse, with the install command, a version older than 3."""
    global _checked_version
    if _checked_version:
        return
    import zarr

    major = zarr.__version__.partition(".")[0]
    if not major.isdigit() or int(major) < 3:
        raise ImportError(
            f"the zarr storage backend needs zarr-python 3 or newer, found {zarr.__version__}: "
            f"{_install_hint()}"
        )
    _checked_version = True


# -- the path model ------------------------------------------------------------------


class _Node:
    """A path inside a store: the store's root folder and the node names below it."""

    __slots__ = ("names", "path", "root")

    def __init__(self, path: str, root: str, names: tuple[str, ...]) -> None:
        self.path = path
        self.root = root
        self.names = names


def _locate(path: PathLike) -> _Node:
    """Split ``path`` at its first component ending in ``.zarr``."""
    text = os.fspath(path)
    if "://" in text:
        raise ValueError(
            f"{text!r} is a URL; the zarr backend reads and writes local Zarr stores only "
            "(folders whose name ends in .zarr)"
        )
    text = os.path.normpath(text)
    parts = _components(text)
    for index, part in enumerate(parts):
        if part.lower().endswith(".zarr"):
            names = tuple(parts[index + 1 :])
            for name in names:
                _check_name(name, text)
            return _Node(text, os.path.join(*parts[: index + 1]), names)
    raise ValueError(
        f"{text!r} is not inside a Zarr store: zarr backend paths go through a folder whose "
        "name ends in .zarr, such as /data/plate.zarr/A/1/0"
    )


def _components(path: str) -> list[str]:
    """``path`` split into its anchor (``/``, ``C:\\``; none when relative) and names."""
    parts = []
    head, tail = os.path.split(path)
    while tail:
        parts.append(tail)
        head, tail = os.path.split(head)
    if head:
        parts.append(head)
    return parts[::-1]


def _check_name(name: str, path: str) -> None:
    if name.startswith("__"):
        raise ValueError(f"{path!r}: Zarr v3 reserves node names starting with '__' ({name!r})")
    if name.startswith(_STAGING) or name == _METADATA:
        raise ValueError(f"{path!r}: {name!r} is reserved by the zarr backend as a node name")


def _kind(folder: str) -> str | None:
    """``"array"`` or ``"group"`` when ``folder`` is a Zarr v3 node, else None."""
    try:
        with open(os.path.join(folder, _METADATA), "rb") as file:
            metadata = json.loads(file.read())
    except (OSError, ValueError):
        return None
    if not isinstance(metadata, dict) or metadata.get("zarr_format") != 3:
        return None
    kind = metadata.get("node_type")
    return kind if kind in ("array", "group") else None


def _what(node: _Node) -> str | None:
    """The node's kind; an existing store root folder counts as a group."""
    kind = _kind(node.path)
    if kind is None and not node.names and os.path.isdir(node.path):
        return "group"
    return kind


def _children(folder: str) -> Iterator[tuple[str, str]]:
    """``(name, kind)`` of each node directly in ``folder``."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(_STAGING) or not entry.is_dir():
                continue
            kind = _kind(entry.path)
            if kind is not None:
                yield entry.name, kind


def _identity(folder: str) -> tuple[int, int, int] | None:
    """Changes when the folder at this path is replaced by another one."""
    try:
        status = os.stat(folder)
    except OSError:
        return None
    return status.st_dev, status.st_ino, status.st_ctime_ns


# -- writing ---------------------------------------------------------------------------


@contextmanager
def _staging(folder: str) -> Iterator[str]:
    """A private folder next to the destination, removed afterwards.

    It has no zarr.json, so it is no node; being in the destination's own
    folder, a rename from it is on the same filesystem.
    """
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix=_STAGING, dir=folder)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write_group_metadata(folder: str) -> None:
    """Give ``folder`` a group zarr.json unless it has one; safe against other writers."""
    target = os.path.join(folder, _METADATA)
    if os.path.exists(target):
        return
    temporary = os.path.join(folder, f"{_STAGING}{os.urandom(6).hex()}")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(_GROUP_METADATA)
        try:
            # A link never replaces: a group made meanwhile keeps its attributes.
            os.link(temporary, target)
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links
            os.replace(temporary, target)
    finally:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass


def _mismatch(node: _Node, existing: str) -> OSError:
    if existing == "group":
        return IsADirectoryError(
            errno.EISDIR,
            "is a Zarr group in the zarr backend; an array cannot replace it",
            node.path,
        )
    return NotADirectoryError(
        errno.ENOTDIR, "is a Zarr array in the zarr backend; a group cannot replace it", node.path
    )


def _occupied(node: _Node) -> FileExistsError:
    return FileExistsError(
        errno.EEXIST,
        "already exists in the zarr backend; pass overwrite=True to replace it",
        node.path,
    )


def _check_target(node: _Node, kind: str, overwrite: bool) -> None:
    """Refuse early what :func:`_publish` would refuse."""
    existing = _what(node)
    if existing is None:
        return
    if existing != kind:
        raise _mismatch(node, existing)
    if not overwrite:
        raise _occupied(node)


def _publish(fresh: str, node: _Node, kind: str, overwrite: bool, staging: str) -> None:
    """Rename the complete node folder ``fresh`` to ``node``.

    The old node, when replaced, is first renamed into ``staging``: a reader
    sees the old node, briefly nothing, or the new node, never a mix. A rename
    onto a non-empty folder fails, so a node that appeared meanwhile is never
    overwritten without ``overwrite``.
    """
    for attempt in range(100):
        try:
            os.rename(fresh, node.path)
            return
        except OSError:
            if not os.path.lexists(node.path):
                raise
            existing = _what(node)
            if existing is not None and existing != kind:
                raise _mismatch(node, existing) from None
            if existing is None:
                raise FileExistsError(
                    errno.EEXIST, "something that is not a Zarr node is in the way", node.path
                ) from None
            if not overwrite:
                raise _occupied(node) from None
        try:
            os.rename(node.path, os.path.join(staging, f"replaced-{attempt}"))
        except FileNotFoundError:
            pass  # another writer moved it first; try again
    raise OSError(errno.EBUSY, "kept being replaced by other writers", node.path)


def _as_array(data: Any, path: str) -> np.ndarray[Any, Any]:
    if not hasattr(type(data), "__array__"):
        raise TypeError(
            f"the zarr backend stores arrays, not {type(data).__name__}: {path!r} is inside a "
            "Zarr store. Save JSON, text or bytes through the disk backend, outside the .zarr "
            "folder, or attach JSON-safe metadata to an array with save(..., attributes={...})."
        )
    import numpy as np

    array = np.asarray(data)
    if array.dtype.hasobject:
        raise TypeError(
            f"the zarr backend cannot store an array of Python objects at {path!r}; "
            "convert it to a numeric, boolean or string dtype first"
        )
    return array


def _plane_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """One chunk per 2-D plane: ``(1, ..., 1, height, width)``; a 0-D or 1-D array is one chunk."""
    whole = tuple(max(1, size) for size in shape[-2:])
    return (1,) * max(0, len(shape) - 2) + whole


# -- the backend ---------------------------------------------------------------------------

if _zarr_installed():

    class ZarrBackend(StorageBackend):
        """Arrays as Zarr v3 nodes in local stores, written and read through zarr-python 3.

        **Paths.** A path names a node inside the store rooted at its first
        component ending in ``.zarr`` (in any case): in ``/data/out.zarr/A/1/0`` the store is
        ``/data/out.zarr`` and ``A/1/0`` an array in the groups ``A`` and
        ``A/1``. A path without such a component, or a URL, raises
        ``ValueError`` naming it. Arrays are this backend's files and groups
        its folders; the store root is always a group (an existing root
        folder counts as one before it has a ``zarr.json``). Names starting
        with ``__`` (reserved by Zarr) or ``.platekit-tmp-`` are refused.

        **Saving** takes a numpy array or anything with ``__array__`` and
        creates a Zarr v3 array, with the groups above it (``zarr.json`` in
        each folder). Keyword arguments of :meth:`save`:

        - ``chunks``: chunk shape; by default one chunk per 2-D plane,
          ``(1, ..., 1, height, width)`` (a 0-D or 1-D array is one chunk).
        - ``compressors``: as ``zarr.create_array`` takes them; by default
          zarr's default codec (Zstandard); ``None`` for none.
        - ``attributes``: a dict of JSON-safe user attributes stored in the
          array's ``zarr.json``; read them back with :meth:`attributes`.
        - ``shards``, ``filters``, ``serializer``, ``fill_value``, ``order``,
          ``dimension_names``, ``chunk_key_encoding``, ``config``: passed to
          ``zarr.create_array`` as they are. Anything else raises ``TypeError``.

        **Non-array data** (dicts, lists, text, bytes) is refused with
        ``TypeError``: a path in a Zarr store names a node, and a node is an
        array or a group. Keep JSON, text and bytes in the disk backend next
        to the store, or attach JSON to an array through ``attributes=``. (Not
        folded into a group's attributes: that would make "files" other Zarr
        readers cannot see, could not hold bytes, and would make ``load``
        return something ``list_files`` never listed.)

        **What a write guarantees**, for local filesystems: a new node (from
        :meth:`save`, :meth:`copy` or :meth:`move`) is built complete in a
        private folder next to its destination and then renamed into place,
        so no reader, in this process or another, sees a half-written array
        as complete. Without ``overwrite=True`` an existing node is never
        replaced, even one another writer publishes meanwhile. With it, the
        old node is renamed aside and the new one renamed in: between the two
        renames the path is briefly absent. A process killed while writing
        leaves the old node (or no node) at the path, plus at most a hidden
        ``.platekit-tmp-*`` folder that is not a node, which listings skip and
        which may be removed. :meth:`delete` renames the node aside before
        removing it, so it disappears at once. :meth:`load` rereads an array
        that was replaced while it read, so it returns the old or the new
        data, never a mix.

        Only Zarr v3 nodes are recognised; stores on remote filesystems are
        not supported.
        """

        _backend_type = "zarr"

        # -- reading -------------------------------------------------------------------

        def load(self, path: PathLike, **kwargs: Any) -> Any:
            """The array at ``path`` as a numpy array (see :meth:`StorageBackend.load`)."""
            if kwargs:
                raise TypeError(f"the zarr backend's load() takes no options, got {sorted(kwargs)}")
            node = _locate(path)
            _require_zarr3()
            import numpy as np
            import zarr
            import zarr.storage

            for _ in range(10):
                kind = _what(node)
                if kind is None:
                    raise not_found(self, path)
                if kind == "group":
                    raise IsADirectoryError(
                        errno.EISDIR,
                        "is a Zarr group, not an array, in the zarr backend",
                        node.path,
                    )
                before = _identity(node.path)
                if before is None:
                    continue  # gone since the check above
                try:
                    store = zarr.storage.LocalStore(node.path, read_only=True)
                    data = np.asarray(zarr.open_array(store, mode="r")[...])
                except Exception:
                    if _identity(node.path) == before:
                        raise
                    continue  # replaced or deleted while being read
                if _identity(node.path) == before:
                    return data
            raise OSError(errno.EBUSY, "kept being replaced while being read", node.path)

        def attributes(self, path: PathLike) -> dict[str, Any]:
            """The user attributes of the array or group at ``path`` (``{}`` when none).

            Raises ``FileNotFoundError`` when no node is there.
            """
            node = _locate(path)
            if _what(node) is None:
                raise not_found(self, path)
            try:
                with open(os.path.join(node.path, _METADATA), "rb") as file:
                    found = json.loads(file.read()).get("attributes") or {}
            except FileNotFoundError:  # a store root without metadata yet
                return {}
            return dict(found)

        def list_files(
            self,
            directory: PathLike,
            *,
            pattern: str | None = None,
            extensions: Iterable[str] | None = None,
            recursive: bool = False,
        ) -> list[str]:
            """Paths of the arrays in the group ``directory`` (see the contract)."""
            folder = self._group(directory).path
            keep = name_filter(pattern, extensions)
            found = []
            pending = [folder]
            while pending:
                current = pending.pop()
                for name, kind in _children(current):
                    if kind == "group":
                        if recursive:
                            pending.append(os.path.join(current, name))
                        continue
                    if keep(name):
                        found.append(os.path.join(current, name))
            return natural_sorted(found)

        def list_dir(self, path: PathLike) -> list[str]:
            """Names of the arrays and groups directly in the group ``path``."""
            return natural_sorted(name for name, _ in _children(self._group(path).path))

        def exists(self, path: PathLike) -> bool:
            """Whether an array or group is at ``path``."""
            return _what(_locate(path)) is not None

        def is_file(self, path: PathLike) -> bool:
            """Whether an array is at ``path``."""
            return _what(_locate(path)) == "array"

        def is_dir(self, path: PathLike) -> bool:
            """Whether a group (or the store root) is at ``path``."""
            return _what(_locate(path)) == "group"

        # -- writing -------------------------------------------------------------------

        def save(
            self, data: Any, path: PathLike, *, overwrite: bool = False, **kwargs: Any
        ) -> None:
            """Store ``data`` as a Zarr v3 array at ``path``; see the class for options.

            Raises ``TypeError`` for data that is not an array, or an
            unknown option; ``IsADirectoryError`` when a group (or the store
            root) is at ``path``; ``FileExistsError`` as
            :meth:`StorageBackend.save`; ``NotADirectoryError`` when an
            array is where a group above ``path`` should be.
            """
            node = _locate(path)
            array = _as_array(data, node.path)
            options = self._create_options(array, kwargs)
            if not node.names:
                raise IsADirectoryError(
                    errno.EISDIR,
                    "is the root of a Zarr store, which is a group; save arrays inside it",
                    node.path,
                )
            _check_target(node, "array", overwrite)
            parent = self._ensure_groups(node.root, node.names[:-1], NotADirectoryError)
            _require_zarr3()
            import zarr
            import zarr.storage

            with _staging(parent) as staging:
                fresh = os.path.join(staging, "new")
                zarr.create_array(
                    zarr.storage.LocalStore(fresh), data=array, zarr_format=3, **options
                )
                _publish(fresh, node, "array", overwrite, staging)

        def delete(self, path: PathLike, *, recursive: bool = False) -> None:
            """Remove the array at ``path``, or the group with ``recursive=True``."""
            node = _locate(path)
            kind = _what(node)
            if kind is None:
                raise not_found(self, path)
            if kind == "group" and not recursive:
                raise IsADirectoryError(
                    errno.EISDIR,
                    "is a Zarr group; pass recursive=True to delete it and everything in it",
                    node.path,
                )
            with _staging(os.path.dirname(os.path.abspath(node.path))) as staging:
                try:
                    os.rename(node.path, os.path.join(staging, "deleted"))
                except FileNotFoundError:
                    raise not_found(self, path) from None

        def ensure_directory(self, path: PathLike) -> str:
            """Create the group ``path`` and the groups above it; return the path.

            Raises ``FileExistsError`` when an array is at ``path`` or above it.
            """
            node = _locate(path)
            self._ensure_groups(node.root, node.names, FileExistsError)
            return node.path

        def copy(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
            """Copy the array or group at ``src`` to ``dst``.

            ``overwrite=True`` replaces a node of the same kind as a whole (a
            group's old contents do not survive).
            """
            self._transfer(src, dst, overwrite=overwrite, remove=False)

        def move(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
            """Move the array or group at ``src`` to ``dst``: a rename on one filesystem."""
            self._transfer(src, dst, overwrite=overwrite, remove=True)

        # -- helpers -------------------------------------------------------------------

        def _group(self, path: PathLike) -> _Node:
            node = _locate(path)
            kind = _what(node)
            if kind is None:
                raise not_found(self, path)
            if kind == "array":
                raise NotADirectoryError(
                    errno.ENOTDIR, "is a Zarr array, not a group, in the zarr backend", node.path
                )
            return node

        @staticmethod
        def _create_options(array: np.ndarray[Any, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
            options = dict(kwargs)
            unknown = set(options) - _PASSTHROUGH - {"chunks", "compressors", "attributes"}
            if unknown:
                raise TypeError(
                    f"the zarr backend's save() does not take {sorted(unknown)}; it takes chunks, "
                    f"compressors, attributes and {', '.join(sorted(_PASSTHROUGH))}"
                )
            if options.get("chunks") is None:
                options["chunks"] = _plane_chunks(array.shape)
            if options.get("attributes") is None:
                options.pop("attributes", None)
            return options

        @staticmethod
        def _ensure_groups(
            root: str, names: tuple[str, ...], blocked: type[FileExistsError | NotADirectoryError]
        ) -> str:
            """Make ``root`` and each folder of ``names`` below it a group; return the last.

            An array or a file in the way raises ``blocked``.
            """
            folder = root
            for depth in range(len(names) + 1):
                if depth:
                    folder = os.path.join(folder, names[depth - 1])
                kind = _kind(folder)
                if kind == "group":
                    continue
                if kind == "array":
                    raise blocked(_ERRNO[blocked], "a Zarr array is in the way of a group", folder)
                try:
                    os.makedirs(folder, exist_ok=True)
                except (FileExistsError, NotADirectoryError):
                    raise blocked(
                        _ERRNO[blocked], "a file is in the way of a group", folder
                    ) from None
                _write_group_metadata(folder)
            return folder

        def _transfer(self, src: PathLike, dst: PathLike, *, overwrite: bool, remove: bool) -> None:
            source, target = _locate(src), _locate(dst)
            kind = _what(source)
            if kind is None:
                raise not_found(self, src)
            if kind == "array" and not target.names:
                raise IsADirectoryError(
                    errno.EISDIR,
                    "is the root of a Zarr store, which is a group; an array cannot go there",
                    target.path,
                )
            here, there = os.path.abspath(source.path), os.path.abspath(target.path)
            if here == there:
                if not overwrite:
                    raise _occupied(target)
                return
            if kind == "group" and there.startswith(here + os.sep):
                raise ValueError(
                    f"cannot put the group {source.path!r} inside itself ({target.path!r})"
                )
            _check_target(target, kind, overwrite)
            if target.names:
                parent = self._ensure_groups(target.root, target.names[:-1], NotADirectoryError)
            else:
                parent = os.path.dirname(there)
                os.makedirs(parent, exist_ok=True)
            with _staging(parent) as staging:
                if remove:
                    if kind == "group":
                        _write_group_metadata(source.path)  # a store root may have none yet
                    try:
                        _publish(source.path, target, kind, overwrite, staging)
                        return
                    except OSError as exc:
                        if exc.errno != errno.EXDEV:
                            raise
                import shutil

                fresh = os.path.join(staging, "new")
                before = _identity(source.path)
                shutil.copytree(source.path, fresh, ignore=shutil.ignore_patterns(_STAGING + "*"))
                if _identity(source.path) != before:
                    raise OSError(errno.EBUSY, "was replaced while being copied", source.path)
                if kind == "group":
                    _write_group_metadata(fresh)
                _publish(fresh, target, kind, overwrite, staging)
            if remove:  # across filesystems: copied, now remove the original
                self.delete(source.path, recursive=True)

else:

    def __getattr__(name: str) -> Any:
        if name == "ZarrBackend":
            raise ImportError(f"the zarr storage backend is not installed: {_install_hint()}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
