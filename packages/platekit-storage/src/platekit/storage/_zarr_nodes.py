"""Zarr hierarchies as folders: where a path lands in a store, what node is
there (Zarr v3 or v2), and how a complete node is put in place without a
reader seeing half of it.

Plain file-system work on the metadata documents of the Zarr v3 spec
(``zarr.json``) and the Zarr v2 spec (``.zarray``, ``.zgroup``); zarr-python
is not needed here. The ``zarr`` backend builds on it.
"""

from __future__ import annotations

import errno
import json
import os
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Literal

    PathLike = str | os.PathLike[str]
    ZarrFormat = Literal[2, 3]

#: Each node of a Zarr v3 hierarchy is a folder holding this metadata document.
METADATA = "zarr.json"
#: A Zarr v2 array's metadata, a Zarr v2 group's, and the user attributes of either.
V2_ARRAY, V2_GROUP, V2_ATTRIBUTES = ".zarray", ".zgroup", ".zattrs"
#: Prefix of the folders and files a write builds before publishing them; never a node.
STAGING = ".platekit-tmp-"
_GROUP_METADATA = {
    3: (METADATA, b'{"zarr_format": 3, "node_type": "group", "attributes": {}}'),
    2: (V2_GROUP, b'{"zarr_format": 2}'),
}
_NODE_METADATA = (METADATA, V2_ARRAY, V2_GROUP)
_RESERVED = frozenset({*_NODE_METADATA, V2_ATTRIBUTES, ".zmetadata"})
_ERRNO = {FileExistsError: errno.EEXIST, NotADirectoryError: errno.ENOTDIR}


# -- the path model ------------------------------------------------------------------


class Node:
    """A path inside a store: the store's root folder and the node names below it."""

    __slots__ = ("names", "path", "root")

    def __init__(self, path: str, root: str, names: tuple[str, ...]) -> None:
        self.path = path
        self.root = root
        self.names = names


def locate(path: PathLike) -> Node:
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
            return Node(text, os.path.join(*parts[: index + 1]), names)
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
    if name.startswith(STAGING) or name in _RESERVED:
        raise ValueError(f"{path!r}: {name!r} is reserved by the zarr backend as a node name")


def _document(path: str) -> object:
    try:
        with open(path, "rb") as file:
            return json.loads(file.read())
    except (OSError, ValueError):
        return None


def node_info(folder: str) -> tuple[str, ZarrFormat] | None:
    """``(kind, zarr_format)`` of the node in ``folder``: ``("array", 3)``, ``("group", 2)``...

    None when ``folder`` holds no Zarr v3 or v2 node. A v3 ``zarr.json`` wins
    over v2 documents in the same folder, as zarr-python looks for v3 first.
    """
    metadata = _document(os.path.join(folder, METADATA))
    if isinstance(metadata, dict) and metadata.get("zarr_format") == 3:
        kind = metadata.get("node_type")
        return (kind, 3) if kind in ("array", "group") else None
    for name, kind in ((V2_ARRAY, "array"), (V2_GROUP, "group")):
        metadata = _document(os.path.join(folder, name))
        if isinstance(metadata, dict) and metadata.get("zarr_format") == 2:
            return kind, 2
    return None


def node_kind(folder: str) -> str | None:
    """``"array"`` or ``"group"`` when ``folder`` is a Zarr v3 or v2 node, else None."""
    info = node_info(folder)
    return None if info is None else info[0]


def identify(node: Node) -> tuple[str, ZarrFormat | None] | None:
    """The node's kind and Zarr format, as :func:`node_info`.

    An existing store root folder without metadata counts as a group of no
    format yet: ``("group", None)``; the first write gives it one.
    """
    info = node_info(node.path)
    if info is None and not node.names and os.path.isdir(node.path):
        return "group", None
    return info


def what(node: Node) -> str | None:
    """The node's kind; an existing store root folder counts as a group."""
    info = identify(node)
    return None if info is None else info[0]


