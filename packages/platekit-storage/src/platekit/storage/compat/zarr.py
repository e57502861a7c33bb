"""polystore's ``ZarrStorageBackend`` over platekit's zarr backend (needs the ``zarr`` extra).

Paths follow platekit's Zarr path model: a path names a node inside the
store rooted at its first component ending in ``.zarr``.
"""

from __future__ import annotations

from platekit.storage._zarr_config import ZarrConfig as PlatekitZarrConfig
from platekit.storage.backends.zarr import ZarrBackend as _PlatekitZarr
from platekit.storage.compat.base import PolystoreCalls
from platekit.storage.compat.config import ZarrConfig


class ZarrStorageBackend(PolystoreCalls, _PlatekitZarr):  # type: ignore[misc]
    """platekit's zarr backend, made from polystore's ``ZarrConfig`` (or platekit's)."""

    _backend_type = None  # type: ignore[assignment]  # platekit's "zarr" is registered

    def __init__(self, zarr_config: ZarrConfig | PlatekitZarrConfig | None = None) -> None:
        settings = ZarrConfig() if zarr_config is None else zarr_config
        if isinstance(settings, ZarrConfig):
            settings = settings.platekit()
        super().__init__(zarr_config=settings)
        self.config = zarr_config if zarr_config is not None else ZarrConfig()

    @property
    def name(self) -> str:
        return "zarr"


__all__ = ["ZarrConfig", "ZarrStorageBackend"]
