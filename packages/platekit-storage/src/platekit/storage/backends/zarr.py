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

from platekit.storage._base import StorageBackend, not_found
from platekit.storage._listing import name_filter
from platekit.storage._natural import natural_sorted
from platekit.storage._zarr_nodes import (
    METADATA,
    STAGING,
    Node,
    check_target,
    children,
    identity,
    locate,
    node_kind,
    occupied,
    publish,
    staging_folder,
    what,
    write_group_metadata,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    import numpy as np

    PathLike = str | os.PathLike[str]

__all__ = ["ZarrBackend"]

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
            node = locate(path)
            _require_zarr3()
            import numpy as np
            import zarr
            import zarr.storage

            for _ in range(10):
                kind = what(node)
                if kind is None:
                    raise not_found(self, path)
                if kind == "group":
                    raise IsADirectoryError(
                        errno.EISDIR,
                        "is a Zarr group, not an array, in the zarr backend",
                        node.path,
                    )
                before = identity(node.path)
                if before is None:
                    continue  # gone since the check above
                try:
                    store = zarr.storage.LocalStore(node.path, read_only=True)
                    data = np.asarray(zarr.open_array(store, mode="r")[...])
                except Exception:
                    if identity(node.path) == before:
                        raise
                    continue  # replaced or deleted while being read
                if identity(node.path) == before:
                    return data
            raise OSError(errno.EBUSY, "kept being replaced while being read", node.path)

        def attributes(self, path: PathLike) -> dict[str, Any]:
            """The user attributes of the array or group at ``path`` (``{}`` when none).

            Raises ``FileNotFoundError`` when no node is there.
            """
            node = locate(path)
            if what(node) is None:
                raise not_found(self, path)
            try:
                with open(os.path.join(node.path, METADATA), "rb") as file:
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
                for name, kind in children(current):
                    if kind == "group":
                        if recursive:
                            pending.append(os.path.join(current, name))
                        continue
                    if keep(name):
                        found.append(os.path.join(current, name))
            return natural_sorted(found)

        def list_dir(self, path: PathLike) -> list[str]:
            """Names of the arrays and groups directly in the group ``path``."""
            return natural_sorted(name for name, _ in children(self._group(path).path))

        def exists(self, path: PathLike) -> bool:
            """Whether an array or group is at ``path``."""
            return what(locate(path)) is not None

        def is_file(self, path: PathLike) -> bool:
            """Whether an array is at ``path``."""
            return what(locate(path)) == "array"

        def is_dir(self, path: PathLike) -> bool:
            """Whether a group (or the store root) is at ``path``."""
            return what(locate(path)) == "group"

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
            node = locate(path)
            array = _as_array(data, node.path)
            options = self._create_options(array, kwargs)
            if not node.names:
                raise IsADirectoryError(
                    errno.EISDIR,
                    "is the root of a Zarr store, which is a group; save arrays inside it",
                    node.path,
                )
            check_target(node, "array", overwrite)
            parent = self._ensure_groups(node.root, node.names[:-1], NotADirectoryError)
            _require_zarr3()
            import zarr
            import zarr.storage

            with staging_folder(parent) as staging:
                fresh = os.path.join(staging, "new")
                zarr.create_array(
                    zarr.storage.LocalStore(fresh), data=array, zarr_format=3, **options
                )
                publish(fresh, node, "array", overwrite, staging)

        def delete(self, path: PathLike, *, recursive: bool = False) -> None:
            """Remove the array at ``path``, or the group with ``recursive=True``."""
            node = locate(path)
            kind = what(node)
            if kind is None:
                raise not_found(self, path)
            if kind == "group" and not recursive:
                raise IsADirectoryError(
                    errno.EISDIR,
                    "is a Zarr group; pass recursive=True to delete it and everything in it",
                    node.path,
                )
            with staging_folder(os.path.dirname(os.path.abspath(node.path))) as staging:
                try:
                    os.rename(node.path, os.path.join(staging, "deleted"))
                except FileNotFoundError:
                    raise not_found(self, path) from None

        def ensure_directory(self, path: PathLike) -> str:
            """Create the group ``path`` and the groups above it; return the path.

            Raises ``FileExistsError`` when an array is at ``path`` or above it.
            """
            node = locate(path)
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

        def _group(self, path: PathLike) -> Node:
            node = locate(path)
            kind = what(node)
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
                kind = node_kind(folder)
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
                write_group_metadata(folder)
            return folder

        def _transfer(self, src: PathLike, dst: PathLike, *, overwrite: bool, remove: bool) -> None:
            source, target = locate(src), locate(dst)
            kind = what(source)
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
                    raise occupied(target)
                return
            if kind == "group" and there.startswith(here + os.sep):
                raise ValueError(
                    f"cannot put the group {source.path!r} inside itself ({target.path!r})"
                )
            check_target(target, kind, overwrite)
            if target.names:
                parent = self._ensure_groups(target.root, target.names[:-1], NotADirectoryError)
            else:
                parent = os.path.dirname(there)
                os.makedirs(parent, exist_ok=True)
            with staging_folder(parent) as staging:
                if remove:
                    if kind == "group":
                        write_group_metadata(source.path)  # a store root may have none yet
                    try:
                        publish(source.path, target, kind, overwrite, staging)
                        return
                    except OSError as exc:
                        if exc.errno != errno.EXDEV:
                            raise
                import shutil

                fresh = os.path.join(staging, "new")
                before = identity(source.path)
                shutil.copytree(source.path, fresh, ignore=shutil.ignore_patterns(STAGING + "*"))
                if identity(source.path) != before:
                    raise OSError(errno.EBUSY, "was replaced while being copied", source.path)
                if kind == "group":
                    write_group_metadata(fresh)
                publish(fresh, target, kind, overwrite, staging)
            if remove:  # across filesystems: copied, now remove the original
                self.delete(source.path, recursive=True)

else:

    def __getattr__(name: str) -> Any:
        if name == "ZarrBackend":
            raise ImportError(f"the zarr storage backend is not installed: {_install_hint()}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
