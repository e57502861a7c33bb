"""ImageXpress plane file names, read one at a time or a whole folder's listing at once.

``<prefix>_<well>[_s<site>][_w<wave>][_thumb][<GUID>].tif``: the prefix may
hold underscores, so a name is read right to left (the greedy prefix leaves
the well as the last part the rest can follow). A folder of thousands of
planes is read with one regular-expression pass over its joined listing
rather than a match per name, since opening a plate should cost little more
than listing it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
import threading
from collections import OrderedDict
from operator import itemgetter

_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_GUIDS = rf"_?(?:{_GUID}|\[{_GUID}\]|\{{{_GUID}\}})"
_WELL = r"[A-Z]{1,2}(?!00)\d\d"
#: A well as plane names spell it: one or two letters and a two-digit column.
WELL = re.compile(_WELL)
# What follows the plate prefix: well, site, wave, thumbnail mark, GUID, extension.
_TAIL = (
    rf"(?P<well>{_WELL})"
    r"(?:_s(?P<site>\d+))?(?:_w(?P<wave>\d+))?(?P<thumb>_thumb)?"
    rf"(?P<guid>{_GUIDS})?"
    r"(?P<extension>\.(?i:tiff?))"
)
#: One file name, prefix included. No tail holds another tail after one of its
#: underscores, so a tail that fits after a known prefix is the one this finds.
NAME = re.compile(r"(?:(?P<prefix>.+)_)?" + _TAIL)
# The same tail for a whole listing: the stem (well, site and wave as spelled), well, site,
# wave and thumbnail mark.
_BULK_TAIL = rf"(({_WELL})(?:_s(\d+))?(?:_w(\d+))?)(_thumb)?(?:{_GUIDS})?\.(?i:tiff?)"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: A plane's file name; its stem (``A01_s1_w1``), well, site and wave as the name spells them
#: ("" where absent); and two "" (the places of the thumbnail mark, which no plane has, and of
#: a name that is no plane).
Row = tuple[str, str, str, str, str, str, str]


@functools.lru_cache(maxsize=32)
def _listing_pattern(prefix: str | None) -> re.Pattern[str]:
    """Each line: a plane name with plate prefix ``prefix`` (``None``: no prefix) in the first
    groups, or else the whole line in the last."""
    lead = "" if prefix is None else re.escape(prefix) + "_"
    return re.compile(rf"^(?:({lead}{_BULK_TAIL})|(.*))$", re.MULTILINE)


class Listed:
    """A folder listing's plane names read once: the rows, the number each spelling of a site
    or wave stands for ("" is 1, "001" is 1), and which (well, site, wave) are there.

    Where each number is spelled one way, a plane is known by its name's stem
    and no tuple is made per row; else by its (well, site, wave).
    """

    def __init__(self, rows: list[Row]) -> None:
        self._rows = rows
        # Each column's set made straight from the rows: transposing them (zip(*rows)) first
        # took longer than the sets.
        self.site_of = {site: int(site) if site else 1 for site in set(map(itemgetter(3), rows))}
        self.wave_of = {wave: int(wave) if wave else 1 for wave in set(map(itemgetter(4), rows))}
        self.wells = set(map(itemgetter(2), rows))
        sites = {number: site for site, number in self.site_of.items()}
        waves = {number: wave for wave, number in self.wave_of.items()}
        self._spelled: tuple[dict[int, str], dict[int, str]] | None = None
        if len(sites) == len(self.site_of) and len(waves) == len(self.wave_of):
            self._spelled = sites, waves
            self._stems = set(map(itemgetter(1), rows))
            #: How many distinct planes the rows are.
            self.count = len(self._stems)
        else:
            self._keys = self.key_set()
            self.count = len(self._keys)

    @property
    def rows(self) -> list[Row]:
        """The plane names' rows, in listing order."""
        return self._rows

    def has(self, well: str, site: int, wave: int) -> bool:
        """Whether a row is the plane (well, site, wave)."""
        if self._spelled is None:
            return (well, site, wave) in self._keys
        stem = self._stem(well, site, wave)
        return stem is not None and stem in self._stems

    def name(self, well: str, site: int, wave: int) -> str | None:
        """The file name of the first row that is the plane (well, site, wave), else ``None``."""
        rows = self.rows
        if self._spelled is None:
            keys = self.row_keys(rows)
            wanted = (well, site, wave)
            return next(
                (row[0] for row, key in zip(rows, keys, strict=True) if key == wanted), None
            )
        stem = self._stem(well, site, wave)
        if stem is None or stem not in self._stems:
            return None
        # One stem is one plane here, so the first row with it is the plane's first row.
        return next(row[0] for row in rows if row[1] == stem)

    def _stem(self, well: str, site: int, wave: int) -> str | None:
        """The stem the plane's name has where each number is spelled one way; ``None`` when
        no row spells that site or wave."""
        sites, waves = self._spelled or ({}, {})
        site_spelled, wave_spelled = sites.get(site), waves.get(wave)
        if site_spelled is None or wave_spelled is None:
            return None
        return stem(well, site_spelled, wave_spelled)

    def key_set(self) -> set[tuple[str, int, int]]:
        """The (well, site, wave) of the rows."""
        return set(self.row_keys(self.rows))

    def row_keys(self, rows: list[Row]) -> Iterator[tuple[str, int, int]]:
        """(well, site, wave) of each of ``rows``, in order."""
        wells = map(itemgetter(2), rows)
        sites = map(self.site_of.__getitem__, map(itemgetter(3), rows))
        waves = map(self.wave_of.__getitem__, map(itemgetter(4), rows))
        return zip(wells, sites, waves, strict=True)


