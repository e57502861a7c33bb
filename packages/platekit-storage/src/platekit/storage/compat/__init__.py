"""polystore 0.6.3's public names and call forms, answered by platekit-storage.

Code written for polystore moves over by changing its imports::

    from polystore import FileManager, MemoryBackend                # before
    from platekit.storage.compat import FileManager, MemoryBackend  # after

and ``polystore.disk``, ``.memory``, ``.zarr``, ``.filemanager``,
``.backend_registry``, ``.atomic``, ``.config``, ``.constants``,
``.exceptions``, ``.formats`` and ``.base`` are
``platekit.storage.compat.disk`` and so on. The backends are platekit's,
so platekit's behaviour holds where the two differ (the storage guide's
"Moving over from polystore" lists where): folders are created above a
saved path, errors are the standard classes, a Zarr path names a node
inside a ``.zarr`` store. Names load on first use.
"""

from platekit.cache import lazy_exports

#: The polystore release whose API this module reproduces.
__version__ = "0.6.3"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.storage.compat.atomic import (
        FileLockError,
        FileLockTimeoutError,
        LockConfig,
        atomic_update_json,
        atomic_write_json,
        file_lock,
    )
    from platekit.storage.compat.backend_registry import (
        STORAGE_BACKENDS,
        cleanup_all_backends,
        cleanup_backend_connections,
        get_backend_instance,
        register_cleanup_callback,
    )
    from platekit.storage.compat.base import ReadOnlyBackend, StorageBackend
    from platekit.storage.compat.config import ZarrChunkStrategy, ZarrCompressor, ZarrConfig
    from platekit.storage.compat.constants import Backend
    from platekit.storage.compat.disk import DiskBackend, DiskStorageBackend
    from platekit.storage.compat.exceptions import StorageResolutionError
    from platekit.storage.compat.filemanager import DEFAULT_IMAGE_EXTENSIONS, FileManager
    from platekit.storage.compat.formats import FileFormat
    from platekit.storage.compat.memory import MemoryBackend, MemoryStorageBackend
    from platekit.storage.compat.zarr import ZarrStorageBackend

__all__ = [
    "DEFAULT_IMAGE_EXTENSIONS",
    "STORAGE_BACKENDS",
    "Backend",
    "DiskBackend",
    "DiskStorageBackend",
    "FileFormat",
    "FileLockError",
    "FileLockTimeoutError",
    "FileManager",
    "LockConfig",
    "MemoryBackend",
    "MemoryStorageBackend",
    "ReadOnlyBackend",
    "StorageBackend",
    "StorageResolutionError",
    "ZarrChunkStrategy",
    "ZarrCompressor",
    "ZarrConfig",
    "ZarrStorageBackend",
    "__version__",
    "atomic_update_json",
    "atomic_write_json",
    "cleanup_all_backends",
    "cleanup_backend_connections",
    "file_lock",
    "get_backend_instance",
    "register_cleanup_callback",
]

# Public name -> the module of this package that defines it.
_HOMES = {
    **dict.fromkeys(
        (
            "FileLockError",
            "FileLockTimeoutError",
            "LockConfig",
            "atomic_update_json",
            "atomic_write_json",
            "file_lock",
        ),
        "atomic",
    ),
    **dict.fromkeys(
        (
            "STORAGE_BACKENDS",
            "cleanup_all_backends",
            "cleanup_backend_connections",
            "get_backend_instance",
            "register_cleanup_callback",
        ),
        "backend_registry",
    ),
    **dict.fromkeys(("ReadOnlyBackend", "StorageBackend"), "base"),
    **dict.fromkeys(("ZarrChunkStrategy", "ZarrCompressor", "ZarrConfig"), "config"),
    "Backend": "constants",
    **dict.fromkeys(("DiskBackend", "DiskStorageBackend"), "disk"),
    "StorageResolutionError": "exceptions",
    **dict.fromkeys(("DEFAULT_IMAGE_EXTENSIONS", "FileManager"), "filemanager"),
    "FileFormat": "formats",
    **dict.fromkeys(("MemoryBackend", "MemoryStorageBackend"), "memory"),
    "ZarrStorageBackend": "zarr",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
