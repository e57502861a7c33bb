"""platekit.registry.compat: metaclass-registry 0.4.1's API where it differs from platekit's.

The full check is metaclass-registry's own suite (``nox -s compat``); these
tests keep the differences honest without downloading it.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import pytest

from platekit.registry import compat
from platekit.registry.compat import (
    AutoRegisterMeta,
    DuplicateRegistryKeyError,
    LazyDiscoveryDict,
    RegistryCacheManager,
    SecondaryRegistryDict,
)


def test_every_public_name_loads() -> None:
    for name in compat.__all__:
        assert getattr(compat, name) is not None
    assert compat.__version__ == "0.4.1"


def test_the_compat_registry_is_a_dict_that_holds_imported_classes() -> None:
    class Plugin(metaclass=AutoRegisterMeta):
        __registry_key__ = "name"
        name = None

    class One(Plugin):
        name = "one"

    registry = Plugin.__registry__  # type: ignore[attr-defined]
    assert isinstance(registry, (LazyDiscoveryDict, dict))
    assert dict.keys(registry) == {"one"}
    assert registry == {"one": One}
    registry.pop("one")
    assert dict.keys(registry) == set() and "one" not in registry
    assert not LazyDiscoveryDict()._discovered
    assert SecondaryRegistryDict(registry)._primary_registry is registry


def test_a_subclass_inheriting_a_registered_key_raises_in_compat() -> None:
    class Plugin(metaclass=AutoRegisterMeta):
        __registry_key__ = "name"
        name = None

    class PluginA(Plugin):
        name = "a"

    with pytest.raises(DuplicateRegistryKeyError, match="__replaces_registered__ = PluginA"):

        class Forgotten(PluginA):
            pass

    class Replacement(PluginA):
        __replaces_registered__ = PluginA

    assert Plugin.__registry__ == {"a": Replacement}  # type: ignore[attr-defined]


def test_strategy_and_cache_families() -> None:
    from platekit.registry.compat.caches import ProcessLocalBoundedCache
    from platekit.registry.compat.strategies import EnumKeyedStrategyMixin

    class Shape(Enum):
        SQUARE = "square"

    class Area(EnumKeyedStrategyMixin[Shape], metaclass=AutoRegisterMeta):
        __enum_member_attr__ = "shape"

        def area(self, size: float) -> float:
            raise NotImplementedError

    class Square(Area):
        shape = Shape.SQUARE

        def area(self, size: float) -> float:
            return size * size

    assert Area.for_enum_member(Shape.SQUARE).area(3.0) == 9.0
    assert Square.strategy_label == "square"

    class Small(ProcessLocalBoundedCache[str, int]):
        pass

    cache = Small.process_cache()
    assert cache is Small.process_cache()
    cache.store_value("x", 1)
    ProcessLocalBoundedCache.clear_process_caches()
    assert cache.cached_value("x") is None


def test_the_item_cache_round_trips_and_refuses_a_partial_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(tmp_path))
    manager: RegistryCacheManager[int] = RegistryCacheManager(
        "numbers", lambda: "1", lambda value: {"v": value}, lambda data: data["v"]
    )
    assert str(tmp_path) in str(manager._cache_path)
    manager.save_cache({"a": 1, ("b", 2): 2})
    assert manager.load_cache() == {"a": 1, ("b", 2): 2}
    manager.clear_cache()
    broken: RegistryCacheManager[object] = RegistryCacheManager(
        "broken", lambda: "1", lambda value: {"v": value.missing}, lambda data: data
    )
    broken.save_cache({"a": object()})
    assert not broken._cache_path.exists()
