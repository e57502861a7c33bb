"""polystore's ``backend_registry``: one shared instance per backend, and cleanup hooks,
over platekit's :class:`~platekit.storage.BackendRegistry`."""

from __future__ import annotations

from collections.abc import Mapping

from platekit.storage._errors import BackendNotFoundError
from platekit.storage._registry import BackendRegistry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

#: The compat classes that stand for platekit's built-in backends, by name.
_COMPAT_CLASSES = {
    "memory": "platekit.storage.compat.memory:MemoryStorageBackend",
    "disk": "platekit.storage.compat.disk:DiskStorageBackend",
    "zarr": "platekit.storage.compat.zarr:ZarrStorageBackend",
}


def _compat_class(name: str) -> type[Any]:
    import importlib

    module, _, attribute = _COMPAT_CLASSES[name].partition(":")
    cls: type[Any] = getattr(importlib.import_module(module), attribute)
    return cls


class _Classes(Mapping[str, "type[Any]"]):
    """Backend name -> class: the compat class for a built-in backend, platekit's otherwise."""

    def __init__(self) -> None:
        self._platekit = BackendRegistry().classes

    def __getitem__(self, name: str) -> type[Any]:
        if name in _COMPAT_CLASSES and name in self._platekit:
            return _compat_class(name)
        return self._platekit[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._platekit)

    def __len__(self) -> int:
        return len(self._platekit)


#: Every storage backend class, by name.
STORAGE_BACKENDS: Mapping[str, type[Any]] = _Classes()

_backend_instances: dict[str, Any] = {}
_cleanup_callbacks: list[Callable[[], None]] = []


def get_backend_instance(backend_type: Any) -> Any:
    """The one shared instance of the backend ``backend_type`` (a name or an enum member).

    Raises ``KeyError`` naming the available backends for an unknown name.
    """
    name = str(getattr(backend_type, "value", backend_type)).lower()
    if name not in _backend_instances:
        if name not in STORAGE_BACKENDS:
            raise BackendNotFoundError(
                f"Backend type {name!r} not registered. Available backends: "
                f"{list(STORAGE_BACKENDS)}"
            )
        _backend_instances[name] = STORAGE_BACKENDS[name]()
    return _backend_instances[name]


def register_cleanup_callback(callback: Callable[[], None]) -> None:
    """Call ``callback()`` when process resources are cleaned up; once however often given."""
    if callback not in _cleanup_callbacks:
        _cleanup_callbacks.append(callback)


def cleanup_backend_connections(*, include_process_resources: bool = False) -> None:
    """Close every backend instance made here; with ``include_process_resources``, also
    run the registered callbacks. The instances are kept."""
    steps = [backend.close for backend in _backend_instances.values()]
    if include_process_resources:
        steps += _cleanup_callbacks
    failures: list[Exception] = []
    for step in list(steps):
        try:
            step()
        except Exception as exc:  # every step runs; the failures are raised after
            failures.append(exc)
    if failures:
        raise _group("Process-resource cleanup failed", failures)


def _group(message: str, failures: list[Exception]) -> Exception:
    """An ``ExceptionGroup`` of ``failures`` (Python 3.11+); the first failure before that."""
    group = getattr(__import__("builtins"), "ExceptionGroup", None)
    return failures[0] if group is None else group(message, failures)


def cleanup_all_backends() -> None:
    """Close every backend and run the callbacks; the next call makes fresh instances."""
    cleanup_backend_connections(include_process_resources=True)
    _backend_instances.clear()


__all__ = [
    "STORAGE_BACKENDS",
    "cleanup_all_backends",
    "cleanup_backend_connections",
    "get_backend_instance",
    "register_cleanup_callback",
]
