"""platekit-storage: one contract for storing images and data, and the backends that keep it.

``memory`` (in this process), ``disk`` (TIFF, ``.npy``, JSON, text and
bytes, written atomically) and ``zarr`` (Zarr v3, with the ``zarr`` extra)
are discovered through the storage backend registry; third-party backends
join through the ``platekit.storage_backends`` entry-point group.
"""

from __future__ import annotations

from platekit.cache import lazy_exports

#: The version of platekit-storage: written only here, where hatchling reads it.
__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.storage._base import (
        STORAGE_BACKENDS,
        ReadOnlyBackend,
        StorageBackend,
        not_found,
    )
    from platekit.storage._file_manager import FileManager
    from platekit.storage._formats import DISK_FORMATS, FileFormat
    from platekit.storage._listing import name_filter, suffixes
    from platekit.storage._natural import natural_key, natural_sorted
    from platekit.storage._registry import BackendRegistry
    from platekit.storage.backends.disk import DiskBackend
    from platekit.storage.backends.memory import MemoryBackend

__all__ = [
    "DISK_FORMATS",
    "STORAGE_BACKENDS",
    "BackendRegistry",
    "DiskBackend",
    "FileFormat",
    "FileManager",
    "MemoryBackend",
    "ReadOnlyBackend",
    "StorageBackend",
    "__version__",
    "name_filter",
    "natural_key",
    "natural_sorted",
    "not_found",
    "suffixes",
]

# Public name -> private module that defines it.
_HOMES = {
    "DISK_FORMATS": "_formats",
    "FileFormat": "_formats",
    "STORAGE_BACKENDS": "_base",
    "BackendRegistry": "_registry",
    "DiskBackend": "backends.disk",
    "FileManager": "_file_manager",
    "MemoryBackend": "backends.memory",
    "ReadOnlyBackend": "_base",
    "StorageBackend": "_base",
    "name_filter": "_listing",
    "natural_key": "_natural",
    "natural_sorted": "_natural",
    "not_found": "_base",
    "suffixes": "_listing",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
