"""metaclass-registry 0.4.1's process-local caches: bounded LRU caches, and a family of
classes that each own one process-wide instance.

Subclassing :class:`ProcessLocalBoundedCache` is membership: each subclass is
registered under ``module.ClassName`` (its ``process_cache_key``), gets its
own singleton and lock, and is cleared by ``clear_process_caches()`` called
on it or on any class above it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from platekit.registry._config import RegistryConfig
from platekit.registry.compat.core import AutoRegisterMeta

__all__ = [
    "BoundedCache",
    "IdentityBoundProcessCache",
    "ProcessLocalBoundedCache",
    "SynchronizedBoundedCache",
]

CacheKey = TypeVar("CacheKey")
CachedValue = TypeVar("CachedValue")
_Cache = TypeVar("_Cache", bound="ProcessLocalBoundedCache[Any, Any]")


@dataclass
class BoundedCache(Generic[CacheKey, CachedValue]):
    """At most ``max_entries`` values; storing one more drops the least recently used.

    Its owner decides how long it lives. ``cached_value`` returns ``None`` for
    a key it does not hold (so ``None`` cannot be told from a miss).
    """

    max_entries: int = 4096
    entries: OrderedDict[CacheKey, CachedValue] = field(default_factory=OrderedDict)

    def cached_value(self, key: CacheKey) -> CachedValue | None:
        """The value stored under ``key`` (now the most recently used), or ``None``."""
        if key not in self.entries:
            return None
        self.entries.move_to_end(key)
        return self.entries[key]

    def store_value(self, key: CacheKey, value: CachedValue) -> CachedValue:
        """Store ``value`` under ``key`` and return it."""
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Drop every value."""
        self.entries.clear()


@dataclass
class SynchronizedBoundedCache(BoundedCache[CacheKey, CachedValue]):
    """A :class:`BoundedCache` whose operations hold one lock of its own."""

    _lock: Any = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def cached_value(self, key: CacheKey) -> CachedValue | None:
        with self._lock:
            return BoundedCache.cached_value(self, key)

    def store_value(self, key: CacheKey, value: CachedValue) -> CachedValue:
        with self._lock:
            return BoundedCache.store_value(self, key, value)

    def clear(self) -> None:
        with self._lock:
            BoundedCache.clear(self)


def _module_class_name(name: str, cls: type) -> str:
    return f"{cls.__module__}.{cls.__name__}"


_PROCESS_CACHES: dict[str, type] = {}


class ProcessLocalBoundedCache(BoundedCache[CacheKey, CachedValue], metaclass=AutoRegisterMeta):
    """A bounded cache class with one instance per process: ``Cls.process_cache()``.

    Every subclass registers under ``module.ClassName`` and owns its own
    singleton and lock, so a parent's instance is never a child's.
    """

    __registry_config__ = RegistryConfig(
        registry_dict=_PROCESS_CACHES,
        key_attribute="process_cache_key",
        key_extractor=_module_class_name,
        registry_name="process-local cache",
        log_registration=False,
    )
    __registry__: ClassVar[dict[str, type]]

    process_cache_key: ClassVar[str | None] = None
    _process_cache_lock: ClassVar[Any] = threading.Lock()
    _process_cache_instance: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._process_cache_lock = threading.Lock()
        cls._process_cache_instance = None

    @classmethod
    def process_cache(cls: type[_Cache]) -> _Cache:
        """This class's process-wide instance, made on first use (once, across threads)."""
        instance: Any = cls.__dict__.get("_process_cache_instance")
        if instance is None:
            with cls._process_cache_lock:
                instance = cls.__dict__.get("_process_cache_instance")
                if instance is None:
                    instance = cls()
                    cls._process_cache_instance = instance
        return instance  # type: ignore[no-any-return]

    @classmethod
    def clear_process_cache(cls) -> None:
        """Empty this class's instance (it stays the instance)."""
        instance = cls.__dict__.get("_process_cache_instance")
        if instance is not None:
            instance.clear()

    @classmethod
    def clear_process_caches(cls) -> None:
        """Empty the instances of this class and of every registered class below it."""
        for member in (cls, *list(_PROCESS_CACHES.values())):
            if issubclass(member, cls):
                member.clear_process_cache()


class IdentityBoundProcessCache(ProcessLocalBoundedCache[int, "tuple[object, Any]"]):
    """Values bound to an owner object, found again by that object only.

    Entries are keyed by ``id(owner)``; an entry found under a reused id (its
    owner is another object) is dropped and counts as a miss.
    """

    def get_bound(self, owner: object) -> Any | None:
        """The value bound to ``owner``, or ``None``."""
        entry = self.cached_value(id(owner))
        if entry is None:
            return None
        if entry[0] is not owner:
            self.entries.pop(id(owner), None)
            return None
        return entry[1]

    def put_bound(self, owner: object, value: Any) -> Any:
        """Bind ``value`` to ``owner``; return ``value``."""
        self.store_value(id(owner), (owner, value))
        return value
