"""BackendRegistry: backend name → one shared backend instance, created on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping

from platekit.storage._base import STORAGE_BACKENDS, StorageBackend, gpu_excluded
from platekit.storage._errors import BackendNotFoundError, raising_storage_errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.registry import LazyDiscoveryDict

# Backends whose name is known before their dependency is installed: the
# extra of platekit-storage that brings it, and what that extra needs.
OPTIONAL_BACKENDS = {
    "zarr": ("zarr", "zarr-python 3, Python 3.11 or newer"),
}


def install_hint(name: str) -> str | None:
    """What to run to install the optional backend ``name``; None for another name."""
    if name not in OPTIONAL_BACKENDS:
        return None
    from platekit.registry._install import install_command

    extra, needs = OPTIONAL_BACKENDS[name]
    return f"{install_command('platekit-storage', extra)} ({needs})"


# Built-in backends come first, in this order; others follow by name.
_BUILTIN_ORDER = ("memory", "disk", "zarr", "fsspec", "zarr_fsspec")


class BackendRegistry(Mapping[str, StorageBackend]):
    """A mapping from backend type to a backend instance.

    Backend classes are found through the lazy storage backend registry, so
    listing names imports no backend module when the index is warm; each
    instance is created on first access (two threads get the same one) and
    reused: ``registry["disk"] is registry["disk"]``. With
    ``PLATEKIT_SUBPROCESS_NO_GPU=1``, backends marked ``_requires_gpu`` are
    left out.

    ``registry[name]`` raises ``KeyError`` (``BackendNotFoundError``) for a
    name that is not available, naming the available ones (and what to
    install, for a known optional backend), and
    :class:`~platekit.registry.PluginImportError` (an ``ImportError``) for a
    backend whose plugin failed to import: its message gives the plugin's
    error and what to do, and its ``__cause__`` is the original exception.

    :meth:`close` lets go of every backend made so far (each one's
    :meth:`~StorageBackend.close`, then the callbacks given to
    :meth:`on_close`); the next access makes fresh ones. ``with
    BackendRegistry() as registry:`` closes it at the end of the block.

    Pickled (to cross a process boundary) it is a registry of the same
    classes whose backends are made anew, on first access, in the process
    that unpickles it; its :meth:`on_close` callbacks stay behind.
    """

    def __init__(self, classes: LazyDiscoveryDict | None = None) -> None:
        self._classes = classes if classes is not None else STORAGE_BACKENDS
        self._instances: dict[str, StorageBackend] = {}
        self._on_close: list[Callable[[], object]] = []
        self._lock = threading.Lock()

    def on_close(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` at each :meth:`close`, after the backends' own.

        For resources that belong to no one backend (a connection pool, a
        server). A callback given twice is called once.
        """
        with self._lock:
            if callback not in self._on_close:
                self._on_close.append(callback)

    def close(self) -> None:
        """Close every backend made so far, then run the :meth:`on_close` callbacks.

        The backends are forgotten, so ``registry[name]`` makes a new one.
        Every backend and callback is called even when one raises; the
        first exception is raised afterwards.
        """
        with self._lock:
            backends, self._instances = list(self._instances.values()), {}
            callbacks = list(self._on_close)
        failure: BaseException | None = None
        for step in [backend.close for backend in backends] + callbacks:
            try:
                step()
            except Exception as exc:  # the others still get closed
                failure = failure or exc
        if failure is not None:
            raise failure

    def __enter__(self) -> BackendRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Backends belong to their process: another process makes its own on first access.
        default = self._classes is STORAGE_BACKENDS
        return (BackendRegistry, () if default else (self._classes,))

    @property
    def classes(self) -> Mapping[str, type[StorageBackend]]:
        """Backend type → backend class (imported when looked up)."""
        return _ClassView(self)

    def _names(self) -> list[str]:
        names = list(self._classes)
        if gpu_excluded():
            names = [n for n in names if not self._classes.metadata(n).get("_requires_gpu")]
        ordered = [n for n in _BUILTIN_ORDER if n in names]
        return ordered + sorted(n for n in names if n not in _BUILTIN_ORDER)

    @raising_storage_errors
    def _class(self, name: str) -> type[StorageBackend]:
        if name not in self._names() and not self._failed(name):
            raise BackendNotFoundError(self._unknown(name))
        # A backend whose plugin failed to import raises the registry's
        # PluginImportError here, with the plugin's own error as its cause.
        cls: type[StorageBackend] = self._classes[name]
        return cls

    def _failed(self, name: object) -> bool:
        """Whether ``name`` is the key of a plugin that failed to import."""
        return any(error.names(name) for error in self._classes.errors)

    def _unknown(self, name: object) -> str:
        available = ", ".join(self._names()) or "none"
        if isinstance(name, str):
            cased = [n for n in self._names() if n.casefold() == name.casefold()]
            if cased:
                return (
                    f"no storage backend {name!r}; names are case-sensitive here: did you mean "
                    f"{' or '.join(map(repr, cased))}? Available: {available}."
                )
            hint = install_hint(name.casefold())
            if hint is not None:
                return (
                    f"the {name!r} storage backend is not installed: {hint}. "
                    f"Available: {available}."
                )
            if gpu_excluded() and _needs_gpu(self._classes, name):
                return (
                    f"the {name!r} storage backend needs a GPU or a viewer and is left out "
                    f"because PLATEKIT_SUBPROCESS_NO_GPU=1. Available: {available}."
                )
        text = f"no storage backend {name!r}. Available: {available}."
        failed = self._classes.errors
        if failed:
            text += " Failed to import: " + "; ".join(error.source for error in failed) + "."
        return text

    def __getitem__(self, name: str) -> StorageBackend:
        backend = self._instances.get(name)
        if backend is not None:
            return backend
        cls = self._class(name)
        with self._lock:
            backend = self._instances.get(name)
            if backend is None:
                backend = cls()
                self._instances[name] = backend
        return backend

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._names()

    def __repr__(self) -> str:
        return f"BackendRegistry({self._names()!r})"


def _needs_gpu(classes: LazyDiscoveryDict, name: str) -> bool:
    """Whether ``name`` is a backend left out for needing a GPU: marked so in its
    class, or installed through an entry point tagged ``[gpu]`` (never imported)."""
    if name in classes:
        return True
    group = classes.config.entry_point_group
    if not group:
        return False
    from platekit.registry._sources import entry_points

    return any(ep.name == name and "gpu" in ep.extras for ep in entry_points(group))


class _ClassView(Mapping[str, "type[StorageBackend]"]):
    def __init__(self, registry: BackendRegistry) -> None:
        self._registry = registry

    def __getitem__(self, name: str) -> type[StorageBackend]:
        return self._registry._class(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry._names())

    def __len__(self) -> int:
        return len(self._registry._names())
