"""The ``zarr`` backend: arrays as nodes of local Zarr v3 (or v2) stores, through zarr-python 3.

The class exists only where zarr-python can run: with the ``zarr`` extra
installed (``python -m pip install './packages/platekit-storage[zarr]'`` from a
checkout) on Python 3.11 or newer.
Elsewhere this module defines no backend, so ``zarr`` is not among the
registry's keys and ``BackendRegistry()["zarr"]`` says what to install. zarr itself is
imported on first use, never when this module is imported: zarr-python takes
hundreds of milliseconds to import.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterable
from contextlib import contextmanager

from platekit.storage._base import StorageBackend, not_found
from platekit.storage._errors import storage_errors
from platekit.storage._listing import name_filter
from platekit.storage._natural import natural_sorted
from platekit.storage._stat import FileStat
from platekit.storage._zarr_attributes import json_attributes, read_attributes, write_attributes
from platekit.storage._zarr_buffer import write as write_into
from platekit.storage._zarr_config import NUMCODECS_WARNING, ZarrConfig
from platekit.storage._zarr_links import create_link, link_stat, move_link
from platekit.storage._zarr_nodes import (
    METADATA,
    STAGING,
    V2_ARRAY,
    V2_ATTRIBUTES,
    V2_GROUP,
    Node,
    check_target,
    children,
    ensure_groups,
    identify,
    identity,
    locate,
    node_info,
    occupied,
    publish,
    remove_leftovers,
    staging_folder,
    what,
    write_group_metadata,
)
from platekit.storage._zarr_writer import (
    ArrayWriter,
    as_array,
    as_shape,
    check_dtype,
    create_options,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any, Literal

    PathLike = str | os.PathLike[str]

__all__ = ["ArrayWriter", "ZarrBackend"]


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
    from platekit.storage._registry import install_hint

    return str(install_hint("zarr"))


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


# -- the backend ---------------------------------------------------------------------------

if _zarr_installed():

    class ZarrBackend(StorageBackend):
        """Arrays as Zarr v3 (or v2) nodes in local stores, written and read through zarr-python 3.

        ``ZarrBackend()`` (and ``BackendRegistry()["zarr"]``) writes Zarr v3;
        ``ZarrBackend(zarr_format=2)`` writes Zarr v2, as OME-NGFF 0.4 wants it:
        ``.zgroup``, ``.zarray`` and ``.zattrs`` documents, and chunk keys
        with ``"/"`` between the indices (``dimension_separator: "/"``).
        Either backend reads, lists, copies, moves and deletes nodes of both
        formats. Writes create nodes of the backend's own format, and a node
        never goes into, or replaces, a node of the other format: that raises
        ``ValueError`` naming both formats, since a Zarr hierarchy holds one.
        (A store root folder without metadata takes the format of its first
        write.) :meth:`copy` and :meth:`move` keep a node's format, and the
        groups they create above it take the same one.

        **Paths.** A path names a node inside the store rooted at its first
        component ending in ``.zarr`` (in any case): in ``/data/out.zarr/A/1/0`` the store is
        ``/data/out.zarr`` and ``A/1/0`` an array in the groups ``A`` and
        ``A/1``. A path without such a component, or a URL, raises
        ``ValueError`` naming it. Arrays are this backend's files and groups
        its folders; the store root is always a group (an existing root
        folder counts as one before it has metadata). Names starting with
        ``__`` (reserved by Zarr) or ``.platekit-tmp-``, and the names of
        Zarr metadata documents, are refused.

        **Compression and chunking** as one object: a
        :class:`~platekit.storage.ZarrConfig` given as
        ``ZarrBackend(zarr_config=...)`` applies to every write, and as
        ``zarr_config=`` to one :meth:`save` or :meth:`array_writer`. Without
        one the backend writes what ``ZarrConfig()`` says: Blosc with LZ4
        inside at level 5 and byte shuffle, one chunk per 2-D plane, no shards.

        **Saving** takes a numpy array or anything with ``__array__`` and
        creates an array, with the groups above it. Keyword arguments of
        :meth:`save` (and of :meth:`array_writer`), with the same defaults
        for both formats:

        - ``zarr_config``: a :class:`~platekit.storage.ZarrConfig` for this
          call instead of the backend's.
        - ``chunks``: chunk shape; by default the config's (one chunk per 2-D
          plane, ``(1, ..., 1, height, width)``; a 0-D or 1-D array is one chunk).
        - ``compressors``: as ``zarr.create_array`` takes them; by default
          the config's codec (Blosc-LZ4, level 5, in both formats); ``None``
          for none. Zarr v2 takes numcodecs codecs, Zarr v3 zarr.codecs ones.
        - ``attributes``: a dict of JSON-safe user attributes stored with the
          array; read them back with :meth:`attributes`.
        - ``shards``, ``filters``, ``serializer``, ``fill_value``, ``order``,
          ``dimension_names``, ``chunk_key_encoding``, ``config``: passed to
          ``zarr.create_array`` as they are. A ``zarr_format=2`` backend
          refuses ``dimension_names`` and ``shards`` (``TypeError``: v2 has
          neither). ``chunks``, ``compressors`` and ``shards`` win over the
          config. Anything else raises ``TypeError``.

        **Writing a large array piece by piece**: :meth:`array_writer` gives
        an object to assign planes into (``out[t, c, z] = plane``) and
        publishes the array when the ``with`` block ends, as :meth:`save`
        would have; an exception in the block publishes nothing.

        **Attributes** of arrays and groups, the store root included, are
        read with :meth:`attributes` and replaced or merged with
        :meth:`set_attributes`.

        **Non-array data** (dicts, lists, text, bytes) is refused with
        ``TypeError``: a path in a Zarr store names a node, and a node is an
        array or a group. Keep JSON, text and bytes in the disk backend next
        to the store, or attach JSON to a node through ``attributes=`` or
        :meth:`set_attributes`. (Not folded into a group's attributes as
        "files": other Zarr readers could not see them, they could not hold
        bytes, and ``load`` would return something ``list_files`` never listed.)

        **What a write guarantees**, for local filesystems: a new node (from
        :meth:`save`, :meth:`array_writer`, :meth:`copy` or :meth:`move`) is
        built complete in a private folder next to its destination and then
        renamed into place, so no reader, in this process or another, sees a
        half-written array as complete. Without ``overwrite=True`` an existing
        node is never replaced, even one another writer publishes meanwhile.
        With it, the old node is renamed aside and the new one renamed in:
        between the two renames the path is briefly absent. A process killed
        while writing leaves the old node (or no node) at the path, plus at
        most a hidden ``.platekit-tmp-*`` folder or file that is not a node,
        which listings skip and which may be removed. :meth:`set_attributes`
        replaces the metadata document with ``os.replace``, so a reader sees
        the old attributes or the new ones. :meth:`delete` renames the node
        aside before removing it, so it disappears at once. :meth:`load`
        rereads an array that was replaced while it read, so it returns the
        old or the new data, never a mix.

        **Links** (:meth:`create_symlink`) point from a path to an array of
        the same store: the file system's symbolic link, holding the
        target's path relative to the link, so other Zarr readers follow it
        and the store keeps its links when moved. A link loads, lists and
        copies as its array; :meth:`delete` and :meth:`move` act on the link
        itself, and ``stat(path, follow_symlinks=False)`` describes it.

        Stores on remote filesystems are not supported.
        """

        _backend_type = "zarr"

        def __init__(
            self, zarr_format: Literal[2, 3] = 3, *, zarr_config: ZarrConfig | None = None
        ) -> None:
            """A backend writing Zarr v``zarr_format`` nodes (3 or 2) as ``zarr_config`` says.

            Raises ``ValueError`` for another format, ``TypeError`` when
            ``zarr_config`` is not a :class:`~platekit.storage.ZarrConfig`, and
            ``TypeError`` for a config with shards on a Zarr v2 backend.
            """
            given: object = zarr_format  # checked as any value: callers need not type-check
            if type(given) is not int or given not in (2, 3):
                raise ValueError(
                    f"zarr_format must be 3 (Zarr v3, OME-NGFF 0.5) or 2 (Zarr v2, "
                    f"OME-NGFF 0.4), not {zarr_format!r}"
                )
            config: object = ZarrConfig() if zarr_config is None else zarr_config
            if not isinstance(config, ZarrConfig):
                raise TypeError(
                    "zarr_config must be a platekit.storage.ZarrConfig, "
                    f"not {type(config).__name__}"
                )
            if zarr_format == 2 and config.shards is not None:
                raise TypeError(
                    "Zarr v2 arrays have no shards, so a zarr_format=2 backend cannot take a "
                    "ZarrConfig with shards; leave them out or write Zarr v3"
                )
            self._format: Literal[2, 3] = zarr_format
            self._config = config

        @property
        def zarr_format(self) -> Literal[2, 3]:
            """The Zarr format this backend writes: 3 or 2."""
            return self._format

        @property
        def zarr_config(self) -> ZarrConfig:
            """How this backend compresses and chunks what it writes."""
            return self._config

        def __repr__(self) -> str:
            shown = f" {self._config!r}" if self._config != ZarrConfig() else ""
            return f"<{type(self).__name__} {self.name!r} zarr_format={self._format}{shown}>"

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
                info = identify(node)
                if info is None:
                    raise not_found(self, path)
                if info[0] == "group":
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
                    with warnings.catch_warnings():
                        # Said when written; reading such an array needs no warning.
                        warnings.filterwarnings("ignore", message=NUMCODECS_WARNING)
                        array = zarr.open_array(store, mode="r", zarr_format=info[1])
                    data = np.asarray(array[...])
                except Exception:
                    if identity(node.path) == before:
                        raise
                    continue  # replaced or deleted while being read
                if identity(node.path) == before:
                    return data
            raise OSError(errno.EBUSY, "kept being replaced while being read", node.path)

        def attributes(self, path: PathLike) -> dict[str, Any]:
            """The user attributes of the array or group at ``path`` (``{}`` when none).

            Works for the store root too. Raises ``FileNotFoundError`` when no
            node is there.
            """
            node = locate(path)
            info = identify(node)
            if info is None:
                raise not_found(self, path)
            if info[1] is None:  # a store root without metadata yet
                return {}
            try:
                return read_attributes(node.path, info[1])
            except FileNotFoundError:
                raise not_found(self, path) from None

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

        def is_symlink(self, path: PathLike) -> bool:
            """Whether the node's folder at ``path`` is a symbolic link (made by other means)."""
            return os.path.islink(locate(path).path)

        def stat(self, path: PathLike, *, follow_symlinks: bool = True) -> FileStat:
            """The kind, size and modification time of the node at ``path``.

            An array is a ``"file"`` whose size is the bytes its files take
            on disk (metadata and compressed chunks) and whose time is its
            metadata's; a group is a ``"folder"`` with its metadata's time.
            """
            node = locate(path)
            if not follow_symlinks and os.path.islink(node.path):
                return link_stat(node)
            info = identify(node)
            if info is None:
                raise not_found(self, path)
            times = [_mtime(os.path.join(node.path, name)) for name in _METADATA_FILES]
            # A store root without metadata yet has its folder's time.
            modified = max((t for t in times if t is not None), default=_mtime(node.path))
            if modified is None:
                raise not_found(self, path)
            if info[0] == "group":
                return FileStat("folder", None, modified)
            return FileStat("file", _stored_bytes(node.path), modified)

        # -- writing -------------------------------------------------------------------

        def accepts(self, data: Any, path: PathLike) -> bool:
            """Whether ``data`` is an array this backend stores (see :meth:`save`)."""
            locate(path)
            if not hasattr(type(data), "__array__"):
                return False
            dtype = getattr(data, "dtype", None)
            return not getattr(dtype, "hasobject", False)

        def save(
            self, data: Any, path: PathLike, *, overwrite: bool = False, **kwargs: Any
        ) -> None:
            """Store ``data`` as an array at ``path``; see the class for options.

            Raises ``TypeError`` for data that is not an array, an unknown
            option, or attributes that are not JSON; ``IsADirectoryError``
            when a group (or the store root) is at ``path``;
            ``FileExistsError`` as :meth:`StorageBackend.save`;
            ``NotADirectoryError`` when an array is where a group above
            ``path`` should be; ``ValueError`` when a node of the other Zarr
            format is at ``path`` or above it.
            """
            node = locate(path)
            array = as_array(data, node.path)
            options = create_options(
                array.shape, kwargs, self._format, "save", node.path, self._config
            )
            parent = self._prepare_array(node, overwrite)
            _require_zarr3()
            import zarr
            import zarr.storage

            with staging_folder(parent) as staging:
                fresh = os.path.join(staging, "new")
                created = zarr.create_array(
                    zarr.storage.LocalStore(fresh),
                    data=array,
                    write_data=False,
                    zarr_format=self._format,
                    **options,
                )
                write_into(created, ..., array)
                publish(fresh, node, "array", overwrite, staging)

        @contextmanager
        def array_writer(
            self,
            path: PathLike,
            shape: int | Sequence[int],
            dtype: Any,
            *,
            overwrite: bool = False,
            chunks: Sequence[int] | None = None,
            compressors: Any = "auto",
            attributes: dict[str, Any] | None = None,
            dimension_names: Sequence[str | None] | None = None,
            fill_value: Any = None,
            **kwargs: Any,
        ) -> Iterator[ArrayWriter]:
            """Write an array of ``shape`` and ``dtype`` at ``path`` piece by piece.

            .. code-block:: python

               with backend.array_writer(path, shape=(1, 2, 5, 2048, 2048), dtype="uint16") as out:
                   for c, z, plane in planes:
                       out[0, c, z] = plane

            The :class:`ArrayWriter` takes numpy-style assignments; each is
            copied and encoded and written on the writer's own thread while
            the caller goes on, at most two waiting, so a few planes at most
            are in memory; a failed write raises at the next assignment or
            when the block ends. When the block ends cleanly the array is
            published at ``path`` exactly as :meth:`save` publishes one (same
            ``overwrite`` rules and errors); when it raises, nothing is
            published and the array built so far is removed. Regions never
            assigned read back as ``fill_value`` (0 by default). The options
            and their defaults are those of :meth:`save` (see the class):
            ``chunks`` one per 2-D plane, the config's codec, and the
            other ``zarr.create_array`` options as keywords.

            Everything that can be checked is checked before the block starts,
            with :meth:`save`'s errors, plus ``ValueError`` for a negative
            size. The groups above ``path`` are created then too. A node that
            another writer publishes at ``path`` during the block raises
            ``FileExistsError`` at its end (without ``overwrite=True``).
            """
            # Errors here, and in publishing, are storage errors; the caller's own block's are not.
            with storage_errors():
                node = locate(path)
                sizes = as_shape(shape, node.path)
                import numpy as np

                kind = np.dtype(dtype)
                check_dtype(kind, node.path)
                given = {
                    "chunks": chunks,
                    "compressors": compressors,
                    "attributes": attributes,
                    "dimension_names": dimension_names,
                    "fill_value": fill_value,
                    **kwargs,
                }
                options = create_options(
                    sizes, given, self._format, "array_writer", node.path, self._config
                )
                parent = self._prepare_array(node, overwrite)
                _require_zarr3()
                import zarr
                import zarr.storage

            with staging_folder(parent) as staging:
                fresh = os.path.join(staging, "new")
                with storage_errors():
                    array = zarr.create_array(
                        zarr.storage.LocalStore(fresh),
                        shape=sizes,
                        dtype=kind,
                        zarr_format=self._format,
                        **options,
                    )
                writer = ArrayWriter(array, node.path)
                try:
                    yield writer
                    writer.close()  # every write done, or its error raised, before publishing
                except BaseException:
                    writer.close(raise_errors=False)
                    raise
                with storage_errors():
                    publish(fresh, node, "array", overwrite, staging)

        def set_attributes(
            self, path: PathLike, attributes: dict[str, Any], *, merge: bool = False
        ) -> None:
            """Replace the user attributes of the array or group at ``path`` with ``attributes``.

            With ``merge=True``, update only the top-level keys given and keep
            the others. Works for the store root too (a root without metadata
            first becomes a group of this backend's format). The node's
            metadata document (``zarr.json``, or ``.zattrs`` for Zarr v2) is
            rewritten in a temporary file beside it and put in place with
            ``os.replace``, so a reader sees the old attributes or the new.
            Two processes merging into one node at once may lose one's keys.

            Raises ``TypeError`` when a value is not JSON-safe (naming its
            key), before anything is written, and ``FileNotFoundError`` when
            no node is at ``path``.
            """
            node = locate(path)
            checked = json_attributes(attributes, node.path)
            info = identify(node)
            if info is None:
                raise not_found(self, path)
            zarr_format = info[1]
            if zarr_format is None:
                write_group_metadata(node.path, self._format)
                found = node_info(node.path)
                if found is None:
                    raise not_found(self, path)
                zarr_format = found[1]
            try:
                write_attributes(node.path, zarr_format, checked, merge)
            except FileNotFoundError:
                raise not_found(self, path) from None

        def delete(self, path: PathLike, *, recursive: bool = False) -> None:
            """Remove the array at ``path``, or the group with ``recursive=True``."""
            node = locate(path)
            if os.path.islink(node.path):  # the link, never what it points to
                os.remove(node.path)
                return
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

        def remove_leftovers(self, path: PathLike) -> list[str]:
            """Remove the hidden ``.platekit-tmp-*`` entries killed writers left below ``path``.

            Returns the paths removed. Call it only while no other writer works
            in the store (before resuming an interrupted job, say): an entry a
            live writer is using cannot be told from a left-over one.
            """
            node = locate(path)
            if not os.path.isdir(node.path):
                raise not_found(self, path)
            return remove_leftovers(node.path)

        def ensure_directory(self, path: PathLike) -> str:
            """Create the group ``path`` and the groups above it; return the path.

            Raises ``FileExistsError`` when an array is at ``path`` or above
            it, and ``ValueError`` when a group there is of the other Zarr format.
            """
            node = locate(path)
            ensure_groups(node.root, node.names, FileExistsError, self._format, self._hint)
            return node.path

        def copy(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
            """Copy the array or group at ``src`` to ``dst``, in its own Zarr format.

            ``overwrite=True`` replaces a node of the same kind as a whole (a
            group's old contents do not survive).
            """
            self._transfer(src, dst, overwrite=overwrite, remove=False)

        def move(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
            """Move the array or group at ``src`` to ``dst``: a rename on one filesystem."""
            self._transfer(src, dst, overwrite=overwrite, remove=True)

        def create_symlink(
            self, target: PathLike, link: PathLike, *, overwrite: bool = False
        ) -> None:
            """Make ``link`` a link to the array ``target`` of the same store (see the class).

            Raises as :meth:`StorageBackend.create_symlink`, ``IsADirectoryError``
            when ``target`` is a group, and ``ValueError`` for another store.
            """
            create_link(target, link, **self._link_options(overwrite))

        # -- helpers -------------------------------------------------------------------

        @property
        def _hint(self) -> str:
            other = 5 - self._format
            return (
                f"This backend writes Zarr v{self._format}; write into this store with "
                f"ZarrBackend(zarr_format={other})."
            )

        def _link_options(self, overwrite: bool) -> dict[str, Any]:
            return {
                "overwrite": overwrite,
                "zarr_format": self._format,
                "hint": self._hint,
                "not_found": lambda path: not_found(self, path),
            }

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

        def _prepare_array(self, node: Node, overwrite: bool) -> str:
            """Check that an array of this backend may go at ``node``; make the groups above it.

            Returns the folder of the parent group.
            """
            if not node.names:
                raise IsADirectoryError(
                    errno.EISDIR,
                    "is the root of a Zarr store, which is a group; save arrays inside it",
                    node.path,
                )
            check_target(node, "array", overwrite, self._format, self._hint)
            return ensure_groups(
                node.root, node.names[:-1], NotADirectoryError, self._format, self._hint
            )

        def _transfer(self, src: PathLike, dst: PathLike, *, overwrite: bool, remove: bool) -> None:
            source, target = locate(src), locate(dst)
            if remove and os.path.islink(source.path):  # a move takes the link itself
                move_link(source, dst, **self._link_options(overwrite))
                return
            info = identify(source)
            if info is None:
                raise not_found(self, src)
            kind = info[0]
            # A node keeps its format; a store root without metadata takes this backend's.
            zarr_format = self._format if info[1] is None else info[1]
            hint = f"Copy or move it into a Zarr v{zarr_format} store."
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
            check_target(target, kind, overwrite, zarr_format, hint)
            if target.names:
                parent = ensure_groups(
                    target.root, target.names[:-1], NotADirectoryError, zarr_format, hint
                )
            else:
                parent = os.path.dirname(there)
                os.makedirs(parent, exist_ok=True)
            with staging_folder(parent) as staging:
                if remove:
                    if kind == "group":
                        write_group_metadata(source.path, zarr_format)  # a root may have none
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
                    write_group_metadata(fresh, zarr_format)
                publish(fresh, target, kind, overwrite, staging)
            if remove:  # across filesystems: copied, now remove the original
                self.delete(source.path, recursive=True)

    #: The metadata documents whose time is a node's modification time.
    _METADATA_FILES = (METADATA, V2_ARRAY, V2_GROUP, V2_ATTRIBUTES)

    def _mtime(path: str) -> float | None:
        try:
            return os.stat(path).st_mtime
        except OSError:
            return None

    def _stored_bytes(folder: str) -> int:
        """Bytes of every file under ``folder``, leaving out unfinished writes."""
        total = 0
        for here, folders, files in os.walk(folder):
            folders[:] = [name for name in folders if not name.startswith(STAGING)]
            for name in files:
                if not name.startswith(STAGING):
                    try:
                        total += os.stat(os.path.join(here, name)).st_size
                    except OSError:
                        pass  # removed meanwhile
        return total

else:

    def __getattr__(name: str) -> Any:
        if name == "ZarrBackend":
            raise ImportError(f"the zarr storage backend is not installed: {_install_hint()}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
