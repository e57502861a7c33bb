"""Symbolic links between arrays of one Zarr store, as the ``zarr`` backend makes them.

A link is the file system's own symbolic link in place of an array's folder,
holding the target's path relative to the link, so the store can be moved or
copied as a whole and its links still resolve, and any Zarr reader that
opens the link's path reads the target array.
"""

from __future__ import annotations

import errno
import os

from platekit.storage._stat import FileStat
from platekit.storage._zarr_nodes import Node, ensure_groups, locate, staging_folder, what

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    PathLike = str | os.PathLike[str]


def create_link(
    target: PathLike,
    link: PathLike,
    *,
    overwrite: bool,
    zarr_format: int,
    hint: str,
    not_found: Callable[[PathLike], FileNotFoundError],
) -> None:
    """Make ``link`` a link to the array ``target`` of the same store.

    Raises ``FileNotFoundError`` (from ``not_found``) when no array or group
    is at ``target``, ``IsADirectoryError`` when a group is at ``target`` or
    at ``link``, ``FileExistsError`` when an array or link is at ``link`` and
    ``overwrite`` is false, and ``ValueError`` when the two are in different
    stores.
    """
    source, node = locate(target), locate(link)
    kind = what(source)
    if kind is None:
        raise not_found(target)
    if kind == "group":
        raise IsADirectoryError(
            errno.EISDIR,
            "is a Zarr group; links in a Zarr store point to arrays, so copy() the group instead",
            source.path,
        )
    if os.path.normcase(os.path.abspath(source.root)) != os.path.normcase(
        os.path.abspath(node.root)
    ):
        raise ValueError(
            f"cannot link {node.path!r} to {source.path!r}: a link stays inside its Zarr store "
            f"({node.root!r}); copy() the array between stores instead"
        )
    if not node.names:
        raise IsADirectoryError(
            errno.EISDIR, "is the root of a Zarr store; a link cannot replace it", node.path
        )
    present = os.path.lexists(node.path)
    if present and not overwrite:
        raise FileExistsError(
            errno.EEXIST, "already exists in the zarr backend; pass overwrite=True", node.path
        )
    if present and not os.path.islink(node.path) and what(node) != "array":
        raise IsADirectoryError(
            errno.EISDIR, "is a Zarr group or folder; a link cannot replace it", node.path
        )
    parent = ensure_groups(node.root, node.names[:-1], NotADirectoryError, zarr_format, hint)
    relative = os.path.relpath(os.path.abspath(source.path), os.path.abspath(parent))
    with staging_folder(parent) as staging:
        fresh = os.path.join(staging, "link")
        os.symlink(relative, fresh, target_is_directory=True)
        if present and not os.path.islink(node.path):
            os.rename(node.path, os.path.join(staging, "replaced"))  # removed with the staging
        os.replace(fresh, node.path)


def move_link(source: Node, destination: PathLike, **options: object) -> None:
    """Move the link at ``source`` to ``destination``, pointing to the same array."""
    target = os.path.join(os.path.dirname(source.path), os.readlink(source.path))
    create_link(os.path.normpath(target), destination, **options)  # type: ignore[arg-type]
    os.remove(source.path)


def link_stat(node: Node) -> FileStat:
    """The link at ``node`` itself: its target, as stored, and whether the target is there."""
    info = os.lstat(node.path)
    target = os.readlink(node.path)
    return FileStat("link", None, info.st_mtime, target, what(node) is not None)
