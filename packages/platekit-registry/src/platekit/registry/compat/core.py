"""metaclass-registry 0.4.1's core names, on platekit's registry machinery.

Three classes differ from platekit's own, to behave as metaclass-registry's:

* :class:`AutoRegisterMeta`: a subclass that inherits a registered class's key
  without setting its own claims that key, so it raises
  ``DuplicateRegistryKeyError`` (a forgotten key), unless it declares
  ``__replaces_registered__``. platekit's own metaclass leaves such a class out.
  Roots declared by class attributes get this module's ``LazyDiscoveryDict``.
* :class:`LazyDiscoveryDict`: a ``dict`` whose own storage holds the classes
  imported so far (``dict.keys(registry)`` shows them), with ``_discovered``.
* :class:`SecondaryRegistryDict`: names its primary ``_primary_registry``.

Everything else is platekit's, re-exported under metaclass-registry's names.
"""

from __future__ import annotations

from enum import EnumMeta

from platekit.registry import _lazy, _meta, _secondary
from platekit.registry._claims import REPLACES_REGISTERED_ATTRIBUTE, is_same_declaration
from platekit.registry._config import (
    PRIMARY_KEY,
    RegistryConfig,
    RegistryFamily,
    SecondaryRegistry,
    extract_key_from_backend_suffix,
    extract_key_from_class_name,
    extract_key_from_handler_suffix,
    make_suffix_extractor,
)
from platekit.registry._enums import RegistryKeyAttribute
from platekit.registry._meta import register_once

# Looked up here at each discovery, so that replacing it in this module (as a
# test that counts imports does) changes the importer discovery uses.
from platekit.registry._scan import import_module_preserving_root_logging

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

__all__ = [
    "PRIMARY_KEY",
    "REPLACES_REGISTERED_ATTRIBUTE",
    "AutoRegisterMeta",
    "LazyDiscoveryDict",
    "RegisteredEnumMeta",
    "RegistryConfig",
    "RegistryFamily",
    "RegistryKeyAttribute",
    "SecondaryRegistry",
    "SecondaryRegistryDict",
    "extract_key_from_backend_suffix",
    "extract_key_from_class_name",
    "extract_key_from_handler_suffix",
    "import_module_preserving_root_logging",
    "is_same_declaration",
    "make_suffix_extractor",
    "register_once",
]

_MISSING = object()


class LazyDiscoveryDict(_lazy.LazyDiscoveryDict, dict):  # type: ignore[type-arg]
    """platekit's :class:`~platekit.registry.LazyDiscoveryDict`, and a ``dict`` as in
    metaclass-registry.

    Reading it (``[key]``, ``in``, ``len``, iteration, ``==``) is platekit's:
    discovery on first use, the index, contained plugin failures. The dict's
    own storage mirrors the classes registered so far, so code that reads it
    with ``dict`` methods sees them; writing through ``dict`` methods of this
    class (``update``, ``pop``, ``del``) goes through the registry.
    """

    def __init__(self, enable_cache: bool = True) -> None:
        dict.__init__(self)
        _lazy.LazyDiscoveryDict.__init__(self, enable_cache)

    @property
    def _discovered(self) -> bool:
        """metaclass-registry's flag: whether the registry has been discovered."""
        return self._ready

    @_discovered.setter
    def _discovered(self, value: bool) -> None:
        self._ready = bool(value)

    def _ensure(self) -> None:
        if not self._ready:
            if self._config is None:
                self._discover()  # through the instance, which a test may replace
            else:
                self._prepare()

    def _discover(self) -> None:
        if self._config is None:
            return  # not declared on a class yet: nothing to discover
        super()._discover()

    def _import_discovery_package(self, name: str) -> ModuleType:
        return import_module_preserving_root_logging(name)

    # -- the dict storage follows the registry ------------------------------------------

    def _sync(self, key: Any) -> None:
        cls = self._classes.get(key)
        if cls is None:
            dict.pop(self, key, None)
        else:
            dict.__setitem__(self, key, cls)

    def _claim(
        self,
        key: Any,
        cls: Any,
        registry_name: str,
        *,
        replaces: Any = None,
        owner: Any = None,
    ) -> Any:
        previous = super()._claim(key, cls, registry_name, replaces=replaces, owner=owner)
        self._sync(key)
        return previous

    def _unclaim(self, key: Any, cls: Any, previous: Any) -> None:
        super()._unclaim(key, cls, previous)
        self._sync(key)

    def _forget_module(self, module: str) -> list[Any]:
        keys = super()._forget_module(module)
        for key in keys:
            dict.pop(self, key, None)
        return keys

    def _release(self, key: Any) -> None:
        super()._release(key)
        dict.pop(self, key, None)

    def _restore(self, state: dict[str, Any]) -> None:
        super()._restore(state)
        dict.clear(self)
        dict.update(self, self._classes)

    # -- dict's own writers, through the registry ---------------------------------------

    def __delitem__(self, key: Any) -> None:
        with self._lock:
            if key not in self._classes:
                raise KeyError(key)
            del self._classes[key]
            dict.pop(self, key, None)

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        with self._lock:
            if key in self._classes:
                value = self._classes.pop(key)
                dict.pop(self, key, None)
                return value
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[Any, Any]:
        with self._lock:
            if not self._classes:
                raise KeyError("popitem(): the registry holds no imported class")
            key, value = self._classes.popitem()
            dict.pop(self, key, None)
            return key, value

    def clear(self) -> None:
        with self._lock:
            self._classes.clear()
            dict.clear(self)

    def update(self, other: Any = (), /, **more: Any) -> None:
        items = other.items() if hasattr(other, "items") else other
        for key, value in [*items, *more.items()]:
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return self[key]
        self[key] = default
        return default

    def copy(self) -> dict[Any, Any]:
        return dict(self.items())

    def __ior__(self, other: Any) -> LazyDiscoveryDict:
        self.update(other)
        return self

    def __or__(self, other: Any) -> dict[Any, Any]:
        return {**dict(self.items()), **dict(other)}

    def __ror__(self, other: Any) -> dict[Any, Any]:
        return {**dict(other), **dict(self.items())}


class SecondaryRegistryDict(_secondary.SecondaryRegistryDict):
    """platekit's :class:`~platekit.registry.SecondaryRegistryDict`; its primary
    registry is also ``_primary_registry``, as in metaclass-registry."""

    @property
    def _primary_registry(self) -> _lazy.LazyDiscoveryDict:
        return self._primary


class AutoRegisterMeta(_meta.AutoRegisterMeta):
    """platekit's :class:`~platekit.registry.AutoRegisterMeta`, with metaclass-registry's
    rule for inherited keys: a subclass that inherits a registered class's key
    claims it, and so raises ``DuplicateRegistryKeyError``."""

    _inherited_key_claims = True
    _registry_type = LazyDiscoveryDict

    @staticmethod
    def _register_class(cls: type, key: Any, config: RegistryConfig) -> None:
        """Register ``cls`` under ``key`` as its class statement would have."""
        _meta.AutoRegisterMeta._register_class(cls, key, config)


class RegisteredEnumMeta(AutoRegisterMeta, EnumMeta):
    """The metaclass of an enum family whose enums register (see :class:`AutoRegisterMeta`)."""
