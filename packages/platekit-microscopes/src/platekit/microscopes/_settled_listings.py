"""Listings of local plate folders, kept from one opening of a plate to the next.

``detect_microscope`` and then ``open_plate`` of one folder, or a plate opened
again, would list the same folders again. A folder whose contents change
gets a new modification or change time, so a listing is given again while
the folder's ``os.stat`` (device, inode, mtime, ctime) is the same as when
it was kept. A listing is kept only when the folder had not changed for
:data:`SETTLED_S` seconds before it was listed, as git trusts its index: a
change within a timestamp's granularity of the listing could otherwise leave
the times as they were. Only the openings that made their own source keep or
reuse listings, and only of local folders.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.microscopes._source import Listing, PlateSource

#: How long a folder must have been unchanged before its listing is kept (coarse
#: filesystem clocks, such as FAT's 2 s, round times down by up to that).
SETTLED_S = 2.0
#: How many plates' listings are kept (the most recently opened).
KEPT = 8

Signature = tuple[int, int, int, int]


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


_kept: OrderedDict[str, _Kept] = OrderedDict()
_lock = threading.Lock()


def _signature(folder: str) -> Signature | None:
    try:
        stat = os.stat(folder)
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


def remember(source: PlateSource, started_ns: int) -> None:
    """Keep ``source``'s listings, made since ``started_ns`` (``time.time_ns()``), for the next
    opening of its plate; nothing when a folder changed less than :data:`SETTLED_S` before."""
    if not source.is_local:
        return
    listings = source._listings
    with listings.lock:
        found = dict(listings.found)
        lowered = dict(listings.lowered)
        lowered_text = dict(listings.lowered_text)
    settled = started_ns - int(SETTLED_S * 1e9)
    signatures: dict[str, Signature] = {}
    for folder, listing in found.items():
        signature = _signature(folder)
        if isinstance(listing, BaseException) or signature is None:
            return
        if max(signature[2], signature[3]) >= settled:
            return
        signatures[folder] = signature
    kept = _Kept(found, lowered, lowered_text, signatures)  # type: ignore[arg-type]
    with _lock:
        _kept[source.location] = kept
        _kept.move_to_end(source.location)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)


def forget() -> None:
    """Keep no listing any more (the next opening of every plate lists its folders)."""
    with _lock:
        _kept.clear()
