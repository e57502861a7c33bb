"""PlateSource: where a plate is, the read-only storage backend that reads it, and one listing.

Handlers read a plate's files through a source, never through ``os`` or
``open``, so a plate in a local folder, in S3 or anywhere fsspec reaches is
read by the same code. A source names a file or folder of the plate and
reads like a path (``source / "Images" / "Index.xml"``, ``.read_bytes()``,
``.open()``, ``.is_file()``, ``.name``), and every source made from one
plate shares its listings: each folder is listed once, with one request,
however many handlers look at it and however many files are asked about.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from platekit.storage.backends.fsspec import FsspecBackend, local_path, names_nothing, protocol_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO, Any

Listing = tuple[list[str], list[str]]


class _Listings:
    """Folder → (file names, folder names), each listed at most once; shared by one plate's
    sources."""

    def __init__(self) -> None:
        self.found: dict[str, Listing | BaseException] = {}
        self.lowered: dict[str, dict[str, str]] = {}
        #: Folder → its file names lower-cased, each between line breaks (``""`` when a name
        #: holds one), searched for a name without making the lowered names' map.
        self.lowered_text: dict[str, str] = {}
        self.lock = threading.Lock()
        #: How many folders were listed, for tests and benchmarks.
        self.count = 0
        #: The local files opened through the plate's sources while a scan is recorded
        #: (:meth:`PlateSource.recording_reads`); ``None`` when none is.
        self.read: set[str] | None = None


class PlateSource:
    """A file or folder of a plate, read through a read-only storage backend.

    Made from a local path (``"plates/p1"``) or a URL (``"s3://bucket/p1"``,
    with fsspec's ``storage_options``); ``source / name`` names a file or
    folder inside it, sharing its backend and its listings. Pickles without
    its listings, as its location and backend. Raises ``ValueError`` for an
    empty path and a URL that names no bucket or folder (``s3://``).
    """

    def __init__(
        self,
        location: str | os.PathLike[str],
        storage_options: dict[str, Any] | None = None,
        *,
        backend: FsspecBackend | None = None,
        _listings: _Listings | None = None,
    ) -> None:
        # A path given as bytes, as os functions take it, is read as they read it.
        text = os.fsdecode(location)
        if not text:
            # Often a shell variable that was never set: not the working directory.
            raise ValueError(
                f"the plate's path is empty ({text!r}); give its folder, or '.' for the "
                "working directory"
            )
        remote = protocol_of(text) not in ("file", "local")
        if names_nothing(text):
            raise ValueError(
                f"{text!r} names no bucket or folder; give the plate's whole URL, e.g. "
                f"{protocol_of(text)}://BUCKET/PLATE"
            )
        if not remote:
            text = local_path(text)
        if remote:
            # The protocol in lower case, as its filesystem is chosen: s3fs would read "S3:"
            # as the bucket's name.
            text = f"{protocol_of(text)}://{text.partition('://')[2]}"
        #: The location as given: a local path, normalised as ``Path`` does, or a URL (its
        #: protocol in lower case).
        self.location = text.rstrip("/") if remote else str(Path(text))
        self.backend = backend or FsspecBackend(protocol_of(text), storage_options)
        self._listings = _listings or _Listings()

    @property
    def is_local(self) -> bool:
        """Whether the plate is in a local folder."""
        return self.backend.protocol in ("file", "local")

    @property
    def local(self) -> Path | None:
        """The local path, or ``None`` for a plate elsewhere."""
        return Path(self.location) if self.is_local else None

    def __getstate__(self) -> dict[str, Any]:
        return {"location": self.location, "backend": self.backend, "_listings": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._listings = _Listings()

    # -- naming ---------------------------------------------------------------------

    def __truediv__(self, name: str) -> PlateSource:
        return self.joinpath(name)

    def joinpath(self, *names: str) -> PlateSource:
        """The file or folder ``names`` below this one (``"a/b"`` or ``"a", "b"``)."""
        parts = [p for name in names for p in str(name).replace("\\", "/").split("/") if p]
        location = "/".join([self.location.rstrip("/"), *parts]) if parts else self.location
        return PlateSource(location, backend=self.backend, _listings=self._listings)

    @property
    def name(self) -> str:
        return PurePosixPath(self.location.replace("\\", "/")).name

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    @property
    def parent(self) -> PlateSource:
        head = self.location.rstrip("/").rsplit("/", 1)[0] if "/" in self.location else "."
        if self.is_local:
            head = str(Path(self.location).parent)
        return PlateSource(head, backend=self.backend, _listings=self._listings)

    def relative_to(self, other: PlateSource | str | os.PathLike[str]) -> PurePosixPath:
        """This location below ``other``'s; ``ValueError`` when it is not below it."""
        base = other.location if isinstance(other, PlateSource) else os.fspath(other)
        base = base.replace("\\", "/").rstrip("/")
        mine = self.location.replace("\\", "/")
        if mine == base:
            return PurePosixPath(".")
        if not mine.startswith(base + "/"):
            raise ValueError(f"{mine!r} is not inside {base!r}")
        return PurePosixPath(mine[len(base) + 1 :])

    def resolve(self) -> PlateSource:
        """The absolute location of a local plate (links and ``..`` resolved); a URL as it is."""
        if not self.is_local:
            return self
        return PlateSource(
            Path(self.location).resolve(), backend=self.backend, _listings=self._listings
        )

    def __str__(self) -> str:
        return self.location

    def __repr__(self) -> str:
        return f"PlateSource({self.location!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlateSource) and other.location == self.location

    def __hash__(self) -> int:
        return hash(self.location)

    # -- listing --------------------------------------------------------------------

    def entries(self) -> Listing:
        """The names of the files and of the folders in this folder, listed once per plate.

        Raises ``FileNotFoundError`` when it is no folder, ``PermissionError``
        when it cannot be listed.
        """
        listings = self._listings
        key = self.location
        with listings.lock:
            found = listings.found.get(key)
            if found is None:
                try:
                    found = self.backend.entries(key)
                except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
                    found = exc
                listings.found[key] = found
                listings.count += 1
        if isinstance(found, BaseException):
            raise found
        return found

    @property
    def listed(self) -> int:
        """How many folders this plate's sources have listed so far."""
        return self._listings.count

    def _in_parent(self) -> tuple[bool, bool]:
        """(is a file, is a folder), from the parent folder's listing."""
        try:
            files, folders = self.parent.entries()
        except OSError:
            return False, False
        return self.name in files, self.name in folders

    def is_file(self) -> bool:
        """Whether a file is here, from the parent folder's shared listing."""
        return self._in_parent()[0]

    def is_dir(self) -> bool:
        """Whether a folder is here, from the parent folder's shared listing."""
        if self.is_local:
            return self._in_parent()[1] or os.path.isdir(self.location)
        return self._in_parent()[1] or self.backend.is_dir(self.location)

    def exists(self) -> bool:
        return self.is_file() or self.is_dir()

    def files_by_lower_name(self) -> dict[str, str]:
        """Lower-cased name → name of each file in this folder (the first by name on a tie),
        made once per plate. Raises as :meth:`entries`."""
        files = self.entries()[0]
        found = self._listings.lowered.get(self.location)
        if found is None:
            # From the names lowered all at once; names equal without case are rare, and then
            # go by name.
            text = self._lowered_text()
            found = dict(zip(text[1:-1].split("\n"), files, strict=True)) if text else {}
            if len(found) != len(files):
                found = {}
                for file in sorted(files, reverse=True):
                    found[file.lower()] = file
            self._listings.lowered[self.location] = found
        return found

    def has_file_without_case(self, name: str) -> bool:
        """Whether a file in this folder is called ``name`` without regard to case: one search
        of the folder's lower-cased names, made once per plate. Raises as :meth:`entries`."""
        text = self._lowered_text()
        if not text:
            return name.lower() in self.files_by_lower_name()
        return f"\n{name.lower()}\n" in text

    def files_ending(self, suffix: str) -> list[str]:
        """The names of the files in this folder whose lower-cased name ends in ``suffix``
        (lower case), in listing order. Raises as :meth:`entries`."""
        files = self.entries()[0]
        text = self._lowered_text()
        if not text:
            return [name for name in files if name.lower().endswith(suffix)]
        found = []
        end = suffix + "\n"
        at = text.find(end)
        while at >= 0:
            # The line breaks before a name are its place in the listing, and the leading one.
            found.append(files[text.count("\n", 0, at) - 1])
            at = text.find(end, at + len(end))
        return found

    def _lowered_text(self) -> str:
        """This folder's file names lower-cased, each between line breaks, made once per
        plate; ``""`` when a name holds a line break. Raises as :meth:`entries`."""
        files = self.entries()[0]
        text = self._listings.lowered_text.get(self.location)
        if text is None:
            text = "\n" + "\n".join(files).lower() + "\n"
            if text.count("\n") != len(files) + 1:
                text = ""
            self._listings.lowered_text[self.location] = text
        return text

    def find(self, name: str) -> PlateSource | None:
        """The file called ``name`` in this folder, matched without case when not exact."""
        try:
            # One search of the lowered names rules most names out, where a search of the
            # listing for the exact name compares it with every name.
            if not self.has_file_without_case(name):
                return None
            if name in self.entries()[0]:
                return self / name
            found = self.files_by_lower_name().get(name.lower())
        except OSError:
            return None
        return self / found if found else None

    # -- reading --------------------------------------------------------------------

    def open(self, mode: str = "rb") -> IO[bytes]:
        """The file, open for reading bytes; ``FileNotFoundError`` naming it when absent."""
        if mode != "rb":
            raise ValueError(f"a plate is read only: open it with mode 'rb', not {mode!r}")
        file = self.backend.open(self.location)
        if self.is_local:
            with self._listings.lock:
                if self._listings.read is not None:
                    self._listings.read.add(self.location)
        return file

    @contextmanager
    def recording_reads(self) -> Iterator[set[str]]:
        """Within the block, the local files opened through this plate's sources are added
        to the set given; not before or after it, so a plate read for hours keeps no list."""
        read: set[str] = set()
        with self._listings.lock:
            self._listings.read = read
        try:
            yield read
        finally:
            with self._listings.lock:
                self._listings.read = None

    def read_bytes(self) -> bytes:
        with self.open() as file:
            return file.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)


def as_source(plate: PlateSource | str | os.PathLike[str]) -> PlateSource:
    """``plate`` as a source: itself when it is one, else a source of that path or URL."""
    return plate if isinstance(plate, PlateSource) else PlateSource(plate)
