"""Test support: stand-in classes under the keys of registered ones, and the registry put back.

A key names one class, so a test cannot define a second class under the key
of a registered one, and a class a test registers stays registered for the
rest of the process. :func:`restored_registry` frees the keys a test's
stand-ins need for the duration of a ``with`` block, then puts the registry,
and its secondary registries, back exactly as they were.
"""

from __future__ import annotations

from contextlib import contextmanager

from platekit.registry._config import PRIMARY_KEY
from platekit.registry._lazy import LazyDiscoveryDict
from platekit.registry._secondary import SecondaryRegistryDict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Hashable, Iterator
    from typing import Any

__all__ = ["restored_registry"]


@contextmanager
def restored_registry(family: Any, *, released: tuple[Hashable, ...] = ()) -> Iterator[None]:
    """Put ``family``'s registry back as it was when the block ends; free ``released`` inside.

    ``family`` is a registry's root class (or the registry mapping itself).
    The registry is discovered first, so that no discovery runs inside the
    block. Inside, each key of ``released`` is free: a stand-in class may
    claim it, together with the secondary entries of the class that held
    it. Keys not released still refuse a second class. On exit, classes
    registered inside the block are gone and the released keys belong to
    their classes again, in the primary registry and in every secondary one.
    """
    registry = getattr(family, "__registry__", family)
    config = getattr(registry, "_config", None) or getattr(family, "__registry_config__", None)
    len(registry)  # discover now: a discovery inside the block would meet the stand-ins
    secondaries = list(config.secondary_registries or ()) if config is not None else []
    saved_primary = _save(registry)
    saved_secondary = [_save(s.registry_dict) for s in secondaries]
    try:
        for key in released:
            holder = registry.get(key)
            for secondary in secondaries:
                _release_secondary(secondary, key, holder)
            if isinstance(registry, LazyDiscoveryDict):
                registry._release(key)
            elif key in registry:
                del registry[key]
        yield
    finally:
        _put_back(registry, saved_primary)
        for secondary, saved in zip(secondaries, saved_secondary, strict=True):
            _put_back(secondary.registry_dict, saved)


def _save(mapping: Any) -> Any:
    if isinstance(mapping, LazyDiscoveryDict):
        return mapping._snapshot()
    if isinstance(mapping, SecondaryRegistryDict):
        return dict(mapping._values), dict(mapping._owners)
    return dict(mapping.items())


def _put_back(mapping: Any, saved: Any) -> None:
    if isinstance(mapping, LazyDiscoveryDict):
        mapping._restore(saved)
    elif isinstance(mapping, SecondaryRegistryDict):
        mapping._values, mapping._owners = saved
    else:
        mapping.clear()
        mapping.update(saved)


def _release_secondary(secondary: Any, key: Any, holder: Any) -> None:
    """Free the secondary entry that the class holding ``key`` declared."""
    if holder is None:
        return
    value = getattr(holder, secondary.attr_name, None)
    if secondary.key_source == PRIMARY_KEY:
        secondary_key = key
    else:
        secondary_key = getattr(holder, secondary.key_source, None)
    mapping = secondary.registry_dict
    if value is None or secondary_key is None:
        return
    if isinstance(mapping, SecondaryRegistryDict):
        if mapping._values.get(secondary_key) is value:
            del mapping._values[secondary_key]
            mapping._owners.pop(secondary_key, None)
    elif mapping.get(secondary_key) is value:
        del mapping[secondary_key]