def children(folder: str) -> Iterator[tuple[str, str]]:
    """``(name, kind)`` of each node directly in ``folder``."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(STAGING) or not entry.is_dir():
                continue
            kind = node_kind(entry.path)
            if kind is not None:
                yield entry.name, kind


def identity(folder: str) -> tuple[int, int, int] | None:
    """Changes when the folder at this path is replaced by another one."""
    try:
        status = os.stat(folder)
    except OSError:
        return None
    return status.st_dev, status.st_ino, status.st_ctime_ns


# -- writing ---------------------------------------------------------------------------


@contextmanager
def staging_folder(folder: str) -> Iterator[str]:
    """A private folder next to the destination, removed afterwards.

    It has no zarr.json, so it is no node; being in the destination's own
    folder, a rename from it is on the same filesystem.
    """
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix=STAGING, dir=folder)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_leftovers(folder: str) -> list[str]:
    """Remove the staging folders and files that killed writers left below ``folder``.

    Returns their paths. Only safe when no writer is at work in the store:
    a staging entry in use looks the same as a left-over one.
    """
    import shutil

    removed = []
    for parent, folders, files in os.walk(folder):
        for name in files:
            if name.startswith(STAGING):
                path = os.path.join(parent, name)
                os.unlink(path)
                removed.append(path)
        for name in [f for f in folders if f.startswith(STAGING)]:
            path = os.path.join(parent, name)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
            folders.remove(name)
    return removed


def write_group_metadata(folder: str, zarr_format: int) -> None:
    """Make ``folder`` a group of ``zarr_format`` unless it has Zarr metadata already.

    Safe against other writers: a group made meanwhile keeps its attributes.
    """
    if any(os.path.exists(os.path.join(folder, name)) for name in _NODE_METADATA):
        return
    name, content = _GROUP_METADATA[zarr_format]
    target = os.path.join(folder, name)
    temporary = os.path.join(folder, f"{STAGING}{os.urandom(6).hex()}")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
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


def ensure_groups(
    root: str,
    names: tuple[str, ...],
    blocked: type[FileExistsError | NotADirectoryError],
    zarr_format: int,
    hint: str,
) -> str:
    """Make ``root`` and each folder of ``names`` below it a group; return the last.

    An array or a file in the way raises ``blocked``, a group of
    another format than ``zarr_format`` ``ValueError``; both are
    found before anything is created.
    """
    folders = [root]
    for name in names:
        folders.append(os.path.join(folders[-1], name))
    missing = []
    for folder in folders:
        info = node_info(folder)
        if info is None:
            missing.append(folder)
        elif info[0] == "array":
            raise blocked(_ERRNO[blocked], "a Zarr array is in the way of a group", folder)
        elif info[1] != zarr_format:
            raise format_clash(folder, info, zarr_format, hint)
    for folder in missing:
        try:
            os.makedirs(folder, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise blocked(_ERRNO[blocked], "a file is in the way of a group", folder) from None
        write_group_metadata(folder, zarr_format)
    return folders[-1]


def _mismatch(node: Node, existing: str) -> OSError:
    if existing == "group":
        return IsADirectoryError(
            errno.EISDIR,
            "is a Zarr group in the zarr backend; an array cannot replace it",
            node.path,
        )
    return NotADirectoryError(
        errno.ENOTDIR, "is a Zarr array in the zarr backend; a group cannot replace it", node.path
    )


def occupied(node: Node) -> FileExistsError:
    return FileExistsError(
        errno.EEXIST,
        "already exists in the zarr backend; pass overwrite=True to replace it",
        node.path,
    )


def format_clash(folder: str, found: tuple[str, int], incoming: int, hint: str) -> ValueError:
    """The error for a Zarr v``incoming`` node going into (or over) a node of another format."""
    kind, zarr_format = found
    return ValueError(
        f"{folder!r} is a Zarr v{zarr_format} {kind}, and a Zarr v{incoming} node cannot go "
        f"into it or replace it: a Zarr hierarchy holds nodes of one format. {hint}"
    )


def check_target(node: Node, kind: str, overwrite: bool, zarr_format: int, hint: str) -> None:
    """Refuse early what :func:`publish` would refuse, and a node of another format."""
    existing = identify(node)
    if existing is None:
        return
    if existing[0] != kind:
        raise _mismatch(node, existing[0])
    if not overwrite:
        raise occupied(node)
    if existing[1] is not None and existing[1] != zarr_format:
        raise format_clash(node.path, (existing[0], existing[1]), zarr_format, hint)


def publish(fresh: str, node: Node, kind: str, overwrite: bool, staging: str) -> None:
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
            existing = what(node)
            if existing is not None and existing != kind:
                raise _mismatch(node, existing) from None
            if existing is None:
                raise FileExistsError(
                    errno.EEXIST, "something that is not a Zarr node is in the way", node.path
                ) from None
            if not overwrite:
                raise occupied(node) from None
        try:
            os.rename(node.path, os.path.join(staging, f"replaced-{attempt}"))
        except FileNotFoundError:
            pass  # another writer moved it first; try again
    raise OSError(errno.EBUSY, "kept being replaced by other writers", node.path)
