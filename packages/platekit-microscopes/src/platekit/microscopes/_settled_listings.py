"""Listings of local plate folders, and the scans made from them, kept from one opening of a
plate to the next.

``detect_microscope`` and then ``open_plate`` of one folder, or a plate opened
again, would list the same folders again. A folder whose contents change
gets a new modification or change time, so a listing is given again while
the folder's ``os.stat`` (device, inode, mtime, ctime) is the same as when
it was kept. A listing is kept only when the folder had not changed for
:data:`SETTLED_S` seconds before it was listed, as git trusts its index: a
change within a timestamp's granularity of the listing could otherwise leave
the times as they were. Only the openings that made their own source keep or
reuse listings, and only of local folders.

A plate opened again while its folders and every file its scan read are as
they were (same ``os.stat``, settled as above) gets a copy of the scan made
then, instead of reading its metadata files again: for a Harmony or
CellVoyager plate, that is most of the cost of opening it. Scans are kept
for the :data:`SCANS_KEPT` plates opened last, as they hold a record per
plane.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import TypeVar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Hashable, Iterable, Mapping

    from platekit.microscopes._model import PlateScan
    from platekit.microscopes._source import Listing, PlateSource

#: How long a folder must have been unchanged before its listing is kept (coarse
#: filesystem clocks, such as FAT's 2 s, round times down by up to that).
SETTLED_S = 2.0
#: How many plates' listings are kept (the most recently opened).
KEPT = 8
#: How many plates' scans are kept (the most recently opened).
SCANS_KEPT = 2

Signature = tuple[int, int, int, int]
K = TypeVar("K")
V = TypeVar("V")


class _Kept:
    def __init__(
        self,
        found: dict[str, Listing],
        lowered: dict[str, dict[str, str]],
        lowered_text: dict[str, str],
        signatures: dict[str, Signature],
    ) -> None:
        self.found, self.lowered, self.signatures = found, lowered, signatures
        self.lowered_text = lowered_text
        #: (handler, how it was opened) → the scan made, and the files it read as they were.
        self.scans: dict[Hashable, tuple[PlateScan, dict[str, Signature]]] = {}


_kept: OrderedDict[str, _Kept] = OrderedDict()
_lock = threading.Lock()


def _signature(path: str) -> Signature | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns


def reuse(source: PlateSource) -> None:
    """Give ``source`` the listings kept for its plate, when every folder is unchanged."""
    if not source.is_local:
        return
    with _lock:
        kept = _kept.get(source.location)
    if kept is None:
        return
    if any(_signature(folder) != signature for folder, signature in kept.signatures.items()):
        with _lock:
            if _kept.get(source.location) is kept:
                del _kept[source.location]
        return
    listings = source._listings
    with listings.lock:
        for folder, listing in kept.found.items():
            listings.found.setdefault(folder, listing)
        for folder, names in kept.lowered.items():
            listings.lowered.setdefault(folder, names)
        for folder, text in kept.lowered_text.items():
            listings.lowered_text.setdefault(folder, text)


def _settled(paths: Iterable[str], started_ns: int) -> dict[str, Signature] | None:
    """Each path's signature, or ``None`` when one is gone or changed less than
    :data:`SETTLED_S` before ``started_ns``."""
    settled = started_ns - int(SETTLED_S * 1e9)
    signatures: dict[str, Signature] = {}
    for path in paths:
        signature = _signature(path)
        if signature is None or max(signature[2], signature[3]) >= settled:
            return None
        signatures[path] = signature
    return signatures


def _unchanged(signatures: Mapping[str, Signature]) -> bool:
    return all(_signature(path) == signature for path, signature in signatures.items())


def remember(
    source: PlateSource,
    started_ns: int,
    scan: tuple[Hashable, PlateScan, set[str]] | None = None,
) -> None:
    """Keep ``source``'s listings, made since ``started_ns`` (``time.time_ns()``), for the next
    opening of its plate, and ``scan`` (its key, the scan, and the files it read) made from
    them; nothing when a folder changed less than :data:`SETTLED_S` before, and no scan when a
    file it read did."""
    if not source.is_local:
        return
    listings = source._listings
    with listings.lock:
        found = dict(listings.found)
        lowered = dict(listings.lowered)
        lowered_text = dict(listings.lowered_text)
    if any(isinstance(listing, BaseException) for listing in found.values()):
        return
    signatures = _settled(found, started_ns)
    if signatures is None:
        return
    kept = _Kept(found, lowered, lowered_text, signatures)  # type: ignore[arg-type]
    files = _settled(scan[2], started_ns) if scan is not None else None
    if scan is not None and files is not None:
        # A copy, so what the caller does to its plate's scan is not kept.
        kept.scans[scan[0]] = (_copy(scan[1]), files)
    with _lock:
        earlier = _kept.get(source.location)
        if earlier is not None and earlier.signatures == signatures:
            kept.scans = {**earlier.scans, **kept.scans}
        _kept[source.location] = kept
        _kept.move_to_end(source.location)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
        for older in list(_kept.values())[:-SCANS_KEPT]:
            older.scans.clear()


def kept_scan(source: PlateSource, key: Hashable) -> PlateScan | None:
    """A copy of the scan kept as ``key`` for ``source``'s plate, when its folders and the files
    it read are unchanged; else ``None``."""
    if not source.is_local:
        return None
    with _lock:
        kept = _kept.get(source.location)
        found = kept.scans.get(key) if kept is not None else None
    if kept is None or found is None:
        return None
    scan, files = found
    if not (_unchanged(kept.signatures) and _unchanged(files)):
        return None
    return _copy(scan)


def _copy(scan: PlateScan) -> PlateScan:
    """A copy of ``scan`` that its user may change; what is worked out on first use (a lazy
    plane map, stage positions read from each plane) is worked out again on the copy's first
    use, as for a plate opened anew."""
    import copy
    from dataclasses import replace

    from platekit.microscopes._model import PlateScan

    meta = scan.metadata
    metadata = replace(
        meta,
        wells=list(meta.wells),
        sites=list(meta.sites),
        channels=dict(meta.channels),
        positions=_copy_map(meta.positions),
        extra=copy.deepcopy(meta.extra),
        notices=list(meta.notices),
    )
    return PlateScan(metadata, _copy_map(scan.planes), list(scan.missing))


def _copy_map(mapping: dict[K, V]) -> dict[K, V]:
    from platekit.microscopes.handlers._lazy_dict import LazyDict

    return mapping.remade() if isinstance(mapping, LazyDict) else dict(mapping)


def forget() -> None:
    """Keep no listing any more (the next opening of every plate lists its folders)."""
    with _lock:
        _kept.clear()
