"""FileStat: what every backend's ``stat`` says about a path, in one small record."""

from __future__ import annotations

from dataclasses import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal


@dataclass(frozen=True)
class FileStat:
    """The kind, size and modification time of what is at a path.

    The same record from every backend: ``disk`` reads it from the file
    system, ``memory`` keeps it with each object, ``zarr`` reads it from the
    node's files.
    """

    #: ``"file"`` or ``"folder"`` after following a symbolic link; ``"link"`` for the link
    #: itself, from ``stat(path, follow_symlinks=False)``.
    kind: Literal["file", "folder", "link"]
    #: Bytes stored for a file; None for a folder, or when the backend cannot tell.
    size: int | None
    #: Last modification, in seconds since the epoch (as ``time.time()``); None when unknown.
    mtime: float | None
    #: For a link: the path it points to, as the backend stores it; None otherwise.
    target: str | None = None
    #: For a link: whether something is at its target (False for a broken link); None otherwise.
    target_exists: bool | None = None

    @property
    def is_file(self) -> bool:
        """Whether it is a file."""
        return self.kind == "file"

    @property
    def is_dir(self) -> bool:
        """Whether it is a folder."""
        return self.kind == "folder"

    @property
    def is_symlink(self) -> bool:
        """Whether it describes a symbolic link itself."""
        return self.kind == "link"
