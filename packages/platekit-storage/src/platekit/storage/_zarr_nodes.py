"""Zarr v3 hierarchies as folders: where a path lands in a store, what node is
there, and how a complete node is put in place without a reader seeing half of it.

Plain file-system work on the ``zarr.json`` documents of the Zarr v3 spec;
zarr-python is not needed here. The ``zarr`` backend builds on it.
"""

from __future__ import annotations

import errno
import json
import os
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    PathLike = str | os.PathLike[str]

#: Each node of a Zarr v3 hierarchy is a folder holding this metadata document.
METADATA = "zarr.json"
#: Prefix of the folders and files a write builds before publishing them; never a node.
STAGING = ".platekit-tmp-"
_GROUP_METADATA = b'{"zarr_format": 3, "node_type": "group", "attributes": {}}'


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
    if name.startswith(STAGING) or name == METADATA:
        raise ValueError(f"{path!r}: {name!r} is reserved by the zarr backend as a node name")


def node_kind(folder: str) -> str | None:
    """``"array"`` or ``"group"`` when ``folder`` is a Zarr v3 node, else None."""
    try:
        with open(os.path.join(folder, METADATA), "rb") as file:
            metadata = json.loads(file.read())
    except (OSError, ValueError):
        return None
    if not isinstance(metadata, dict) or metadata.get("zarr_format") != 3:
        return None
    kind = metadata.get("node_type")
    return kind if kind in ("array", "group") else None


def what(node: Node) -> str | None:
    """The node's kind; an existing store root folder counts as a group."""
    kind = node_kind(node.path)
    if kind is None and not node.names and os.path.isdir(node.path):
        return "group"
    return kind


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


def write_group_metadata(folder: str) -> None:
    """Give ``folder`` a group zarr.json unless it has one; safe against other writers."""
    target = os.path.join(folder, METADATA)
    if os.path.exists(target):
        return
    temporary = os.path.join(folder, f"{STAGING}{os.urandom(6).hex()}")
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


def check_target(node: Node, kind: str, overwrite: bool) -> None:
    """Refuse early what :func:`publish` would refuse."""
    existing = what(node)
    if existing is None:
        return
    if existing != kind:
        raise _mismatch(node, existing)
    if not overwrite:
        raise occupied(node)


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
