"""polystore's ``ZarrStorageBackend`` over platekit's zarr backend (needs the ``zarr`` extra).

Paths follow platekit's Zarr path model: a path names a node inside the
store rooted at its first component ending in ``.zarr``.
"""

from __future__ import annotations

from platekit.storage._zarr_config import ZarrConfig as PlatekitZarrConfig
from platekit.storage.backends.zarr import ZarrBackend as _PlatekitZarr
from platekit.storage.compat.base import PolystoreCalls
from platekit.storage.compat.config import ZarrCompressorFactory, ZarrConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ZarrStorageBackend(PolystoreCalls, _PlatekitZarr):  # type: ignore[misc]
    """platekit's zarr backend, made from polystore's ``ZarrConfig`` (or platekit's).

    ``config`` is the settings given; ``compressor``, for polystore's
    ``ZarrConfig``, the numcodecs codec they name (None for no compression).
    """

    _backend_type = None  # type: ignore[assignment]  # platekit's "zarr" is registered

    def __init__(self, zarr_config: ZarrConfig | PlatekitZarrConfig | None = None) -> None:
        settings = ZarrConfig() if zarr_config is None else zarr_config
        if isinstance(settings, ZarrConfig):
            settings = settings.platekit()
        super().__init__(zarr_config=settings)
        self.config = zarr_config if zarr_config is not None else ZarrConfig()
        self.compressor: Any = None
        if isinstance(self.config, ZarrConfig):
            factory = ZarrCompressorFactory.__registry__[self.config.compressor]
            self.compressor = factory().create(self.config.compression_level)

    @property
    def name(self) -> str:
        return "zarr"


# polystore's class attribute, set once the class exists: platekit's registry keeps its own
# zarr backend under the name.
ZarrStorageBackend._backend_type = "zarr"  # type: ignore[assignment]

__all__ = ["ZarrConfig", "ZarrStorageBackend"]
