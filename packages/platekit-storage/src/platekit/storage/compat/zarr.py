"""polystore's ``ZarrStorageBackend`` over platekit's zarr backend (needs the ``zarr`` extra).

Paths follow platekit's Zarr path model: a path names a node inside the
store rooted at its first component ending in ``.zarr``.
"""

from __future__ import annotations

from platekit.storage.backends.zarr import ZarrBackend as _PlatekitZarr
from platekit.storage.compat.base import PolystoreCalls
from platekit.storage.compat.config import ZarrConfig


class ZarrStorageBackend(PolystoreCalls, _PlatekitZarr):
    """platekit's zarr backend, made from polystore's ``ZarrConfig`` (or platekit's)."""

    _backend_type = None  # platekit's "zarr" is already registered

    def __init__(self, zarr_config: object = None) -> None:
        if isinstance(zarr_config, ZarrConfig):
            zarr_config = zarr_config.platekit()
        super().__init__(
            zarr_config=zarr_config if zarr_config is not None else ZarrConfig().platekit()
        )  # type: ignore[arg-type]
        self.config = zarr_config

    @property
    def name(self) -> str:
        return "zarr"


__all__ = ["ZarrConfig", "ZarrStorageBackend"]
