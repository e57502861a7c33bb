"""platekit-storage: one contract for storing images and data, and the backends that keep it.

``memory`` (in this process), ``disk`` (TIFF, ``.npy``, JSON, text and
bytes, written atomically) and ``zarr`` (Zarr v3, with the ``zarr`` extra)
are discovered through the storage backend registry; third-party backends
join through the ``platekit.storage_backends`` entry-point group.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.storage._base import STORAGE_BACKENDS, ReadOnlyBackend, StorageBackend
    from platekit.storage._file_manager import FileManager
    from platekit.storage._formats import DISK_FORMATS, FileFormat
    from platekit.storage._natural import natural_key, natural_sorted
    from platekit.storage._registry import BackendRegistry
    from platekit.storage._version import __version__
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
    "natural_key",
    "natural_sorted",
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
    "__version__": "_version",
    "natural_key": "_natural",
    "natural_sorted": "_natural",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'platekit.storage' has no attribute {name!r}")
    import sys

    module = f"platekit.storage.{home}"
    __import__(module)
    value = getattr(sys.modules[module], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
