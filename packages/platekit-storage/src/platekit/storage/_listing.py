"""Which names a listing keeps: the ``pattern`` and ``extensions`` of ``list_files``.

One definition for every backend, so ``extensions=".tif"``, ``{"tif"}`` and
``{".TIF"}`` keep the same files everywhere, and so do multi-part suffixes
such as ``".ome.tif"``.
"""

from __future__ import annotations

import fnmatch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def suffixes(extensions: Iterable[str] | str | None) -> tuple[str, ...] | None:
    """``extensions`` as lower-case suffixes with their leading dot (None keeps all).

    A single string counts as one suffix, not as its characters:
    ``suffixes("TIF") == (".tif",)``. Raises ``ValueError`` when an
    extension is not a file suffix: not a string, empty, or dots alone
    (``"."``).
    """
    if extensions is None:
        return None
    if isinstance(extensions, str):
        extensions = (extensions,)
    found = []
    for extension in extensions:
        if not isinstance(extension, str) or not extension.strip("."):
            raise ValueError(f"extensions must be file suffixes such as '.tif', got {extension!r}")
        lower = extension.lower()
        found.append(lower if lower.startswith(".") else "." + lower)
    return tuple(found)


def name_filter(
    pattern: str | None, extensions: Iterable[str] | str | None
) -> Callable[[str], bool]:
    """A test of a file name against a shell ``pattern`` and a set of ``extensions``.

    The pattern is matched with case (``"A01_*"``); suffixes without case, and
    only as a suffix: a file called ``.tif`` has no suffix. These are the
    rules of ``StorageBackend.list_files``, so a backend that filters its
    names with this function keeps them. Raises ``ValueError`` as
    :func:`suffixes` does, at once, before any listing.
    """
    wanted = suffixes(extensions)

    def keep(name: str) -> bool:
        if pattern is not None and not fnmatch.fnmatchcase(name, pattern):
            return False
        if wanted is None:
            return True
        lower = name.lower()
        return any(lower.endswith(s) and len(lower) > len(s) for s in wanted)

    return keep
