"""The ``zarr_fsspec`` backend: Zarr stores in object storage (``s3://bucket/out.zarr``).

Object stores have no rename, so the ``zarr`` backend's way of publishing a
node (build it in a private folder, then rename it into place) cannot work
there. This backend keeps the same promise another way, by the order of its
writes: an array's chunks are written first and its metadata document
(``zarr.json``, or ``.zarray`` for Zarr v2) last, in one request, when the
writer's block ends cleanly. Zarr readers find an array by its metadata, so
a writer killed midway leaves chunks no reader sees, never a half-written
array; :meth:`FsspecZarrBackend.delete` removes such chunks, and removes a
node's metadata after everything else, so a deletion cut short leaves a node
that the same deletion removes again. Each object write replaces the object
whole, so a reader sees old or new attributes, never a mix.

The metadata is held back by a thin store wrapper: zarr-python writes the
array's metadata when it creates the array, and the wrapper keeps it in
memory until the block ends. Requests therefore are one per chunk written
plus one per array and one per group, never one per chunk for metadata.

Looking a node up costs one request: inside a store whose root is a group of
the backend's own Zarr format, a node is a node of that format (a Zarr reader
sees no other there), so only that format's metadata document is read; the
store root, once per backend, is looked up in both formats. The wrapper
answers zarr-python's own "is something there already?" from the check the
backend has just made, and a group this backend wrote is rewritten from the
document it wrote, without reading it back.

Needs zarr-python 3 and fsspec with the protocol's implementation (s3fs for
``s3://``): the ``zarr`` and ``s3`` extras.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from typing import Any

from platekit.storage._base import StorageBackend, not_found
from platekit.storage._errors import StorageValueError, storage_errors
from platekit.storage._zarr_attributes import json_attributes
from platekit.storage._zarr_config import ZarrConfig
from platekit.storage.backends.fsspec import filesystem, protocol_of, remote_errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Literal

    from platekit.storage._zarr_writer import ArrayWriter

    PathLike = str | os.PathLike[str]

_V3 = "zarr.json"
_V2_GROUP, _V2_ARRAY, _V2_ATTRS = ".zgroup", ".zarray", ".zattrs"
_METADATA = (_V3, _V2_GROUP, _V2_ARRAY, _V2_ATTRS)


def _deferring_store(store: Any) -> Any:
    """``store`` with its metadata writes held back until ``flush()``; chunks go through.

    Its metadata reads are answered from what it holds: the caller has just
    checked that no node is there, so zarr-python's check need not ask again.
    """
    from zarr.storage import WrapperStore

    class DeferredMetadata(WrapperStore):  # type: ignore[type-arg]
        held: dict[str, Any]

        async def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
            if key.rsplit("/", 1)[-1] in _METADATA:
                return self.held.get(key)
            return await self._store.get(key, *args, **kwargs)

        async def set(self, key: str, value: Any) -> None:
            if key.rsplit("/", 1)[-1] in _METADATA:
                self.held[key] = value
                return
            await self._store.set(key, value)

        async def flush(self) -> None:
            for key, value in self.held.items():
                await self._store.set(key, value)
            self.held.clear()

    wrapped = DeferredMetadata(store)
    wrapped.held = {}
    return wrapped


class FsspecZarrBackend(StorageBackend):
    """Zarr v3 (or v2) arrays and groups at fsspec URLs, written without renames (see the module).

    ``FsspecZarrBackend(zarr_format=3, zarr_config=None, storage_options=None)``:
    paths are URLs (``s3://bucket/out.zarr/A/1/0``). Arrays are written with
    :meth:`array_writer`, group metadata with :meth:`ensure_directory` and
    :meth:`set_attributes`; :meth:`attributes`, :meth:`exists`,
    :meth:`is_dir` (a group), :meth:`is_file` (an array) and :meth:`load`
    read them. Pickles as its options; the connection is remade where it lands.
    """

    _backend_type = "zarr_fsspec"

    def __init__(
        self,
        zarr_format: Literal[2, 3] = 3,
        *,
        zarr_config: ZarrConfig | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if zarr_format not in (2, 3):
            raise StorageValueError(f"zarr_format must be 3 or 2, not {zarr_format!r}")
        self._format: Literal[2, 3] = zarr_format
        self._config = zarr_config or ZarrConfig()
        self._options = dict(storage_options or {})
        self._filesystems: dict[str, Any] = {}
        # Groups of this backend's format it made or found, so that making the groups
        # above each new node costs no request per level after the first; and the
        # documents of the groups it wrote itself. Forgotten when deleted.
        self._groups: set[str] = set()
        self._written: dict[str, dict[str, Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_filesystems": {}, "_groups": set(), "_written": {}}

    def __repr__(self) -> str:
        # Storage options may hold credentials: only their names are shown.
        return f"<FsspecZarrBackend zarr_format={self._format} options={sorted(self._options)}>"

    @property
    def zarr_format(self) -> Literal[2, 3]:
        return self._format

    def fs(self, path: PathLike) -> Any:
        """The fsspec filesystem of ``path``'s protocol (``ImportError`` naming what to install)."""
        protocol = protocol_of(os.fspath(path))
        if protocol not in self._filesystems:
            self._filesystems[protocol] = filesystem(protocol, self._options)
        return self._filesystems[protocol]

    def _key(self, path: PathLike) -> str:
        text = os.fspath(path).rstrip("/")
        if protocol_of(text) in ("file", "local"):
            raise StorageValueError(
                f"{text!r} is no URL; the zarr_fsspec backend writes to object storage "
                "(s3://bucket/out.zarr); use the zarr backend for local folders"
            )
        return str(self.fs(text)._strip_protocol(text)).rstrip("/")

    def _read_json(self, path: PathLike, name: str) -> dict[str, Any] | None:
        fs = self.fs(path)
        protocol = protocol_of(os.fspath(path))
        # s3fs asks an object's size before reading it unless told to read in one request.
        one_request = {"max_concurrency": 1} if protocol.startswith("s3") else {}
        try:
            with remote_errors(protocol, path):
                data = fs.cat_file(f"{self._key(path)}/{name}", **one_request)
        except FileNotFoundError:
            return None
        document = json.loads(data)
        return document if isinstance(document, dict) else None

    def _write_json(self, path: PathLike, name: str, document: dict[str, Any]) -> None:
        with remote_errors(protocol_of(os.fspath(path)), path):
            self.fs(path).pipe_file(
                f"{self._key(path)}/{name}", json.dumps(document, indent=2).encode()
            )

    def _node(self, path: PathLike) -> tuple[str, int] | None:
        """(``"array"`` or ``"group"``, Zarr format) of the node at ``path``, or None."""
        found = self._lookup(path)
        return None if found is None else found[:2]

    def _lookup(self, path: PathLike) -> tuple[str, int, dict[str, Any] | None] | None:
        """The node at ``path`` as (kind, Zarr format, its ``zarr.json`` if v3), or None.

        One request inside a store of this backend's format (see the module).
        """
        text = os.fspath(path).rstrip("/")
        formats: tuple[int, ...] = (self._format,) if self._in_own_store(text) else (3, 2)
        if 3 in formats:
            document = self._read_json(path, _V3)
            if document is not None:
                return str(document.get("node_type", "group")), 3, document
        if 2 in formats:
            if self._read_json(path, _V2_ARRAY) is not None:
                return "array", 2, None
            if self._read_json(path, _V2_GROUP) is not None:
                return "group", 2, None
        return None

    def _in_own_store(self, text: str) -> bool:
        """Whether ``text`` is inside a store whose root is a group of this backend's format."""
        try:
            root = self._store_root(text)
        except StorageValueError:
            return False
        if root == text:
            return False
        if root not in self._groups:
            found = self._lookup(root)
            if found is None or found[:2] != ("group", self._format):
                return False
            self._groups.add(root)
        return True

    # -- reading -------------------------------------------------------------------

    def exists(self, path: PathLike) -> bool:
        return self._node(path) is not None

    def is_dir(self, path: PathLike) -> bool:
        node = self._node(path)
        return node is not None and node[0] == "group"

    def is_file(self, path: PathLike) -> bool:
        node = self._node(path)
        return node is not None and node[0] == "array"

    def attributes(self, path: PathLike) -> dict[str, Any]:
        """The user attributes of the node at ``path``; ``FileNotFoundError`` when none is there."""
        node = self._lookup(path)
        if node is None:
            raise not_found(self, path)
        if node[1] == 3:
            found = (node[2] or {}).get("attributes", {})
        else:
            found = self._read_json(path, _V2_ATTRS) or {}
        return found if isinstance(found, dict) else {}

    def load(self, path: PathLike, **kwargs: Any) -> Any:
        """The array at ``path`` as a numpy array."""
        import numpy as np
        import zarr

        node = self._node(path)
        if node is None or node[0] != "array":
            raise not_found(self, path)
        with storage_errors():
            array = zarr.open_array(
                os.fspath(path),
                mode="r",
                zarr_format=2 if node[1] == 2 else 3,
                storage_options=self._options,
            )
            return np.asarray(array[...])

    # -- writing -------------------------------------------------------------------

    def _group_document(self) -> tuple[str, dict[str, Any]]:
        if self._format == 3:
            return _V3, {"zarr_format": 3, "node_type": "group", "attributes": {}}
        return _V2_GROUP, {"zarr_format": 2}

    def _store_root(self, path: PathLike) -> str:
        text = os.fspath(path).rstrip("/")
        parts = text.split("/")
        for index, part in enumerate(parts):
            if part.lower().endswith(".zarr"):
                return "/".join(parts[: index + 1])
        raise StorageValueError(
            f"{text!r} names no Zarr store: a path in one has a part ending in .zarr, "
            "such as s3://bucket/out.zarr/A/1"
        )

    def ensure_directory(self, path: PathLike) -> str:
        """Write group metadata at ``path`` and the groups above it, up to the store, as needed."""
        root = self._store_root(path)
        text = os.fspath(path).rstrip("/")
        inner = text[len(root) :].strip("/")
        chain = [root] + [
            f"{root}/{'/'.join(inner.split('/')[: n + 1])}" for n in range(len(inner.split("/")))
        ]
        for group in chain if inner else [root]:
            if group in self._groups:
                continue
            node = self._node(group)
            if node is None:
                name, document = self._group_document()
                self._write_json(group, name, document)
                self._written[group] = document
                node = ("group", self._format)
            elif node[0] == "array":
                raise StorageValueError(f"{group!r} is an array, not a group")
            if node[1] == self._format:
                self._groups.add(group)
        return text

    def set_attributes(
        self, path: PathLike, attributes: dict[str, Any], *, merge: bool = False
    ) -> None:
        """Replace (or with ``merge=True`` update) the attributes of the node at ``path``.

        One request writes the node's whole metadata document. The store root
        becomes a group when it has no metadata yet; another path without a
        node raises ``FileNotFoundError``.
        """
        checked = json_attributes(attributes, os.fspath(path))
        text = os.fspath(path).rstrip("/")
        # A group this backend wrote needs no reading back, unless its attributes merge.
        written = None if merge else self._written.get(text)
        node = ("group", self._format, written) if written is not None else self._lookup(path)
        if node is None:
            if text != self._store_root(path):
                raise not_found(self, path)
            # Nothing is there: the root becomes a group (in Zarr v3, one document with
            # its attributes; in v2, .zgroup beside the .zattrs).
            node = ("group", self._format, None)
            if self._format == 2:
                self._write_json(path, *self._group_document())
            self._groups.add(text)
        if node[1] == 3:
            document = dict(node[2] or self._group_document()[1])
            old = document.get("attributes", {}) if merge else {}
            document["attributes"] = {**(old if isinstance(old, dict) else {}), **checked}
            self._write_json(path, _V3, document)
            if node[0] == "group":
                self._written[text] = document
        else:
            old = self.attributes(path) if merge else {}
            self._write_json(path, _V2_ATTRS, {**old, **checked})

    @contextmanager
    def array_writer(
        self,
        path: PathLike,
        shape: int | Sequence[int],
        dtype: Any,
        *,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> Iterator[ArrayWriter]:
        """Write an array at ``path`` piece by piece: chunks as assigned, metadata at the end.

        As the ``zarr`` backend's ``array_writer`` (same options), except
        that nothing is renamed: an exception in the block publishes no
        metadata and removes the chunks written. Raises ``FileExistsError``
        when a node is at ``path`` and ``overwrite`` is false.
        """
        import numpy as np
        import zarr
        from zarr.core.sync import sync
        from zarr.storage import FsspecStore

        from platekit.storage._zarr_writer import ArrayWriter, as_shape, create_options

        text = os.fspath(path).rstrip("/")
        with storage_errors():
            sizes = as_shape(shape, text)
            options = create_options(
                sizes, dict(kwargs), self._format, "array_writer", text, self._config
            )
            if self.exists(text):
                if not overwrite:
                    raise FileExistsError(17, "a node is already there", text)
                self.delete(text, recursive=True)
            parent = text.rsplit("/", 1)[0]
            self.ensure_directory(parent)
            store = _deferring_store(
                FsspecStore.from_url(text, storage_options=self._options, read_only=False)
            )
            array = zarr.create_array(
                store, shape=sizes, dtype=np.dtype(dtype), zarr_format=self._format, **options
            )
        writer = ArrayWriter(array, text)
        try:
            yield writer
            writer.close()  # every chunk written, or its error raised, before the metadata
        except BaseException:
            writer.close(raise_errors=False)
            # Chunks without metadata are no array; they are removed, best effort.
            try:
                self.fs(text).rm(self._key(text), recursive=True)
            except OSError:
                pass
            raise
        with storage_errors(), remote_errors(protocol_of(text), text):
            sync(store.flush())

    def delete(self, path: PathLike, *, recursive: bool = False) -> None:
        """Remove the node at ``path`` (a group only with ``recursive=True``), metadata last."""
        node = self._node(path)
        if node is None:
            raise not_found(self, path)
        if node[0] == "group" and not recursive:
            raise IsADirectoryError(21, "a group; delete it with recursive=True", os.fspath(path))
        fs = self.fs(path)
        text = os.fspath(path).rstrip("/")
        self._groups = {g for g in self._groups if g != text and not g.startswith(text + "/")}
        self._written = {
            g: d for g, d in self._written.items() if g != text and not g.startswith(text + "/")
        }
        with remote_errors(protocol_of(text), path):
            keys = fs.find(self._key(path))
            # Deepest first and each node's metadata after its contents: cut short, what is
            # left is still a node, which the same deletion removes.
            keys.sort(key=lambda k: (k.rsplit("/", 1)[-1] in _METADATA, -k.count("/")))
            data = [k for k in keys if k.rsplit("/", 1)[-1] not in _METADATA]
            metadata = [k for k in keys if k.rsplit("/", 1)[-1] in _METADATA]
            if data:
                fs.rm(data)
            for key in sorted(metadata, key=lambda k: -k.count("/")):
                fs.rm(key)
            fs.invalidate_cache()

    def remove_leftovers(self, path: PathLike) -> list[str]:
        """Nothing: this backend stages nothing (see the module)."""
        return []
