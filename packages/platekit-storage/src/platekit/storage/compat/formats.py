"""polystore's ``formats`` module: its ``FileFormat`` enum over the disk backend's formats.

Each member stands for one or more of platekit's disk file formats (the
:class:`~platekit.storage.FileFormat` plugin classes, by name) and answers
with their suffixes, so ``FileFormat.PNG.extensions`` is what platekit's
``png`` format claims. polystore's torch, JAX, CuPy, TensorFlow, Zarr and
ROI members are not here: the disk backend has no such formats.
"""

from __future__ import annotations

from enum import Enum

from platekit.storage._formats import DISK_FORMATS, _suffix, _suffix_table
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
        return tuple(
            sorted(
                suffix
                for suffix, owners in _suffix_table().items()
                if not set(self.formats).isdisjoint(owners)
            )
        )


def get_format_from_extension(ext: str) -> FileFormat:
    """The member whose formats claim the suffix ``ext`` (with or without its dot, any case).

    Raises ``ValueError`` naming the suffix when no member claims it.
    """
    suffix = _suffix(ext)
    owners = _suffix_table().get(suffix, ())
    for member in FileFormat:
        if not set(member.formats).isdisjoint(owners):
            return member
    known = sorted(suffix for member in FileFormat for suffix in member.extensions)
    raise ValueError(f"Unknown file extension: {suffix}; the formats claim {', '.join(known)}")


__all__ = ["DEFAULT_IMAGE_EXTENSIONS", "DISK_FORMATS", "FileFormat", "get_format_from_extension"]
