"""polystore's ``formats`` module: its ``FileFormat`` enum over the disk backend's formats.

Each member stands for one or more of platekit's disk file formats (the
:class:`~platekit.storage.FileFormat` plugin classes, by name) and answers
with their suffixes, so ``FileFormat.PNG.extensions`` is what platekit's
``png`` format claims. polystore's torch, JAX, CuPy, TensorFlow, Zarr and
ROI members are not here: the disk backend has no such formats.
"""

from __future__ import annotations

from enum import Enum

from platekit.storage._formats import DISK_FORMATS
from platekit.storage.compat.filemanager import DEFAULT_IMAGE_EXTENSIONS


class FileFormat(Enum):
    """The disk backend's kinds of file, as polystore names them.

    ``value`` is polystore's name; :attr:`formats` the names of platekit's
    formats behind the member; :attr:`extensions` their suffixes.
    """

    NUMPY = ("numpy", ("npy",))
    MATLAB = ("matlab", ("mat",))
    TIFF = ("tiff", ("tiff",))
    PNG = ("png", ("png",))
    RASTER_IMAGE = ("raster_image", ("bmp", "gif", "jpeg"))
    CSV = ("csv", ("csv",))
    JSON = ("json", ("json",))
    TEXT = ("text", ("text",))

    def __new__(cls, value: str, formats: tuple[str, ...]) -> FileFormat:
        member = object.__new__(cls)
        member._value_ = value
        member.formats = formats
        return member

    formats: tuple[str, ...]

    @property
    def extensions(self) -> tuple[str, ...]:
        """The suffixes platekit's formats behind this member claim, sorted (``(".png",)``)."""
        found: set[str] = set()
        for name in self.formats:
            if name in DISK_FORMATS:  # a plugin format's distribution may be missing
                found.update(DISK_FORMATS.metadata(name).get("extensions") or ())
        return tuple(sorted(suffix.lower() for suffix in found))


def get_format_from_extension(ext: str) -> FileFormat:
    """The member whose formats claim the suffix ``ext`` (with or without its dot, any case).

    Raises ``ValueError`` naming the suffix when no member claims it.
    """
    suffix = ext.lower() if ext.startswith(".") else f".{ext.lower()}"
    for member in FileFormat:
        if suffix in member.extensions:
            return member
    known = sorted(suffix for member in FileFormat for suffix in member.extensions)
    raise ValueError(f"Unknown file extension: {suffix}; the formats claim {', '.join(known)}")


__all__ = ["DEFAULT_IMAGE_EXTENSIONS", "DISK_FORMATS", "FileFormat", "get_format_from_extension"]
