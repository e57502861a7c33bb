"""polystore's ``DiskBackend`` (``DiskStorageBackend``) over platekit's disk backend."""

from __future__ import annotations

from pathlib import Path

from platekit.storage.backends.disk import DiskBackend as _PlatekitDisk
from platekit.storage.compat.base import PolystoreCalls

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class DiskStorageBackend(PolystoreCalls, _PlatekitDisk):  # type: ignore[misc]
    """platekit's disk backend, called as polystore calls its own."""

    _backend_type = None  # type: ignore[assignment]  # platekit's "disk" is registered

    @property
    def name(self) -> str:
        return "disk"

    def save(
        self,
        data: Any,
        path: Any,
        *,
        overwrite: bool = False,
        format: str | None = None,
        tiff_config: Any = None,
        **kwargs: Any,
    ) -> None:
        """platekit's save; ``tiff_config`` (a compat ``TiffConfig``) sets a TIFF's options."""
        if tiff_config is not None and tiff_config.applies_to_path(path):
            kwargs = {**tiff_config.save_options(), **kwargs}
        super().save(data, path, overwrite=overwrite, format=format, **kwargs)

    def ensure_directory(self, directory: Any) -> Any:
        """Create the folder and those above it; its path as a ``pathlib.Path``."""
        return Path(super().ensure_directory(directory))


DiskBackend = DiskStorageBackend

__all__ = ["DiskBackend", "DiskStorageBackend"]
