"""The absent planes of a converted well, recorded compactly as runs.

A well's planes are written in one order (site, channel, z, time point,
the last changing fastest), and absent planes come in runs in that order: a
2-D channel of a z-stack lacks every z but the first, a well with fewer
fields lacks whole fields. So a well records, once, its sites, channels and
z and t counts, and then each run of absent planes that share a kind, a
reason and a path as its first plane and a count. A well's record stays a
few entries long where a list of planes would grow with the plate.
"""

from __future__ import annotations

from platekit.microscopes._model import PlaneKey
from platekit.microscopes._plan import AbsentPlane

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from platekit.microscopes._model import PlateMetadata


def encode(absent: list[AbsentPlane], meta: PlateMetadata) -> dict[str, Any]:
    """The record of one well's ``absent`` planes, given in the order they were written."""
    order = _Order(list(meta.sites), list(meta.channels), meta.z_count, meta.t_count)
    runs: list[dict[str, Any]] = []
    last: tuple[int, str, str, str | None] | None = None
    for plane in absent:
        index = order.index(plane.plane)
        if last is not None and (index - 1, plane.kind, plane.reason, plane.path) == last:
            runs[-1]["count"] += 1
        else:
            key = plane.plane
            runs.append(
                {
                    "kind": plane.kind,
                    "reason": plane.reason,
                    "path": plane.path,
                    "first": [key.site, key.channel, key.z_index, key.timepoint],
                    "count": 1,
                }
            )
        last = (index, plane.kind, plane.reason, plane.path)
    return {
        "sites": order.sites,
        "channels": order.channels,
        "z": order.z,
        "t": order.t,
        "runs": runs,
    }


def decode(well: str, record: Any) -> list[AbsentPlane]:
    """The absent planes of ``well`` from its record; a list of planes (older outputs) too."""
    if isinstance(record, list):
        return [_plane_of_entry(entry) for entry in record]
    if not isinstance(record, dict):
        return []
    order = _Order(record["sites"], record["channels"], record["z"], record["t"])
    found = []
    for run in record["runs"]:
        start = order.index(PlaneKey(well, *run["first"]))
        for index in range(start, start + run["count"]):
            found.append(
                AbsentPlane(order.key(well, index), run["reason"], run["path"], run["kind"])
            )
    return found


def _plane_of_entry(entry: dict[str, Any]) -> AbsentPlane:
    key = PlaneKey(
        entry["well"], entry["site"], entry["channel"], entry["z_index"], entry["timepoint"]
    )
    return AbsentPlane(key, entry["reason"], entry.get("path"), entry.get("kind", "missing"))


class _Order:
    """The position of each plane of a well in the order its planes are written."""

    def __init__(self, sites: list[int], channels: list[int], z: int, t: int) -> None:
        self.sites, self.channels, self.z, self.t = sites, channels, z, t

    def index(self, key: PlaneKey) -> int:
        site = self.sites.index(key.site)
        channel = self.channels.index(key.channel)
        return ((site * len(self.channels) + channel) * self.z + key.z_index - 1) * self.t + (
            key.timepoint - 1
        )

    def key(self, well: str, index: int) -> PlaneKey:
        rest, timepoint = divmod(index, self.t)
        rest, z = divmod(rest, self.z)
        site, channel = divmod(rest, len(self.channels))
        return PlaneKey(well, self.sites[site], self.channels[channel], z + 1, timepoint + 1)
