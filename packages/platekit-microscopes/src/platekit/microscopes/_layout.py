"""What a plate written by :class:`~platekit.microscopes.PlateWriter` holds: its layout."""

from __future__ import annotations

from dataclasses import dataclass, replace

from platekit.microscopes._field_arrays import check_levels
from platekit.microscopes._model import Channel, PlateMetadata
from platekit.microscopes._wells import normal_well, parse_well

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from platekit.microscopes._plate import Plate


@dataclass(frozen=True)
class PlateLayout:
    """The wells, fields, channels and image shape of an OME-Zarr plate to write.

    ``wells`` are spelled ``"A01"``; ``fields`` is how many fields each well
    has (numbered from 0, as the plate's field groups are); ``channels`` give
    names and, optionally, ``RRGGBB`` colours; every field image is ``t_count x
    len(channels) x z_count x image_shape`` of ``dtype``. ``levels`` is the
    number of resolution levels, each half the size of the one before in y and x.
    Raises ``ValueError`` naming the value for anything inconsistent.
    """

    wells: tuple[str, ...]
    fields: int
    channels: tuple[Channel, ...]
    image_shape: tuple[int, int]
    dtype: str
    z_count: int = 1
    t_count: int = 1
    rows: int = 8
    columns: int = 12
    name: str = "plate"
    pixel_size_um: float | None = None
    z_step_um: float | None = None
    levels: int = 1

    def __post_init__(self) -> None:
        import numpy as np

        set_ = object.__setattr__
        set_(self, "wells", tuple(normal_well(well) for well in self.wells))
        set_(self, "channels", tuple(_channel(i, c) for i, c in enumerate(self.channels, 1)))
        set_(self, "image_shape", tuple(int(size) for size in self.image_shape))
        set_(self, "dtype", str(np.dtype(self.dtype)))
        if not self.wells or not self.channels:
            raise ValueError(
                f"a plate layout needs at least one well and one channel, got wells "
                f"{list(self.wells)} and channels {[c.name for c in self.channels]}"
            )
        for name in ("fields", "z_count", "t_count", "rows", "columns", "levels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        if len(self.image_shape) != 2 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be (height, width), not {self.image_shape!r}")
        check_levels(self.levels, self.image_shape)
        for well in self.wells:
            row, column = parse_well(well)
            if row > self.rows or column > self.columns:
                raise ValueError(
                    f"well {well} lies outside a plate of {self.rows} rows and {self.columns} "
                    "columns; give rows= and columns= of the plate it is on"
                )
        if len(set(self.wells)) != len(self.wells):
            raise ValueError(f"wells are listed twice in {list(self.wells)}")

    @classmethod
    def from_plate(cls, plate: Plate, **changes: Any) -> PlateLayout:
        """The layout of ``plate`` (any plate platekit reads), with ``changes`` applied.

        ``PlateLayout.from_plate(plate, z_count=1)`` is the layout of its
        maximum projections over z, for example. Raises ``ValueError`` when the
        plate's metadata gives no image shape or pixel type and ``changes`` do not.
        """
        meta = plate.metadata
        shape, dtype = meta.image_shape, meta.dtype
        if (shape is None and "image_shape" not in changes) or (
            dtype is None and "dtype" not in changes
        ):
            first = plate.read_plane(next(plate.planes())[0])
            shape, dtype = (int(first.shape[0]), int(first.shape[1])), str(first.dtype)
        found: dict[str, Any] = {
            "wells": tuple(meta.wells),
            "fields": meta.site_count,
            "channels": tuple(meta.channels.values()),
            "image_shape": shape,
            "dtype": dtype,
            "z_count": meta.z_count,
            "t_count": meta.t_count,
            "rows": meta.rows,
            "columns": meta.columns,
            "name": meta.name,
            "pixel_size_um": meta.pixel_size_um,
            "z_step_um": meta.z_step_um,
        }
        return cls(**{**found, **changes})

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """The ``(t, c, z, y, x)`` shape every field image has."""
        return (self.t_count, len(self.channels), self.z_count, *self.image_shape)

    def metadata(self) -> PlateMetadata:
        """The layout as plate metadata, which the NGFF metadata is made from."""
        return PlateMetadata(
            name=self.name,
            microscope="platekit",
            rows=self.rows,
            columns=self.columns,
            wells=list(self.wells),
            sites=list(range(1, self.fields + 1)),
            channels={channel.id: channel for channel in self.channels},
            z_count=self.z_count,
            t_count=self.t_count,
            pixel_size_um=self.pixel_size_um,
            z_step_um=self.z_step_um,
            image_shape=self.image_shape,
            dtype=self.dtype,
        )

    def as_json(self) -> dict[str, Any]:
        """The layout as JSON-safe values, which :meth:`from_json` reads back."""
        return {
            "wells": list(self.wells),
            "fields": self.fields,
            "channels": [[c.name, c.color] for c in self.channels],
            "image_shape": list(self.image_shape),
            "dtype": self.dtype,
            "z_count": self.z_count,
            "t_count": self.t_count,
            "rows": self.rows,
            "columns": self.columns,
            "name": self.name,
            "pixel_size_um": self.pixel_size_um,
            "z_step_um": self.z_step_um,
            "levels": self.levels,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> PlateLayout:
        """The layout :meth:`as_json` gave."""
        channels = [
            Channel(i, name, color=color) for i, (name, color) in enumerate(record["channels"], 1)
        ]
        return cls(**{**record, "channels": tuple(channels)})

    def with_changes(self, **changes: Any) -> PlateLayout:
        """This layout with ``changes`` applied (``layout.with_changes(z_count=1)``)."""
        return replace(self, **changes)


def _channel(number: int, given: Channel | str | Iterable[str | None]) -> Channel:
    """A channel from a :class:`Channel`, a name, or ``(name, colour)``."""
    if isinstance(given, Channel):
        return Channel(number, given.name, given.excitation_nm, given.emission_nm, given.color)
    if isinstance(given, str):
        return Channel(number, given)
    name, color = tuple(given)
    return Channel(number, str(name), color=color)
