"""platekit-storage: one contract for storing images and data, and the backends that keep it.

``memory`` (in this process), ``disk`` (TIFF, PNG, ``.npy``, JSON, CSV, text
and bytes, written atomically) and ``zarr`` (Zarr v3 or v2, with the ``zarr`` extra)
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
    from platekit.storage._errors import BackendNotFoundError, StorageError, storage_error
    from platekit.storage._file_manager import FileManager
    from platekit.storage._formats import DISK_FORMATS, FileFormat
    from platekit.storage._json_update import atomic_update_json, file_lock
    from platekit.storage._listing import name_filter, suffixes
    from platekit.storage._natural import natural_key, natural_sorted
    from platekit.storage._registry import BackendRegistry
    from platekit.storage._stat import FileStat
    from platekit.storage._zarr_config import ZarrConfig
    from platekit.storage.backends.disk import DiskBackend
    from platekit.storage.backends.memory import MemoryBackend

__all__ = [
    "DISK_FORMATS",
    "STORAGE_BACKENDS",
    "BackendNotFoundError",
    "BackendRegistry",
    "DiskBackend",
    "FileFormat",
    "FileManager",
    "FileStat",
    "MemoryBackend",
    "ReadOnlyBackend",
    "StorageBackend",
    "StorageError",
    "ZarrConfig",
    "__version__",
    "atomic_update_json",
    "file_lock",
    "name_filter",
    "natural_key",
    "natural_sorted",
    "not_found",
    "storage_error",
    "suffixes",
]

# Public name -> private module that defines it.
_HOMES = {
    "BackendNotFoundError": "_errors",
    "DISK_FORMATS": "_formats",
    "FileFormat": "_formats",
    "STORAGE_BACKENDS": "_base",
    "BackendRegistry": "_registry",
    "DiskBackend": "backends.disk",
    "FileManager": "_file_manager",
    "FileStat": "_stat",
    "MemoryBackend": "backends.memory",
    "ReadOnlyBackend": "_base",
    "StorageBackend": "_base",
    "StorageError": "_errors",
    "ZarrConfig": "_zarr_config",
    "atomic_update_json": "_json_update",
    "file_lock": "_json_update",
    "name_filter": "_listing",
    "natural_key": "_natural",
    "natural_sorted": "_natural",
    "not_found": "_base",
    "storage_error": "_errors",
    "suffixes": "_listing",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
