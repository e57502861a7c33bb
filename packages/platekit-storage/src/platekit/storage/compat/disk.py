"""polystore's ``DiskBackend`` (``DiskStorageBackend``) over platekit's disk backend."""

from __future__ import annotations

from pathlib import Path

from platekit.storage.backends.disk import DiskBackend as _PlatekitDisk
from platekit.storage.compat.base import PolystoreCalls

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class DiskStorageBackend(PolystoreCalls, _PlatekitDisk):
    """platekit's disk backend, called as polystore calls its own."""

    _backend_type = None  # platekit's "disk" is already registered

    @property
    def name(self) -> str:
        return "disk"

    def save(self, data: Any, output_path: Any, *, tiff_config: Any = None, **kwargs: Any) -> None:
        """platekit's save; ``tiff_config`` (a compat ``TiffConfig``) sets a TIFF's options."""
        if tiff_config is not None and tiff_config.applies_to_path(output_path):
            kwargs = {**tiff_config.save_options(), **kwargs}
        super().save(data, output_path, **kwargs)

    def ensure_directory(self, directory: Any) -> Any:
        """Create the folder and those above it; its path as a ``pathlib.Path``."""
        return Path(super().ensure_directory(directory))


DiskBackend = DiskStorageBackend

__all__ = ["DiskBackend", "DiskStorageBackend"]
