"""Opening a plate: which handler fits the folder, and the Plate that reads it."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from platekit.microscopes import _settled_listings as settled_listings
from platekit.microscopes._errors import AmbiguousPlateError, PlateError, UnknownPlateError
from platekit.microscopes._handler import MICROSCOPE_HANDLERS, MicroscopeHandler
from platekit.microscopes._source import PlateSource
from platekit.microscopes._wells import normal_well

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np

    from platekit.microscopes._model import PlaneKey, PlateMetadata, PlateScan


def _plate_folder(source: PlateSource) -> PlateSource:
    """The plate's source, checked to be a folder (one listing, shared by all that follows)."""
    try:
        source.entries()
    except (FileNotFoundError, NotADirectoryError):
        if source.is_local and Path(source.location).is_file():
            raise NotADirectoryError(
                f"{source.location!r} is a file; give the plate's folder (the one holding its "
                "images and metadata)"
            ) from None
        what = "folder" if source.is_local else "location (or its bucket)"
        raise FileNotFoundError(
            f"no plate at {source.location!r}: the {what} does not exist"
        ) from None
    return source


def _given(handler: MicroscopeHandler, source: PlateSource) -> PlateSource | Path:
    """What ``handler``'s methods take: the source, or the local folder for a Path-based handler."""
    if handler.reads_source:
        return source
    if source.local is None:
        raise PlateError(
            f"the {handler.name!r} microscope handler reads only local folders, not "
            f"{source.location!r}; copy the plate to a local folder first"
        )
    return source.local


def handler_for(name: str) -> MicroscopeHandler:
    """A handler of the registered type ``name``.

    Raises ``KeyError`` listing the registered types for an unknown name.
    """
    return MICROSCOPE_HANDLERS[name]()  # type: ignore[no-any-return]


def detect_microscope(
    path: str | os.PathLike[str] | PlateSource, storage_options: dict[str, Any] | None = None
) -> MicroscopeHandler:
    """The one registered handler whose own files are in the plate folder ``path``.

    ``path`` is a local folder, a URL fsspec reaches (``s3://bucket/plate``,
    read with ``storage_options``) or a :class:`PlateSource`; the folder is
    listed once, and every handler looks at that one listing. A local folder
    given as a path is not listed again by the next opening while it is
    unchanged (see ``docs/microscopes.rst``).
    Raises :class:`UnknownPlateError` when none fits: naming the plates in
    the folders up to two levels below, or, for a conversion that did not
    finish, the command that finishes it, or else saying, per handler, what
    it looked for; :class:`AmbiguousPlateError` naming the handlers
    and their evidence, and how to choose, when several do;
    ``FileNotFoundError``/``NotADirectoryError`` when ``path`` is no folder;
    ``PermissionError`` naming the file or folder of the plate that may not be read.
    """
    started = time.time_ns()
    with _said_unreadable():
        source = _plate_folder(_source(path, storage_options))
        handler = _detect(source)
    if not isinstance(path, PlateSource):
        settled_listings.remember(source, started)
    return handler


@contextmanager
def _said_unreadable() -> Iterator[None]:
    """A plate's file or folder that may not be read is said in one sentence with what to do."""
    try:
        yield
    except PermissionError as exc:
        # Only the system's own refusals, which name the file: others are sentences already.
        if exc.filename is None or exc.strerror is None:
            raise
        raise PermissionError(
            f"cannot read {os.fsdecode(exc.filename)!r} ({exc.strerror}); check its permissions "
            "and its folders', or run as a user who may read the plate"
        ) from None


def _detect(source: PlateSource) -> MicroscopeHandler:
    """The one handler whose files are in the folder ``source``; raises as detect_microscope."""
    fits: list[tuple[MicroscopeHandler, Path | PlateSource]] = []
    usable: list[MicroscopeHandler] = []
    looked: list[str] = []
    for key in sorted(MICROSCOPE_HANDLERS):
        try:
            handler = handler_for(key)
        except ImportError as exc:
            looked.append(f"  {key}: cannot be used ({exc})")
            continue
        if not handler.reads_source and source.local is None:
            looked.append(f"  {key}: reads only local folders")
            continue
        usable.append(handler)
        evidence = handler.detect(_given(handler, source))
        if evidence is not None:
            fits.append((handler, evidence))
        else:
            looked.append(f"  {key}: looked for {handler.looks_for or 'its files'}; none found")
    if len(fits) == 1:
        return fits[0][0]
    if not fits:
        from platekit.microscopes._folder_hints import unknown_folder_hint

        folder = source.local
        hint = (
            None
            if folder is None
            else unknown_folder_hint(folder, lambda sub: _recognised(sub, usable))
        )
        hint = hint or _near_miss(source, usable)
        if hint:
            raise UnknownPlateError(hint)
        if folder is None:
            # Not a local folder, so no hints from its neighbours: one line, what each sought.
            sought = "; ".join(
                line.strip().removesuffix("; none found").replace(": looked", " looked", 1)
                for line in looked
            )
            raise UnknownPlateError(
                f"{source.location!r} is not a plate platekit can read: no handler found its "
                f"files ({sought}); check that the URL names a plate folder, or name its "
                "format with --microscope"
            )
        listing = "\n".join(looked)
        raise UnknownPlateError(
            f"{source.location!r} is not a plate platekit can read; each microscope handler "
            f"looked for its own files:\n{listing}"
        )
    found = ", ".join(f"{handler.name} ({_shown(evidence, source)})" for handler, evidence in fits)
    raise AmbiguousPlateError(
        f"{source.location!r} looks like more than one kind of plate: {found}. Choose one with "
        f"open_plate(path, microscope={fits[0][0].name!r}) or --microscope {fits[0][0].name}"
    )


