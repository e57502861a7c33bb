"""The planes an ImageXpress scan found, counted and looked up without a record per plane.

A scan of a plate of 50,000 images needs how many planes each folder holds,
whether a few given planes are there, and where: :class:`Planes` answers
from each folder's :class:`~platekit.microscopes.handlers._imagexpress_names.Listed`
names, and makes a ``PlaneKey`` per plane only when the plane map is used.
"""

from __future__ import annotations

from platekit.microscopes._model import PlaneKey
from platekit.microscopes.handlers._imagexpress_names import Listed, Row

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class FolderPlanes:
    """One folder's planes as their names spell them: no PlaneKey is made until one is asked for."""

    def __init__(self, folder: str, listed: Listed, z: int, t: int) -> None:
        self.folder, self.listed, self.z, self.t = folder, listed, z, t

    def keep_only(self, wells: set[str], sites: range, channels: dict[int, str]) -> int:
        """Leave out the planes of wells, sites or waves the HTD does not list; how many."""
        listed = self.listed
        site_of, wave_of = listed.site_of, listed.wave_of
        if (
            listed.wells <= wells
            and all(site in sites for site in site_of.values())
            and all(wave in channels for wave in wave_of.values())
        ):
            return 0
        kept = [
            row
            for row in listed.rows
            if row[2] in wells and site_of[row[3]] in sites and wave_of[row[4]] in channels
        ]
        self.listed = Listed(kept)
        return len(listed.rows) - len(kept)

    def named(self) -> Iterator[tuple[Row, tuple[str, int, int]]]:
        """Each row and its (well, site, wave), in order."""
        rows = self.listed.rows
        return zip(rows, self.listed.row_keys(rows), strict=True)


class Planes:
    """The planes of a scan's folders: counted and looked up without a record per plane.

    A plane found twice (two spellings, or the plate folder and TimePoint_1
    at the same t and z) is the first found.
    """

    def __init__(self) -> None:
        self.parts: list[FolderPlanes] = []
        self.places: dict[tuple[int, int], list[Listed]] = {}

    def add(self, part: FolderPlanes) -> None:
        self.parts.append(part)
        self.places.setdefault((part.z, part.t), []).append(part.listed)

    def __len__(self) -> int:
        return sum(
            found[0].count if len(found) == 1 else len(set().union(*(f.key_set() for f in found)))
            for found in self.places.values()
        )

    def has(self, key: PlaneKey) -> bool:
        found = self.places.get((key.z_index, key.timepoint), ())
        return any(listed.has(key.well, key.site, key.channel) for listed in found)

    def address(self, key: PlaneKey) -> str:
        for part in self.parts:
            if (part.z, part.t) == (key.z_index, key.timepoint):
                name = part.listed.name(key.well, key.site, key.channel)
                if name is not None:
                    return part.folder + name
        raise KeyError(key)

    def items(self) -> Iterator[tuple[PlaneKey, str]]:
        """Each plane and its address, in the order found."""
        for part in self.parts:
            z, t, folder = part.z, part.t, part.folder
            for row, (well, site, wave) in part.named():
                yield PlaneKey(well, site, wave, z, t), folder + row[0]
