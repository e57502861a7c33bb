"""MicroscopeHandler and its two parts: the registry of the formats platekit reads.

A handler knows one vendor's plate folder: which file marks it
(:meth:`MicroscopeHandler.detect`), how its image files are named (its
:class:`FilenameParser`), what its metadata says (its
:class:`MetadataHandler`), and where every plane is
(:meth:`MicroscopeHandler.scan`). A handler that sets ``reads_source`` reads
through a :class:`~platekit.microscopes.PlateSource` (local, S3, any fsspec
URL) and shares the plate's one listing; one that does not is given the
plate's local ``Path`` and reads local plates only. Handlers register under
``_microscope_type``; the built-in ones live in
``platekit.microscopes.handlers`` and third-party ones join through the
``platekit.microscopes`` entry-point group.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

from platekit.registry import (
    PRIMARY_KEY,
    AutoRegisterMeta,
    LazyDiscoveryDict,
    RegistryConfig,
    SecondaryRegistry,
    SecondaryRegistryDict,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import numpy as np

    from platekit.microscopes._source import PlateSource

    #: What handler methods are given: a local folder, or a PlateSource (``reads_source``).
    PlateLocation = Path | PlateSource

    from platekit.microscopes._model import PlaneKey, PlaneName, PlateMetadata, PlateScan

#: Every microscope handler class, by ``_microscope_type``.
MICROSCOPE_HANDLERS = LazyDiscoveryDict()
#: Every handler's MetadataHandler class, by the same key; discovers the handlers first.
METADATA_HANDLERS = SecondaryRegistryDict(MICROSCOPE_HANDLERS)


class FilenameParser:
    """Reads and writes one format's image file names."""

    @abstractmethod
    def parse(self, name: str) -> PlaneName | None:
        """What the file name ``name`` (no folder) says, or ``None`` when it is not a plane.

        Returns ``None`` for names of other files (thumbnails, correction
        images, metadata), never raises for them.
        """

    @abstractmethod
    def format(self, plane: PlaneName) -> str:
        """The file name for ``plane``: ``parse(format(p)) == p`` for every plane name."""


class MetadataHandler:
    """Reads one format's plate metadata.

    Subclasses implement :meth:`find_metadata_file` and :meth:`read`; the
    smaller queries default to reading the whole metadata.
    """

    @abstractmethod
    def find_metadata_file(self, plate: PlateLocation) -> PlateLocation:
        """The plate's main metadata file.

        Raises ``FileNotFoundError`` saying which file it looked for and where.
        """

    @abstractmethod
    def read(self, plate: PlateLocation) -> PlateMetadata:
        """Everything the plate's metadata says.

        Raises :class:`~platekit.microscopes.PlateFormatError` naming the file
        (and line) when a metadata file is malformed.
        """

    def grid(self, plate: PlateLocation) -> tuple[int, int] | None:
        """The sites of a well as ``(rows, columns)``, or ``None`` when not on a grid."""
        return self.read(plate).grid

    def pixel_size(self, plate: PlateLocation) -> float | None:
        """The pixel size in µm, or ``None`` when the plate does not record it."""
        return self.read(plate).pixel_size_um

    def channels(self, plate: PlateLocation) -> dict[int, str]:
        """Channel number → channel name."""
        return {number: channel.name for number, channel in self.read(plate).channels.items()}


class MicroscopeHandler(metaclass=AutoRegisterMeta):
    """One microscope vendor's plate format. Subclasses register under ``_microscope_type``.

    A subclass sets ``_microscope_type``, ``display_name``, ``looks_for``
    (what :meth:`detect` looks for, in words), ``parser`` (a
    :class:`FilenameParser`) and ``metadata_handler`` (a
    :class:`MetadataHandler` class), and implements :meth:`scan`. TIFF-based
    formats keep the default :meth:`read_plane`.
    """

    __registry_config__ = RegistryConfig(
        registry_dict=MICROSCOPE_HANDLERS,
        key_attribute="_microscope_type",
        skip_if_no_key=True,
        registry_name="microscope handler",
        discovery_package="platekit.microscopes.handlers",
        entry_point_group="platekit.microscopes",
        metadata_attributes=("display_name", "looks_for"),
        secondary_registries=[
            SecondaryRegistry(METADATA_HANDLERS, PRIMARY_KEY, "metadata_handler")
        ],
    )

    #: The handler's name in registries, ``open_plate(..., microscope=)`` and ``--microscope``.
    _microscope_type: str | None = None
    #: The vendor and product, for people.
    display_name: str = ""
    #: What :meth:`detect` looks for, in words, e.g. ``"a *.HTD file in the plate folder"``.
    looks_for: str = ""
    #: Reads and writes the format's image file names.
    parser: FilenameParser
    #: Reads the format's metadata.
    metadata_handler: type[MetadataHandler]
    #: True when the handler's methods take a :class:`~platekit.microscopes.PlateSource`
    #: (reading any location through storage); False gives them the plate's local ``Path``.
    reads_source: bool = False

    @property
    def name(self) -> str:
        return self._microscope_type or type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def metadata(self) -> MetadataHandler:
        """A metadata handler for this format."""
        return self.metadata_handler()

    def detect(self, plate: PlateLocation) -> PlateLocation | None:
        """The file in ``plate`` that marks it as this format, or ``None``.

        By default the metadata handler's main metadata file. Never raises
        for a folder of another format.
        """
        try:
            given = plate if self.reads_source else Path(str(plate))
            found = self.metadata().find_metadata_file(given)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        return local_path(found)  # type: ignore[no-any-return]

    def near_miss(self, plate: PlateLocation) -> str | None:
        """A sentence saying what ``plate`` is when it is close to this format but no plate of it.

        Asked only of a folder no handler detects, so that an OME-Zarr
        image, say, is told to be an image rather than given the list of
        what every handler looked for. ``None`` (the default) when there is
        nothing to say. Never raises.
        """
        return None

    @abstractmethod
    def scan(self, plate: PlateLocation) -> PlateScan:
        """The plate's metadata and where each of its planes is.

        Raises :class:`~platekit.microscopes.PlateFormatError` for malformed
        metadata. Planes the metadata promises but the folder lacks go to
        ``PlateScan.missing``, never invented.
        """

    def read_plane(self, plate: PlateLocation, address: str) -> np.ndarray:
        """The 2-D plane at ``address`` (from :meth:`scan`).

        By default ``address`` is a TIFF file's path relative to ``plate``.
        Raises ``FileNotFoundError`` or :class:`~platekit.microscopes.BadPlaneError`
        naming the file.
        """
        from platekit.microscopes._source import as_source
        from platekit.microscopes._tiff import read_tiff_plane

        if self.reads_source:
            return read_tiff_plane(as_source(plate) / address)
        return read_tiff_plane(Path(str(plate)) / address)

    def plane_key(self, name: PlaneName) -> PlaneKey:
        """The plane a parsed file name stands for."""
        return name.key()


def local_path(found: Any) -> Any:
    """A plate's file as a ``Path`` when it is local (what callers of ``detect`` compare)."""
    from platekit.microscopes._source import PlateSource

    if isinstance(found, PlateSource) and found.local is not None:
        return found.local
    return found
