"""What a plate is made of: plane names and keys, channels, and the plate's metadata.

Every component is 1-based, as the vendors number them in their files:
site 1 is the first field of a well, channel 1 the first channel, and
``z_index`` and ``timepoint`` 1 the first plane and time point. Wells are
spelled ``A01`` (see :mod:`platekit.microscopes._wells`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass(frozen=True)
class PlaneName:
    """What one image file's name says; ``None`` for a part the name leaves out.

    ``prefix`` is the text before the well (ImageXpress' plate prefix,
    CellVoyager's plate name); ``extension`` includes the dot; ``extra``
    holds format-specific parts as ``(name, value)`` pairs (CellVoyager's
    timeline and action, ImageXpress' GUID) so :meth:`FilenameParser.format`
    can give the very name back.
    """

    well: str
    site: int | None = None
    channel: int | None = None
    z_index: int | None = None
    timepoint: int | None = None
    prefix: str = ""
    extension: str = ".tif"
    extra: tuple[tuple[str, str], ...] = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the format-specific part ``name`` in :attr:`extra`."""
        return dict(self.extra).get(name, default)

    def key(self) -> PlaneKey:
        """The plane this name stands for, absent parts taken as 1."""
        return PlaneKey(
            self.well,
            self.site or 1,
            self.channel or 1,
            self.z_index or 1,
            self.timepoint or 1,
        )


@dataclass(frozen=True, order=True)
class PlaneKey:
    """One plane of a plate: well, site, channel, z plane and time point (all 1-based)."""

    well: str
    site: int = 1
    channel: int = 1
    z_index: int = 1
    timepoint: int = 1

    def __str__(self) -> str:
        return (
            f"{self.well} site {self.site} channel {self.channel} "
            f"z {self.z_index} t {self.timepoint}"
        )


@dataclass(frozen=True)
class Channel:
    """One channel: its number, name and, where the format records them, wavelengths (nm)."""

    id: int
    name: str
    excitation_nm: float | None = None
    emission_nm: float | None = None
    #: Display colour as ``RRGGBB``, where the format has one.
    color: str | None = None


@dataclass
class PlateMetadata:
    """Everything a plate's metadata says, in one shape for every format.

    ``rows`` and ``columns`` are the plate format (8 x 12 for 96 wells);
    ``wells`` the wells present, in row-major order; ``grid`` the sites of a
    well as ``(rows, columns)`` where the format places them on a grid;
    ``positions`` stage positions in µm ``(x, y, z or None)`` per plane,
    where the format records them.
    """

    name: str
    microscope: str
    rows: int
    columns: int
    wells: list[str]
    sites: list[int]
    channels: dict[int, Channel]
    z_count: int = 1
    t_count: int = 1
    grid: tuple[int, int] | None = None
    pixel_size_um: float | None = None
    z_step_um: float | None = None
    image_shape: tuple[int, int] | None = None
    dtype: str | None = None
    positions: dict[PlaneKey, tuple[float, float, float | None]] = field(default_factory=dict)
    #: What else the format says, JSON-safe (instrument, plate type, times, ...).
    extra: dict[str, object] = field(default_factory=dict)
    #: What a user should know about this plate beyond its shape, one sentence each
    #: (channels defined but never acquired, projections left out, ...);
    #: ``platekit inspect`` and ``platekit convert`` print them.
    notices: list[str] = field(default_factory=list)

    @property
    def site_count(self) -> int:
        return len(self.sites)

    def expected_planes(self) -> Iterator[PlaneKey]:
        """Every plane the metadata promises, in well, site, channel, z, t order."""
        for well in self.wells:
            for site in self.sites:
                for channel in self.channels:
                    for z in range(1, self.z_count + 1):
                        for t in range(1, self.t_count + 1):
                            yield PlaneKey(well, site, channel, z, t)


@dataclass
class PlateScan:
    """What a handler found in a plate folder: its metadata, and where each plane is.

    ``planes`` maps each plane found to its *address*, a string the handler's
    :meth:`~platekit.microscopes.MicroscopeHandler.read_plane` understands
    (for TIFF formats, the file's path relative to the plate folder).
    ``missing`` lists the planes the metadata promises that are not there.
    """

    metadata: PlateMetadata
    planes: dict[PlaneKey, str]
    missing: list[PlaneKey] = field(default_factory=list)
