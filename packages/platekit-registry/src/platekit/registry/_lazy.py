"""LazyDiscoveryDict: a registry that discovers on first use and starts warm from its index.

Cold, a registry imports its discovery package's modules and its entry
points' modules; their classes register as they are defined. Then it writes
an *index* through platekit-cache: for every key, the module and qualified
name of its class, where it came from and its metadata; the record's stamps
hold the source files.

Warm, with a valid index, ``keys()``, ``in``, ``len``, iteration and
``metadata()`` are answered from the index alone, and ``registry[key]``
imports the one module that defines that key.

Threads: discovery never holds a lock while importing. Threads that arrive
during a discovery wait for it, except a thread that is itself in the middle
of importing a module: it could hold the very import lock the discovering
thread is waiting for, so it makes its own pass over the plugins instead.
Within that pass, as within the discovery, a plugin reading its registry gets
the partial view: one pass per thread, each module imported once.
"""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping

from platekit.registry import __version__, _index, _sources
from platekit.registry._claims import check_claim, same_declaration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from platekit.cache import RegistryCacheManager
    from platekit.registry._config import RegistryConfig
    from platekit.registry._failures import PluginError


class LazyDiscoveryDict(Mapping):  # type: ignore[type-arg]
    """A registry mapping key → class that discovers its plugins on first access.

    Declare it in a root class's ``RegistryConfig`` (or let a root's
    ``__registry_key__`` create one). ``enable_cache=False`` (or
    ``PLATEKIT_DISABLE_REGISTRY_CACHE=1``) skips the index.

    Raises, on access: :class:`KeyError` for an unknown key (listing the
    known keys and the closest matches), :class:`PluginImportError` when the
    key's module fails to import, :class:`DiscoveryError` when discovery
    itself cannot run (the registry can be retried).
    """

    def __init__(self, enable_cache: bool = True) -> None:
        self._enable_cache = enable_cache
        self._root: type | None = None
        self._config: RegistryConfig | None = None
        self._classes: dict[Any, type] = {}
        # From the index: key -> "module:qualname", origin -> {key: ...}, key -> metadata.
        self._index: dict[Any, str] = {}
        self._groups: dict[str, dict[str, str]] = {}
        self._metadata: dict[str, dict[str, Any]] = {}
        self._secondary_index: dict[str, dict[str, Any]] = {}
        # key -> references of the classes the indexed class was declared to replace.
        self._replaced: dict[Any, list[str]] = {}
        self._errors: list[PluginError] = []
        self._ready = False
        self._force_discovery = False
        self._lock = threading.RLock()
        self._discoverer: int | None = None
        # Threads in a pass of their own while another discovers (see _prepare).
        self._helpers: set[int] = set()
        self._done: Any = None
        self._manager: RegistryCacheManager | None = None
        #: "cold", "hit", "miss: <why>", "disabled: <why>".
        self.cache_state = "cold"
        #: Seconds the last discovery (or index load) took.
        self.discovery_seconds: float | None = None

    # -- declaration -------------------------------------------------------------

    def _attach(self, root: type, config: "RegistryConfig") -> None:
        if self._root is not None and self._root is not root:
            if same_declaration(self._root, root):
                self._root = root
                self._config = config
                return
            raise ValueError(
                f"this LazyDiscoveryDict already belongs to {self._root.__qualname__}; "
                f"give {root.__qualname__} a LazyDiscoveryDict of its own"
            )
        self._root = root
        self._config = config

    @property
    def config(self) -> "RegistryConfig":
        """The registry's :class:`RegistryConfig`."""
        if self._config is None:
            raise LookupError(
                "this LazyDiscoveryDict is not declared on any class yet; "
                "put it in a root class's RegistryConfig(registry_dict=...)"
            )
        return self._config

    @property
    def root(self) -> type | None:
        """The root class that owns the registry."""
        return self._root

    @property
    def name(self) -> str:
        return self._config.registry_name if self._config else "plugin"

    # -- the cache ---------------------------------------------------------------

    def _cache_off_reason(self) -> str | None:
        if not self._enable_cache:
            return "disabled: enable_cache=False"
        if os.environ.get("PLATEKIT_DISABLE_REGISTRY_CACHE", "").strip().lower() in (
            "1",
            "true",
            "yes",
            "on",
        ):
            return "disabled: PLATEKIT_DISABLE_REGISTRY_CACHE"
        config = self._config
        if config is None or not (config.discovery_package or config.entry_point_group):
            return "disabled: nothing to discover"
        if config.discovery_function is not None:
            return "disabled: a custom discovery_function decides what to import"
        return None

    @property
    def _cache_manager(self) -> "RegistryCacheManager | None":
        """The index's record store, or None when this registry keeps no index."""
        if self._cache_off_reason() is not None:
            return None
        assert self._root is not None and self._config is not None
        name = _index.index_name(self._root, self._config) + self._index_variant()
        if self._manager is None or self._manager.name != name:
            from platekit.cache import RegistryCacheManager

            self._manager = RegistryCacheManager(
                name,
                version=_index.index_version(self._config, __version__),
                files=self._stamps,
                folders=self._folders,
            )
        return self._manager

    @property
    def cache_path(self) -> "Path | None":
        """The index file (None when this registry keeps no index)."""
        manager = self._cache_manager
        return manager.path if manager is not None else None

    # -- extension points for subclasses ----------------------------------------

    def _accept_entry_point(self, entry_point: _sources.EntryPoint) -> bool:
        """Whether discovery loads this entry point (a subclass may leave some out)."""
        return True

    def _index_variant(self) -> str:
        """A suffix for the index name: registries that select differently
        (see :meth:`_accept_entry_point`) keep separate indexes."""
        return ""

    def _stamps(self) -> list[str]:
        """The files whose changes make the index stale (besides the package's modules)."""
        config = self._config
        assert config is not None and self._root is not None
        files = []
        # The root's own module: its declaration (key, metadata attributes) may change.
        root_file = getattr(sys.modules.get(self._root.__module__), "__file__", None)
        if root_file:
            files.append(root_file)
        if config.discovery_package:
            owner = _sources.owner_metadata(config.discovery_package)
            if owner is not None:
                files.append(owner)
        if config.entry_point_group:
            # Which entry points exist changes only with the installed distributions.
            files.extend(_sources.installation_stamp_paths())
        return files

    def _folders(self) -> list[tuple[str, bool]]:
        """The discovery package's folders: a module added, removed or edited makes the
        index stale."""
        config = self._config
        assert config is not None
        if not config.discovery_package:
            return []
        recursive = config.discovery_recursive
        return [(folder, recursive) for folder in _sources.package_dirs(config.discovery_package)]

    def _load_index(self) -> bool:
        """Adopt a valid index; return whether one was found. Imports nothing."""
        manager = self._cache_manager
        if manager is None:
            self.cache_state = self._cache_off_reason() or "disabled"
            return False
        started = time.perf_counter()
        found = manager.lookup()
        if not found.hit:
            self.cache_state = f"miss: {found.reason}"
            return False
        entries, problem = _index.read_index(found.items)
        if problem is not None:
            self.cache_state = f"miss: the index is malformed ({problem})"
            from platekit.registry import _log

            _log.log(_log.WARNING, "platekit registry index %s: %s", manager.path, problem)
            return False
        items = found.items
        installed = items.get("installed")
        if installed is not None and installed != _sources.installed_distributions():
            self.cache_state = (
                "miss: the installed distributions changed, and when it was written "
                f"{', '.join(items['missing'])} could not be imported"
            )
            return False
        self._index = entries
        self._groups = items["origins"]
        self._metadata = items["metadata"]
        self._secondary_index = items["secondary"]
        self._replaced = items.get("replaced", {})
        self._errors = [
            _plugin_error()(
                e["module"],
                e["summary"],
                e["traceback"],
                entry_point=e.get("entry_point"),
                distribution=e.get("distribution"),
                keys=e.get("keys"),
            )
            for e in items["errors"]
        ]
        self.cache_state = "hit"
        self.discovery_seconds = time.perf_counter() - started
        return True

    # -- discovery ---------------------------------------------------------------

    def _ensure(self) -> None:
        if not self._ready:
            self._prepare()

    def _prepare(self) -> None:
        me = threading.get_ident()
        while True:
            with self._lock:
                if self._ready:
                    return
                if self._config is None:
                    # Not declared on a class: only manual registrations.
                    return
                if self._discoverer is None:
                    if not self._force_discovery and self._load_index():
                        self._ready = True
                        return
                    self._discoverer = me
                    self._done = threading.Lock()
                    self._done.acquire()
                    break
                if self._discoverer == me or me in self._helpers:
                    return  # a plugin reading its registry during this thread's pass: partial
                done = self._done
            from platekit.registry._discovery import import_plugins, inside_import

            if inside_import():
                self._help(me, import_plugins)
                return
            # Wait for the discovering thread; bounded per wait so the loop re-checks.
            while not done.acquire(timeout=1.0):
                pass
            done.release()
        succeeded = False
        try:
            self._discover()
            succeeded = True
        finally:
            with self._lock:
                self._discoverer = None
                self._ready = succeeded
                if succeeded:
                    self._force_discovery = False
                self._done.release()

    def _help(self, me: int, import_plugins: "Callable[..., Any]") -> None:
        """One pass over the plugins by a thread that may not wait for the discoverer.

        The plugins this pass imports may read the registry too: they get the
        partial view, so a pass never starts another and each module runs once.
        """
        with self._lock:
            self._helpers.add(me)
        try:
            import_plugins(self.config, self._root, None)
        finally:
            with self._lock:
                self._helpers.discard(me)

    def _discover(self) -> None:
        started = time.perf_counter()
        errors: list[PluginError] = []
        config = self.config
        # Imported here: a warm start never discovers.
        from platekit.registry._discovery import MissingImports, import_plugins, still_importing

        with MissingImports() as missing:
            origins, plugin_files = import_plugins(config, self._root, errors)
        self._errors = errors
        self.discovery_seconds = time.perf_counter() - started
        # A plugin that read its registry while being imported is not defined
        # yet: this view is complete for this process later, but not indexable.
        unfinished = still_importing(origins)
        with self._lock:
            classes = list(self._classes.items())
        self._groups, self._metadata = _index.build_entries(classes, origins, config)
        self._index = _index.merged(self._groups)
        self._secondary_index = _index.build_secondary(config, self._index)
        self._replaced = _index.build_replaced(classes, self._index)
        manager = self._cache_manager
        if manager is None:
            self.cache_state = self._cache_off_reason() or "disabled"
            return
        if not self.cache_state.startswith("miss"):
            self.cache_state = "miss: rebuilt on request"
        if unfinished:
            self.cache_state += f" (index not written: {', '.join(unfinished)} still importing)"
            return
        items = {
            "format": _index.INDEX_FORMAT,
            "registry": self.name,
            "origins": self._groups,
            "metadata": self._metadata,
            "secondary": self._secondary_index,
            "replaced": self._replaced,
            "errors": [error.as_json() for error in errors],
            "discovery_seconds": self.discovery_seconds,
        }
        if missing.names:
            # Installing the missing module may bring its plugins: record what is
            # installed, and a later start with other distributions discovers again.
            items["missing"] = sorted(missing.names)
            items["installed"] = _sources.installed_distributions()
        if not manager.save(items, extra_files=plugin_files):
            self.cache_state += " (the index could not be written)"

    def discover_matching(self, predicate: "Callable[[str], bool]") -> list[str]:
        """Import only the plugin modules whose dotted names ``predicate`` accepts.

        The modules of the discovery package (and of its subpackages with
        ``discovery_recursive``), listed from disk, and the modules of the
        entry points are offered to ``predicate``; the accepted ones are
        imported, so their classes register. Returns their names.

        This is not a discovery: the registry stays undiscovered, its first
        full use still discovers everything, and no index is written. A module
        that fails to import is logged and left out, as in a discovery.
        Raises :class:`DiscoveryError` when the discovery package cannot be
        imported, :class:`DuplicateKeyError` for two classes of the discovery
        package claiming one key, and ``ValueError`` for a registry with a
        ``discovery_function`` (only the function knows its modules).
        """
        config = self._config
        if config is None:
            return []
        from platekit.registry._discovery import import_matching

        return import_matching(config, predicate)

    def refresh(self) -> None:
        """Discover again, from scratch, and rewrite the index."""
        self._rediscover("miss: refresh() asked for a new discovery")

    def _rediscover(self, reason: str) -> None:
        _sources.forget_scans()
        with self._lock:
            self._ready = False
            self._force_discovery = True
            self._index = {}
            self._groups = {}
            self._metadata = {}
            self._secondary_index = {}
            self._replaced = {}
            self.cache_state = reason
        self._prepare()

    # -- registration --------------------------------------------------------------

    def _claim(
        self,
        key: "Any",
        cls: "Any",
        registry_name: str,
        *,
        replaces: "Any" = None,
        owner: "Any" = None,
    ) -> "Any":
        with self._lock:
            current: object = self._classes.get(key)
            if current is None:
                entry = self._index.get(key)
                if entry is not None and _index.split_reference(entry) != (
                    getattr(cls, "__module__", None),
                    getattr(cls, "__qualname__", None),
                ):
                    # The key belongs to a plugin not imported yet: still a duplicate.
                    current = _Indexed(entry)
            check_claim(registry_name, key, current, cls, replaces)
            self._classes[key] = cls
            return current if isinstance(current, type) else None

    def _unclaim(self, key: "Any", cls: "Any", previous: "Any") -> None:
        with self._lock:
            if self._classes.get(key) is cls:
                if previous is None:
                    del self._classes[key]
                else:
                    self._classes[key] = previous

    def _forget_module(self, module: str) -> "list[Any]":
        """Drop the classes a module that failed to import registered; return their keys."""
        with self._lock:
            keys = [key for key, cls in self._classes.items() if cls.__module__ == module]
            for key in keys:
                del self._classes[key]
        config = self._config
        for secondary in (config.secondary_registries or ()) if config else ():
            forget = getattr(secondary.registry_dict, "_forget_owners", None)
            if forget is not None:
                forget(keys)
        return keys

    def register(self, key: "Any", cls: type) -> type:
        """Register ``cls`` under ``key`` by hand; returns ``cls``."""
        self._claim(key, cls, self.name)
        return cls

    def __setitem__(self, key: "Any", cls: type) -> None:
        self.register(key, cls)

    def _loaded(self, key: "Any") -> type | None:
        return self._classes.get(key)

    def _indexed(self, key: "Any") -> str | None:
        """The ``module:qualname`` the index holds for ``key``, if any."""
        return self._index.get(key)

    def _replaced_by_index(self, key: "Any", cls: type) -> bool:
        """Whether the index says the class holding ``key`` was declared to replace ``cls``."""
        replaced = self._replaced.get(key) or ()
        return f"{cls.__module__}:{cls.__qualname__}" in replaced

    # -- a registry put back as it was (platekit.registry.testing) ------------------

    _STATE = ("_classes", "_index", "_groups", "_metadata", "_secondary_index", "_replaced")

    def _snapshot(self) -> "dict[str, Any]":
        with self._lock:
            state: dict[str, Any] = {
                name: {
                    k: (dict(v) if isinstance(v, dict) else v)
                    for k, v in getattr(self, name).items()
                }
                for name in self._STATE
            }
            state["_errors"] = list(self._errors)
            state["_ready"] = self._ready
            return state

    def _restore(self, state: "dict[str, Any]") -> None:
        with self._lock:
            for name, value in state.items():
                setattr(self, name, value)

    def _release(self, key: "Any") -> None:
        """Free ``key``: another class may claim it."""
        with self._lock:
            self._classes.pop(key, None)
            self._index.pop(key, None)
            self._metadata.pop(key, None)
            self._replaced.pop(key, None)
            for group in self._groups.values():
                group.pop(key, None)

    # -- the mapping ---------------------------------------------------------------

    def __getitem__(self, key: "Any") -> "Any":
        self._ensure()
        cls = self._classes.get(key)
        if cls is not None and self._replaced and self._replaced_by_index(key, cls):
            # Registered before the index was read, by a class the indexed one replaces.
            self._resolve_indexed(key, self._index[key])
            cls = self._classes.get(key)
        if cls is not None:
            return cls
        entry = self._index.get(key)
        if entry is not None:
            self._resolve_indexed(key, entry)
            cls = self._classes.get(key)
            if cls is not None:
                return cls
        for error in self._errors:
            if error.names(key):
                self._import_module_for(key, error.module, error)
                cls = self._classes.get(key)
                if cls is not None:
                    return cls
        raise KeyError(self._unknown_key_message(key))

    def _resolve_indexed(self, key: "Any", entry: str) -> None:
        """Import the module the index names for ``key``; when that reference does not
        resolve, rediscover once and rewrite the index.

        It does not resolve when it is malformed, names a module that does not
        exist, or names one that does not define the key: the index is wrong,
        not the plugin. A module that exists and fails raises PluginImportError.
        """
        module = _index.split_reference(entry)[0]
        if not _index.well_formed(entry):
            problem = "is malformed"
        else:
            try:
                self._import_module_for(key, module)
            except ImportError as exc:
                if not _is_missing(exc.__cause__, module):
                    raise
                problem = f"names a module that does not exist ({exc.__cause__})"
            else:
                if key in self._classes:
                    return
                problem = f"names a module that does not define {key!r}"
        from platekit.registry import _log

        _log.log(
            _log.WARNING,
            "%s registry: the index entry for %r (%r) %s; discovering again",
            self.name,
            key,
            entry,
            problem,
        )
        self._rediscover(f"miss: the index entry for {key!r} {problem}")

    def _import_module_for(
        self, key: "Any", module: str, error: "PluginError | None" = None
    ) -> None:
        try:
            __import__(module)
        except (Exception, SystemExit) as exc:
            # The failed import may have registered classes again before failing.
            self._forget_module(module)
            where = error.source if error is not None else f"module {module}"
            from platekit.registry._errors import PluginImportError

            raise PluginImportError(
                f"{self.name} {key!r} is unavailable: its {where} failed to import "
                f"({type(exc).__name__}: {exc}); fix or reinstall that plugin"
            ) from exc

    def _unknown_key_message(self, key: "Any") -> str:
        known = sorted(map(str, self._all_keys()))
        text = f"no {self.name} {key!r}."
        if isinstance(key, str) and known:
            import difflib

            close = difflib.get_close_matches(key, known, n=3)
            if close:
                text += f" Did you mean {', '.join(map(repr, close))}?"
        text += f" Known: {', '.join(known) if known else 'none'}."
        if self._errors:
            text += " Failed to import: " + "; ".join(e.source for e in self._errors) + "."
        return text

    def _all_keys(self) -> "list[Any]":
        with self._lock:
            keys = list(self._index)
            keys.extend(k for k in self._classes if k not in self._index)
        return keys

    def __iter__(self) -> "Iterator[Any]":
        self._ensure()
        return iter(self._all_keys())

    def __len__(self) -> int:
        self._ensure()
        return len(self._all_keys())

    def __contains__(self, key: object) -> bool:
        self._ensure()
        try:
            return key in self._classes or key in self._index
        except TypeError:
            return False

    def get(self, key: "Any", default: "Any" = None) -> "Any":
        try:
            return self[key]
        except KeyError:
            return default

    def __eq__(self, other: object) -> bool:
        # Compared by content, as every mapping is. The keys first (answered from
        # the index): only registries with the same keys import their classes.
        if other is self:
            return True
        if not isinstance(other, Mapping):
            return NotImplemented
        if self.keys() != other.keys():
            return False
        return all(self[key] == other[key] for key in self)

    # Equal by content, so not hashable (like dict).
    __hash__ = None  # type: ignore[assignment]

    # -- what the index knows --------------------------------------------------------

    def metadata(self, key: "Any") -> "dict[str, Any]":
        """The ``metadata_attributes`` of ``key``'s class, without importing it when warm.

        Values are JSON data (a tuple comes back as a list).
        """
        self._ensure()
        if key in self._index:
            return dict(self._metadata.get(key, {}))
        cls = self[key]
        config = self._config
        return _index.metadata_of(cls, config.metadata_attributes if config else (), self.name)

    def origin(self, key: "Any") -> str:
        """Where ``key`` came from: its package, its entry point, or the module that defined it."""
        self._ensure()
        if key in self._index:
            for origin, group in self._groups.items():
                if key in group:
                    return origin
        cls = self[key]
        return f"registered by {cls.__module__}"

    def location(self, key: "Any") -> tuple[str, str]:
        """``(module, qualified name)`` of ``key``'s class, without importing it when warm."""
        self._ensure()
        entry = self._index.get(key)
        if entry is not None:
            return _index.split_reference(entry)
        cls = self[key]
        return cls.__module__, cls.__qualname__

    @property
    def errors(self) -> "list[PluginError]":
        """Plugins that failed to import in the last discovery."""
        self._ensure()
        return list(self._errors)

    @property
    def is_discovered(self) -> bool:
        """Whether keys can be answered without discovering (warm index or done)."""
        return self._ready

    def _secondary_owner(self, section: str | None, key: "Any") -> "Any":
        self._ensure()
        if section is None:
            return None
        return self._secondary_index.get(section, {}).get(key)

    def _secondary_keys(self, section: str | None) -> "list[Any]":
        if section is None:
            return []
        return list(self._secondary_index.get(section, {}))

    # -- pickling and display ----------------------------------------------------------

    def __reduce__(self) -> "tuple[Any, tuple[Any, ...]]":
        if self._root is None:
            raise TypeError(
                "a LazyDiscoveryDict pickles by reference to its root class, and this one "
                "is not declared on any class"
            )
        return (_registry_of, (self._root,))

    def __repr__(self) -> str:
        if not self._ready:
            return f"<LazyDiscoveryDict {self.name!r}: not discovered yet>"
        return f"<LazyDiscoveryDict {self.name!r}: {len(self._all_keys())} keys>"


class _Indexed:
    """Stands for an indexed class that is not imported yet, in duplicate-key messages."""

    def __init__(self, reference: str) -> None:
        self.__module__, self.__qualname__ = _index.split_reference(reference)

    def __repr__(self) -> str:
        return f"{self.__qualname__} (module {self.__module__})"


def _registry_of(root: type) -> LazyDiscoveryDict:
    registry: LazyDiscoveryDict = root.__registry__  # type: ignore[attr-defined]
    return registry


def _is_missing(exc: "BaseException | None", module: str) -> bool:
    """Whether ``exc`` says that ``module`` itself (or a package above it) does not exist,
    rather than that something the module imports is missing."""
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    return bool(missing) and (module == missing or module.startswith(f"{missing}."))


def _plugin_error() -> "type[PluginError]":
    """PluginError, imported when an index records failures (rarely, so not at start)."""
    from platekit.registry._failures import PluginError

    return PluginError
