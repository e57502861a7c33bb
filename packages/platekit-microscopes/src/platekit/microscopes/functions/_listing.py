"""A library's listing in the platekit cache: one record per library, keyed by its version.

The record ``functions.<library>`` holds ``{"format": 1, "functions": [record, ...]}``.
Its version is made of this layout's number, the platekit-microscopes version
(which fixes how functions are described) and the library's version; its
stamped files are those of :meth:`FunctionLibrary.stamp_files`. Any change
of these is a miss, and the library is discovered again.
"""

from __future__ import annotations

from platekit.cache import RegistryCacheManager
from platekit.microscopes.functions import FunctionInfo, FunctionLibrary

#: Layout of the cached listing; a listing of another layout is a miss.
LISTING_FORMAT = 1

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _manager(library: FunctionLibrary) -> RegistryCacheManager:
    from platekit.microscopes import __version__

    safe = "".join(c if c in _NAME_CHARS else "_" for c in library.name)[:150]
    return RegistryCacheManager(
        f"functions.{safe}",
        version=f"{LISTING_FORMAT}/{__version__}/{library.version()}",
        files=library.stamp_files,
    )


def index(functions: list[FunctionInfo]) -> dict[str, FunctionInfo]:
    """Functions by name, in the order listed (the first of two with one name stays)."""
    found: dict[str, FunctionInfo] = {}
    for function in functions:
        found.setdefault(function.name, function)
    return found


def _read(items: object) -> dict[str, FunctionInfo] | None:
    """The listing stored in ``items``, or ``None`` when it is not a listing of this layout."""
    if not isinstance(items, dict) or items.get("format") != LISTING_FORMAT:
        return None
    records = items.get("functions")
    if not isinstance(records, list):
        return None
    try:
        return index([FunctionInfo.from_record(record) for record in records])
    except (KeyError, TypeError):
        return None


def load_or_discover(library: FunctionLibrary) -> tuple[dict[str, FunctionInfo], str]:
    """The library's functions and how they were found: ``"hit"`` or ``"miss: <why>"``."""
    manager = _manager(library)
    found = manager.lookup()
    if found.hit:
        listing = _read(found.items)
        if listing is not None:
            return listing, "hit"
        reason = "the cached listing is malformed"
    else:
        reason = found.reason or "no record"
    listing = index(library.discover())
    store(library, listing, manager)
    return listing, f"miss: {reason}"


def store(
    library: FunctionLibrary,
    listing: dict[str, FunctionInfo],
    manager: RegistryCacheManager | None = None,
) -> bool:
    """Write the listing to the cache; ``False`` when caching is off or the folder is read-only."""
    manager = manager if manager is not None else _manager(library)
    records = [function.as_record() for function in listing.values()]
    return manager.save({"format": LISTING_FORMAT, "functions": records})