# The last listings read, by identity: a listing kept from an earlier opening of the plate
# (see platekit.microscopes._settled_listings) is the same list, and is not read again.
_read: OrderedDict[int, tuple[list[str], Listed]] = OrderedDict()
#: How many names the kept listings may hold in all (a few tens of MB), the latest kept.
_NAMES_KEPT = 200_000
_lock = threading.Lock()


def read_listing(
    names: list[str], expected: Callable[[list[str]], Listed | None] | None = None
) -> Listed:
    """The plane names among ``names``, as :func:`plane_rows` gives them, with their keys.

    ``expected`` may read them first, faster, from what the plate leads one to
    expect; where it gives ``None`` they are read name by name. ``names`` must
    not change afterwards: the answer is kept for the same list.
    """
    with _lock:
        kept = _read.get(id(names))
        if kept is not None and kept[0] is names:
            _read.move_to_end(id(names))
            return kept[1]
    with _cycles_not_collected():
        listed = expected(names) if expected is not None else None
        if listed is None:
            listed = Listed(plane_rows(names))
    with _lock:
        _read[id(names)] = (names, listed)
        held = sum(len(listing) for listing, _ in _read.values())
        while held > _NAMES_KEPT and len(_read) > 1:
            held -= len(_read.popitem(last=False)[1][0])
    return listed


@contextlib.contextmanager
def _cycles_not_collected() -> Iterator[None]:
    """The cyclic garbage collector paused, as it was before afterwards.

    A listing's rows are a new tuple per name and form no cycle, yet
    allocating them starts a collection every few hundred: a quarter of the
    time of reading 50,000 names went to collections that could find nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def plane_rows(names: list[str]) -> list[Row]:
    """The plane names among ``names`` (thumbnails and other files left out), in their order.

    Gives what :data:`NAME` gives name by name; a listing whose plane names
    share one prefix (a plate's do) is read in one pass.
    """
    first = next((match for match in map(NAME.fullmatch, names) if match), None)
    if first is None:
        return []
    joined = "\n".join(names)
    if joined.count("\n") == len(names) - 1:  # no name holds a line break
        found: list[Row] = _listing_pattern(first["prefix"]).findall(joined)
        # The rest must be no plane at all (the HTD, other files); else read name by name.
        if not any(map(NAME.fullmatch, filter(None, map(itemgetter(6), found)))):
            rows = list(filter(itemgetter(0), found))
            return [row for row in rows if not row[5]] if "_thumb" in joined else rows
    return _one_by_one(names)


def _one_by_one(names: list[str]) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        match = NAME.fullmatch(name)
        if match is not None and not match["thumb"]:
            well, site, wave = match["well"], match["site"] or "", match["wave"] or ""
            rows.append((name, stem(well, site, wave), well, site, wave, "", ""))
    return rows


def stem(well: str, site: str, wave: str) -> str:
    """A plane name's stem (``A01_s1_w1``) from its well, site and wave as spelled ("" where
    the name leaves one out)."""
    return well + (f"_s{site}" if site else "") + (f"_w{wave}" if wave else "")
