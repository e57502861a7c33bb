"""A folder's ImageXpress names read against the names its HTD leads one to expect.

A plate folder holds, beside its HTD and any thumbnails, one file per plane
the HTD lists, every name spelled alike (``<plate>_<well>_s<site>_w<wave>.tif``).
Spelling each expected name as the folder's first plane name spells its own,
and comparing the two sets of names, finds the planes with a few set
operations where a regular expression would read every name; only the names
left over are read. Where names end in a GUID, each differs, so the names
are compared without their last characters, as many as the first plane
name's GUID and extension, and those characters checked to be a GUID and
that extension all at once. When the names left over hold a plane (one
spelled otherwise, or of a well, site or wave the HTD does not list), or
one plane has two names, or the HTD lists a well no name spells (A100),
this gives up and the listing is read name by name as any other.
"""

from __future__ import annotations

from itertools import compress, product, starmap
from operator import add, itemgetter, not_

from platekit.microscopes.handlers._imagexpress_names import (
    NAME,
    WELL,
    Listed,
    Row,
    plane_rows,
    stem,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# Every hexadecimal digit as one letter: a GUID of any digits reads as the same text.
_HEX = str.maketrans(dict.fromkeys("0123456789abcdefABCDEF", "h"))


class Spelling:
    """How a folder spells its plane names: the plate prefix, the extension, and each
    site's and wave's number as written ("" where the name leaves it out)."""

    def __init__(
        self, lead: str, extension: str, wells: list[str], sites: list[str], waves: list[str]
    ) -> None:
        self.lead, self.extension = lead, extension
        self.wells, self.sites, self.waves = wells, sites, waves

    def names(self) -> list[str]:
        """Every expected name, in the order of :meth:`keys`."""
        sites = [f"_s{site}" if site else "" for site in self.sites]
        waves = [f"_w{wave}" if wave else "" for wave in self.waves]
        heads = [self.lead + well for well in self.wells]
        tails = [site + wave + self.extension for site, wave in product(sites, waves)]
        return list(starmap(add, product(heads, tails)))

    def keys(self) -> Iterable[tuple[str, str, str]]:
        """(well, site, wave) as spelled, of every expected name."""
        return product(self.wells, self.sites, self.waves)


class ExpectedListed(Listed):
    """The planes of a listing whose plane names are all among the expected ones.

    Answers as :class:`Listed` does for the same names; the rows are made
    only when asked for, and a plane's name is spelled, not searched for in
    the listing (names with GUIDs are looked up by the name spelled).
    """

    def __init__(
        self,
        names: list[str],
        spelling: Spelling,
        expected: list[str],
        missing: set[str],
        named: dict[str, str] | None = None,
    ) -> None:
        """``expected`` are the names spelled, ``missing`` those not found; ``named`` gives
        the file name of each found, where it is more than the name spelled (a GUID)."""
        self._names, self._spelling, self._expected = names, spelling, expected
        self._missing, self._named = missing, named
        self._made: list[Row] | None = None
        if not missing:
            self.wells = set(spelling.wells)
            sites, waves = set(spelling.sites), set(spelling.waves)
        else:
            where = dict(zip(expected, spelling.keys(), strict=True))
            found = [where[name] for name in expected if name not in missing]
            self.wells = set(map(itemgetter(0), found))
            sites, waves = set(map(itemgetter(1), found)), set(map(itemgetter(2), found))
        self.count = len(expected) - len(missing)
        self.site_of = {site: int(site) if site else 1 for site in sites}
        self.wave_of = {wave: int(wave) if wave else 1 for wave in waves}
        self._spelled = (
            {number: site for site, number in self.site_of.items()},
            {number: wave for wave, number in self.wave_of.items()},
        )

    @property
    def rows(self) -> list[Row]:
        """The plane names' rows, in listing order, made the first time they are asked for."""
        if self._made is None:
            named = self._named
            made = {
                name: (name, stem(well, site, wave), well, site, wave, "", "")
                for spelled, (well, site, wave) in zip(
                    self._expected, self._spelling.keys(), strict=True
                )
                if (name := spelled if named is None else named.get(spelled, ""))
            }
            self._made = [made[name] for name in self._names if name in made]
        return self._made

    def has(self, well: str, site: int, wave: int) -> bool:
        return self.name(well, site, wave) is not None

    def name(self, well: str, site: int, wave: int) -> str | None:
        spelled = self._stem(well, site, wave)
        if spelled is None or well not in self.wells:
            return None
        name = self._spelling.lead + spelled + self._spelling.extension
        if self._named is not None:
            return self._named.get(name)
        return None if name in self._missing else name


def _spelled(number: int, like: str) -> str:
    """``number`` written as ``like`` writes its own: zero-padded to its width when it is."""
    return f"{number:0{len(like)}d}" if like.startswith("0") else str(number)


def read_expected(
    names: list[str],
    wells: list[str],
    sites: range,
    waves: Iterable[int],
    made: dict[tuple[str, ...], list[str]] | None = None,
) -> Listed | None:
    """The planes among ``names``, where each is one of ``wells`` x ``sites`` x ``waves``
    spelled as the first plane name spells its own; ``None`` where that does not hold (then
    read the names with :func:`~platekit.microscopes.handlers._imagexpress_names.plane_rows`).

    ``made`` keeps the expected names of each spelling, for the next folder of the plate.
    """
    first = next((m for m in map(NAME.fullmatch, names) if m and not m["thumb"]), None)
    if first is None:
        return None
    site, wave = first["site"] or "", first["wave"] or ""
    waves = list(waves)
    # A number left out stands for 1: it can spell the planes only where there is one.
    if (not site and len(sites) > 1) or (not wave and len(waves) > 1):
        return None
    prefix = first["prefix"]
    spelling = Spelling(
        lead="" if prefix is None else prefix + "_",
        # Names with GUIDs are spelled without them, and without the extension after them.
        extension="" if first["guid"] else first["extension"],
        wells=wells,
        sites=[_spelled(number, site) if site else "" for number in sites],
        waves=[_spelled(number, wave) if wave else "" for number in waves],
    )
    made = {} if made is None else made
    key = (spelling.lead, spelling.extension, *spelling.sites, "/", *spelling.waves)
    expected = made.get(key)
    if expected is None:
        # A well no plane name spells (A100, of a plate of 100 columns) is no plane's: where
        # the HTD lists one, no name is expected, and every name is read.
        expected = made[key] = spelling.names() if all(map(WELL.fullmatch, wells)) else []
    if first["guid"]:
        return _read_with_guids(names, spelling, expected, first["guid"], first["extension"])
    # What is left of the names once the expected ones are taken out (in place: a copy of
    # a large set costs as much as the rest) must hold no plane: the HTD, thumbnails, others.
    others = set(names)
    distinct = len(others)
    others.difference_update(expected)
    if plane_rows(list(others)):
        return None
    # How many were taken out is how many expected names are present.
    missing = set() if distinct - len(others) == len(expected) else set(expected) - set(names)
    return ExpectedListed(names, spelling, expected, missing)


def _read_with_guids(
    names: list[str], spelling: Spelling, expected: list[str], guid: str, extension: str
) -> Listed | None:
    """:func:`read_expected` for names that end, as the first plane name does, in a GUID
    written as ``guid`` is and in ``extension``; ``expected`` are the names without that end."""
    cut = len(guid) + len(extension)
    spelled = list(map(itemgetter(slice(None, -cut)), names))
    wanted = set(expected)
    hits = list(map(wanted.__contains__, spelled))
    if plane_rows(list(compress(names, map(not_, hits)))):
        return None
    found = list(compress(names, hits))
    named = dict(zip(compress(spelled, hits), found, strict=True))
    if len(named) != len(found):
        return None  # one plane under two GUIDs: the first in the listing is the plane
    # Each found name must end in a GUID written as the first one is, then the extension:
    # the ends, joined, read as the first one's with any hexadecimal digits, and each of
    # them holds the extension's letters where that one does.
    ends = "".join(map(itemgetter(slice(-cut, None)), found))
    like = guid + extension
    if ends.translate(_HEX) != like.translate(_HEX) * len(found) or any(
        ends[at::cut] != letter * len(found) for at, letter in enumerate(extension, len(guid))
    ):
        return None
    missing = set() if len(named) == len(expected) else wanted.difference(named)
    return ExpectedListed(names, spelling, expected, missing, named)
