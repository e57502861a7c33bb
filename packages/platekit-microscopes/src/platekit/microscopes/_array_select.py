"""Choosing the planes of a plate's array: by well, field, channel (name or number), z and t.

The names are :meth:`Plate.read`'s: ``well``, ``site``, ``channel``, ``z``
and ``t``. ``None`` keeps every value; one value keeps that one and drops its
dimension, as indexing an array with a number does; a list keeps its values,
in its order, and the dimension.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from platekit.microscopes._model import PlaneKey
from platekit.microscopes._wells import normal_well

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from platekit.microscopes._plate import Plate

#: An array's dimensions, in order; a selection may drop any of the first five.
DIMS = ("well", "field", "t", "c", "z", "y", "x")


@dataclass(frozen=True)
class Selection:
    """The chosen wells, sites, time points, channels and z planes, and which dimensions stay."""

    wells: tuple[str, ...]
    sites: tuple[int, ...]
    times: tuple[int, ...]
    channels: tuple[int, ...]
    zs: tuple[int, ...]
    #: For well, field, t, c and z: whether the dimension stays in the array.
    kept: tuple[bool, ...]

    @property
    def axes(self) -> tuple[tuple[Any, ...], ...]:
        """The chosen values of well, field, t, c and z, in that order."""
        return (self.wells, self.sites, self.times, self.channels, self.zs)

    @property
    def dims(self) -> tuple[str, ...]:
        """The array's dimension names."""
        leading = tuple(dim for dim, kept in zip(DIMS[:5], self.kept, strict=True) if kept)
        return (*leading, "y", "x")

    @property
    def shape(self) -> tuple[int, ...]:
        """The lengths of the kept dimensions before ``y`` and ``x``."""
        return tuple(len(axis) for axis, kept in zip(self.axes, self.kept, strict=True) if kept)

    def key(self, position: tuple[int, ...]) -> PlaneKey:
        """The plane at ``position``, one index per kept dimension."""
        indices = iter(position)
        well, site, time, channel, z = (
            axis[next(indices)] if kept else axis[0]
            for axis, kept in zip(self.axes, self.kept, strict=True)
        )
        return PlaneKey(well, site, channel, z, time)

    def planes(self) -> Iterator[PlaneKey]:
        """Every chosen plane, in the array's order (the last dimension fastest)."""
        # A dropped dimension has its one value: the product runs in the array's order.
        for well, site, time, channel, z in itertools.product(*self.axes):
            yield PlaneKey(well, site, channel, z, time)


def select(plate: Plate, well: Any, site: Any, channel: Any, z: Any, t: Any) -> Selection:
    """The planes chosen from ``plate``; ``KeyError`` naming a value the plate lacks."""
    meta = plate.metadata
    times = list(range(1, meta.t_count + 1))
    zs = list(range(1, meta.z_count + 1))
    choices = [
        _choose("well", well, meta.wells, _well),
        _choose("site", site, meta.sites, _number("site")),
        _choose("t", t, times, _number("t")),
        _choose("channel", channel, list(meta.channels), _channel(plate)),
        _choose("z", z, zs, _number("z")),
    ]
    wells, sites, chosen_times, channels, chosen_zs = (values for values, _ in choices)
    return Selection(
        wells=tuple(wells),
        sites=tuple(sites),
        times=tuple(chosen_times),
        channels=tuple(channels),
        zs=tuple(chosen_zs),
        kept=tuple(kept for _, kept in choices),
    )


def _choose(
    name: str, value: Any, known: list[Any], normal: Callable[[Any], Any]
) -> tuple[list[Any], bool]:
    if value is None:
        return list(known), True
    many = isinstance(value, (list, tuple, range))
    chosen = [normal(item) for item in (value if many else [value])]
    for item in chosen:
        if item not in known:
            listed = ", ".join(str(entry) for entry in known[:12])
            more = f" and {len(known) - 12} more" if len(known) > 12 else ""
            raise KeyError(f"the plate has no {name} {item!r}; it has {listed}{more}")
    if many and not chosen:
        raise ValueError(f"{name}=[] chooses nothing; give at least one {name}, or None for all")
    return chosen, many


def _well(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"well={value!r}: give a well name such as 'B03', or a list of them")
    return normal_well(value)


def _number(name: str) -> Callable[[Any], int]:
    def number(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name}={value!r}: give a number (1 is the first), or a list of them")
        return int(value)

    return number


def _channel(plate: Plate) -> Callable[[Any], int]:
    by_name = {}
    for number, found in sorted(plate.metadata.channels.items(), reverse=True):
        by_name[found.name] = number  # the first channel of a name wins

    def channel(value: Any) -> int:
        if isinstance(value, str):
            if value not in by_name:
                names = ", ".join(repr(name) for name in reversed(by_name))
                raise KeyError(f"the plate has no channel named {value!r}; it has {names}")
            return by_name[value]
        return _number("channel")(value)

    return channel
