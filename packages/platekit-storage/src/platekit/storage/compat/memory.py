"""polystore's ``MemoryBackend`` (``MemoryStorageBackend``) over platekit's memory backend."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from platekit.storage.backends.memory import MemoryBackend as _PlatekitMemory
from platekit.storage.compat.base import PolystoreCalls

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class MemoryStorageBackend(PolystoreCalls, _PlatekitMemory):  # type: ignore[misc]
    """platekit's memory backend, called as polystore calls its own.

    ``MemoryStorageBackend(shared_dict)`` keeps the files in ``shared_dict``
    (platekit's ``MemoryBackend(store)``), seen as ``_memory_store``.
    """

    _backend_type = None  # type: ignore[assignment]  # platekit's "memory" is registered

    def __init__(self, shared_dict: dict[str, Any] | None = None) -> None:
        super().__init__(shared_dict)

    @property
    def name(self) -> str:
        return "memory"

    @property
    def _memory_store(self) -> Any:
        return self._files

    def list_files(
        self,
        directory: Any,
        pattern: str | None = None,
        extensions: Any = None,
        recursive: bool = False,
    ) -> list[Any]:
        """The files' paths as ``pathlib.Path`` objects, as polystore's memory backend has it."""
        return [Path(p) for p in super().list_files(directory, pattern, extensions, recursive)]

    def ensure_directory(self, directory: Any) -> Any:
        """Create the folder; its path as a ``pathlib.PurePosixPath``, as polystore gives it."""
        return PurePosixPath(super().ensure_directory(directory))

    def physical_source_path(self, backend_address: Any, *, base_path: Any) -> Any:
        """A memory address stands for itself: ``backend_address`` as given."""
        del base_path
        return backend_address

    def clear_files_only(self) -> None:
        """Remove every file and link, keeping the folders."""
        with self._lock:
            self._files.clear()
            self._links.clear()
            self._times.clear()


# polystore's class attribute, set once the class exists: platekit's registry keeps its own
# memory backend under the name.
MemoryStorageBackend._backend_type = "memory"  # type: ignore[assignment]
MemoryBackend = MemoryStorageBackend

__all__ = ["MemoryBackend", "MemoryStorageBackend"]
