"""The disk backend's file formats, under polystore's module name."""

from __future__ import annotations

from platekit.storage._formats import DISK_FORMATS, FileFormat
from platekit.storage.compat.filemanager import DEFAULT_IMAGE_EXTENSIONS

__all__ = ["DEFAULT_IMAGE_EXTENSIONS", "DISK_FORMATS", "FileFormat"]