def _source(
    path: str | os.PathLike[str] | PlateSource, storage_options: dict[str, Any] | None
) -> PlateSource:
    """``path`` as a source; a source made here starts with the listings kept from the last
    opening of its folders, where they are unchanged (see ``_settled_listings``)."""
    if isinstance(path, PlateSource):
        return path
    source = PlateSource(path, storage_options)
    settled_listings.reuse(source)
    return source


def _near_miss(source: PlateSource, handlers: list[MicroscopeHandler]) -> str | None:
    """The first handler's sentence on what ``source``, which none detects, is instead."""
    for handler in handlers:
        said = handler.near_miss(_given(handler, source))
        if said:
            return said
    return None


def _recognised(folder: Path, handlers: list[MicroscopeHandler]) -> bool:
    try:
        sub = PlateSource(folder)
        return any(handler.detect(_given(handler, sub)) is not None for handler in handlers)
    except OSError:
        return False


def _shown(evidence: Path | PlateSource, folder: PlateSource) -> str:
    try:
        return str(evidence.relative_to(folder.location))
    except ValueError:
        return str(evidence)


def open_plate(
    path: str | os.PathLike[str] | PlateSource,
    microscope: str = "auto",
    *,
    projections: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> Plate:
    """The plate in the folder ``path``, read by the handler ``microscope``.

    ``path`` is a local folder or a URL fsspec reaches (``s3://bucket/plate``),
    read in place (nothing is copied) with fsspec's ``storage_options``
    (``{"anon": True}``, ``{"endpoint_url": ...}``; credentials otherwise come
    from where the filesystem looks: for S3 the ``AWS_*`` environment and
    ``~/.aws``). ``"auto"`` picks the handler with :func:`detect_microscope`,
    from the same listing the handler's scan then uses. With
    ``projections``, the plate is made of the projections the instrument
    wrote of its Z series (MetaXpress's ``ZStep_0``), one plane per site and
    channel at z 1, instead of the Z stack. Raises as :func:`detect_microscope`
    does, ``KeyError`` for an unknown ``microscope``,
    :class:`~platekit.microscopes.PlateFormatError` for malformed metadata,
    :class:`~platekit.microscopes.PlateError` for ``projections`` on a
    plate without them or of a format whose projections platekit does not read,
    and ``ImportError`` saying what to install for a URL whose filesystem is missing.
    """
    started = time.time_ns()
    with _said_unreadable():
        return _open(path, microscope, projections, storage_options, started)


def _open(
    path: str | os.PathLike[str] | PlateSource,
    microscope: str,
    projections: bool,
    storage_options: dict[str, Any] | None,
    started: int,
) -> Plate:
    source = _plate_folder(_source(path, storage_options))
    handler = _detect(source) if microscope == "auto" else handler_for(microscope)
    given = _given(handler, source)
    # Only a source made here, and read only through it, tells which files its scan read.
    keeps = not isinstance(path, PlateSource)
    key = (handler.name, projections) if keeps and handler.reads_source else None
    scan = settled_listings.kept_scan(source, key) if key is not None else None
    # A scan made here to keep: its key, the scan, and the files it read.
    made: tuple[tuple[str, bool], PlateScan, set[str]] | None = None
    if scan is None and key is not None:
        with source.recording_reads() as read:
            scan = _scan(handler, given, source, projections)
        made = (key, scan, read)
    elif scan is None:
        scan = _scan(handler, given, source, projections)
    if keeps:
        settled_listings.remember(source, started, made)
    return Plate(given, handler, scan, source=source)


def _scan(
    handler: MicroscopeHandler, given: Path | PlateSource, source: PlateSource, projections: bool
) -> PlateScan:
    if not projections:
        return handler.scan(given)
    # Only formats that store projections beside the stack offer this; not a handler duty.
    scan_projections = getattr(handler, "scan_projections", None)
    if scan_projections is None:
        raise PlateError(
            f"{source.location!r} is a {handler.display_name or handler.name} plate, whose "
            "projections platekit does not read; open it without projections=True / "
            "--projections"
        )
    return scan_projections(given)  # type: ignore[no-any-return]


class Plate:
    """One plate, read by one handler: its metadata, its planes, and their pixels."""

    def __init__(
        self,
        path: Path | PlateSource,
        handler: MicroscopeHandler,
        scan: PlateScan,
        *,
        source: PlateSource | None = None,
    ) -> None:
        #: The local folder (a ``Path``) or, for a plate elsewhere, its :class:`PlateSource`.
        self.path = source.local or source if source is not None else path
        #: Where the plate is and the backend that reads it.
        self.source = source or (path if isinstance(path, PlateSource) else PlateSource(path))
        self.handler = handler
        self._scan = scan

    @property
    def _given(self) -> Path | PlateSource:
        return self.source if self.handler.reads_source else Path(str(self.path))

    @property
    def microscope(self) -> str:
        """The handler's type, e.g. ``"imagexpress"``."""
        return self.handler.name

    @property
    def metadata(self) -> PlateMetadata:
        return self._scan.metadata

    def planes(self) -> Iterator[tuple[PlaneKey, str]]:
        """Every plane present, as ``(PlaneKey, address)``, in key order."""
        planes = self._scan.planes
        for key in sorted(planes):
            yield key, planes[key]

    def missing(self) -> list[PlaneKey]:
        """The planes the metadata promises that the folder lacks, in key order."""
        return sorted(self._scan.missing)

    def address(self, key: PlaneKey) -> str:
        """Where the plane ``key`` is; ``KeyError`` saying whether it is missing or unknown."""
        try:
            return self._scan.planes[key]
        except KeyError:
            if key in set(self._scan.missing):
                raise KeyError(
                    f"plane {key} is listed by the plate's metadata but its image is missing "
                    f"from {str(self.path)!r}"
                ) from None
            raise KeyError(f"plate {self.metadata.name!r} has no plane {key}") from None

    def read(
        self, well: str, site: int = 1, channel: int = 1, z: int = 1, t: int = 1
    ) -> np.ndarray:
        """The pixels of one plane (components 1-based, well as ``"A01"``).

        Raises ``KeyError`` for a plane the plate does not have, and
        ``FileNotFoundError`` or :class:`~platekit.microscopes.BadPlaneError`
        naming the file for one that cannot be read.
        """
        from platekit.microscopes._model import PlaneKey

        key = PlaneKey(normal_well(well), site, channel, z, t)
        return self.handler.read_plane(self._given, self.address(key))

    def read_plane(self, key: PlaneKey) -> np.ndarray:
        """The pixels of the plane ``key``."""
        return self.handler.read_plane(self._given, self.address(key))

    def overview(self, **options: Any) -> np.ndarray:
        """A picture of the whole plate, RGB uint8: a thumbnail per well, rows and columns labelled.

        Options: ``field`` (default the first), ``channels`` (default all, a
        composite in the channels' colours; one channel is grey), ``z`` and
        ``timepoint`` (1), ``percentiles`` (each channel's contrast over the
        plate, ``(1.0, 99.5)``) or ``windows`` (channel -> (low, high)
        intensities), ``cell`` (a well's side in pixels) and ``threads``. Wells
        without images are grey; wells with planes missing have an orange
        frame. Needs Pillow (``platekit-microscopes[overview]``): ``ImportError``
        without it; ``ValueError`` for an option the plate cannot satisfy.
        """
        from platekit.microscopes._overview import overview

        return overview(self, **options).picture

    def to_dask(
        self, well: Any = None, site: Any = None, channel: Any = None, z: Any = None,
        t: Any = None, *, fill_value: Any = 0, mask: bool = False,
    ) -> Any:  # fmt: skip
        """The chosen planes as a lazy dask array, dimensions ``well, field, t, c, z, y, x``.

        Chosen as :meth:`read` names them (``channel`` by name or number);
        ``None`` keeps all, one value drops its dimension, a list keeps it.
        Absent planes read as ``fill_value``; ``mask=True`` gives instead the
        boolean array that is true where they are. Nothing is read until
        computed. Raises ``KeyError`` for a value the plate lacks, ``ValueError``
        for a ``fill_value`` its pixel type cannot hold, and ``ImportError``
        saying what to install without the ``arrays`` extra.
        """
        from platekit.microscopes._arrays import plate_dask

        return plate_dask(self, well, site, channel, z, t, fill_value=fill_value, mask=mask)

    def to_xarray(
        self, well: Any = None, site: Any = None, channel: Any = None, z: Any = None,
        t: Any = None, *, fill_value: Any = 0, mask: bool = False,
    ) -> Any:  # fmt: skip
        """:meth:`to_dask` as an xarray DataArray, with channel names and µm coordinates."""
        from platekit.microscopes._arrays import plate_xarray

        return plate_xarray(self, well, site, channel, z, t, fill_value=fill_value, mask=mask)

    def __repr__(self) -> str:
        meta = self.metadata
        return (
            f"<Plate {meta.name!r} ({self.microscope}): {len(meta.wells)} wells, "
            f"{meta.site_count} sites, {len(meta.channels)} channels, z {meta.z_count}, "
            f"t {meta.t_count}>"
        )
