"""Declarations metaclass-registry 0.4.1 users write, and the behaviour platekit gives them."""

from __future__ import annotations

import dataclasses
import json
from abc import abstractmethod
from enum import Enum

import pytest

from platekit.registry import (
    PRIMARY_KEY,
    REPLACES_REGISTERED_ATTRIBUTE,
    AutoRegisterMeta,
    CacheError,
    DuplicateKeyError,
    LazyDiscoveryDict,
    RegisteredEnumMeta,
    RegistryConfig,
    RegistryError,
    RegistryFamily,
    RegistryKeyAttribute,
    SecondaryRegistry,
    SecondaryRegistryDict,
    is_same_declaration,
    register_once,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from conftest import PluginTree, RunPython


def test_a_registry_equals_a_mapping_with_the_same_contents() -> None:
    class Root(metaclass=AutoRegisterMeta):
        __registry_key__ = "_kind"

    class Disk(Root):
        _kind = "disk"

    registry = Root.__registry__  # type: ignore[attr-defined]
    assert registry == {"disk": Disk}
    assert {"disk": Disk} == registry
    assert registry != {"disk": Root}
    assert registry != {"disk": Disk, "memory": Disk}
    assert registry != {}
    assert LazyDiscoveryDict() == LazyDiscoveryDict() == {}
    with pytest.raises(TypeError):
        hash(registry)  # equal by content, so unhashable, like dict


def test_a_root_keyed_by_a_plain_mixin_gets_a_registry_of_its_own() -> None:
    class Keyed:
        __registry_key__ = "method"
        __skip_if_no_key__ = True
        method = None

    class Spatial(Keyed, metaclass=AutoRegisterMeta):
        pass

    class Projection(Keyed, metaclass=AutoRegisterMeta):
        pass

    class Mean(Spatial):
        method = "mean"

    class MaxProjection(Projection):
        method = "max"

    assert isinstance(Spatial.__registry__, LazyDiscoveryDict)  # type: ignore[attr-defined]
    assert Spatial.__registry__ is not Projection.__registry__  # type: ignore[attr-defined]
    assert Spatial.__registry__ == {"mean": Mean}  # type: ignore[attr-defined]
    assert Projection.__registry__ == {"max": MaxProjection}  # type: ignore[attr-defined]
    assert Spatial.__registry__.name == "spatial"  # type: ignore[attr-defined]


def test_a_registry_family_declares_the_key_axis_and_body_attributes_win() -> None:
    class Strategy(metaclass=AutoRegisterMeta):
        __registry_family__ = RegistryFamily(
            RegistryKeyAttribute.STRATEGY_LABEL, registry_name="test strategy"
        )
        strategy_label = None

    class Mine(Strategy):
        strategy_label = "mine"

    class Unlabelled(Strategy):
        pass

    assert Strategy.__registry_key__ == "strategy_label"  # type: ignore[attr-defined]
    assert Strategy.__skip_if_no_key__ is True  # type: ignore[attr-defined]
    assert Strategy.__registry_name__ == "test strategy"  # type: ignore[attr-defined]
    assert dict(Strategy.__registry__) == {"mine": Mine}  # type: ignore[attr-defined]

    class Strict(metaclass=AutoRegisterMeta):
        __registry_family__ = RegistryFamily("strategy_label")
        __skip_if_no_key__ = False
        strategy_label = None

    with pytest.raises(ValueError, match="must have strategy_label attribute"):

        class Keyless(Strict):
            pass

    with pytest.raises(TypeError, match="must be a RegistryFamily"):

        class Wrong(metaclass=AutoRegisterMeta):
            __registry_family__ = "strategy_label"


def test_a_config_declared_root_gets_no_registry_key_attribute() -> None:
    config = RegistryConfig(registry_dict=LazyDiscoveryDict(), key_attribute="name")

    class Root(metaclass=AutoRegisterMeta):
        __registry_config__ = config

    assert "__registry_key__" not in vars(Root)
    with pytest.raises(ValueError, match="must be the registry owned by its __registry_config__"):

        class Other(metaclass=AutoRegisterMeta):
            __registry_config__ = config.replace(registry_dict=LazyDiscoveryDict())
            __registry__ = LazyDiscoveryDict()


def _family() -> type:
    class Plugin(metaclass=AutoRegisterMeta):
        __registry_key__ = "name"
        name = None

    return Plugin


def test_a_declared_replacement_takes_the_key_and_is_not_inherited() -> None:
    Plugin = _family()

    class PluginA(Plugin):  # type: ignore[misc,valid-type]
        name = "a"

    class PluginB(PluginA):
        __replaces_registered__ = PluginA

    class PluginC(PluginB):  # inherits the key without declaring: left out, as any subclass
        pass

    assert REPLACES_REGISTERED_ATTRIBUTE == "__replaces_registered__"
    assert Plugin.__registry__ == {"a": PluginB}  # type: ignore[attr-defined]


def test_a_declared_replacement_must_name_the_class_holding_its_key() -> None:
    Plugin = _family()

    class PluginA(Plugin):  # type: ignore[misc,valid-type]
        name = "a"

    class PluginB(Plugin):  # type: ignore[misc,valid-type]
        name = "b"

    with pytest.raises(DuplicateKeyError, match=r"key 'a' is registered to .*PluginA"):

        class WrongTarget(Plugin):  # type: ignore[misc,valid-type]
            name = "a"
            __replaces_registered__ = PluginB

    with pytest.raises(DuplicateKeyError, match="key 'd' is not registered"):

        class NothingThere(Plugin):  # type: ignore[misc,valid-type]
            name = "d"
            __replaces_registered__ = PluginA

    with pytest.raises(DuplicateKeyError, match="is abstract, so it registers nothing"):

        class Abstract(Plugin):  # type: ignore[misc,valid-type]
            __replaces_registered__ = PluginA

            @abstractmethod
            def run(self) -> None: ...

    with pytest.raises(TypeError, match="must be the registered class it replaces"):

        class NotAClass(Plugin):  # type: ignore[misc,valid-type]
            name = "a"
            __replaces_registered__ = "PluginA"

    assert Plugin.__registry__ == {"a": PluginA, "b": PluginB}  # type: ignore[attr-defined]


def test_a_replacement_takes_the_secondary_entries_of_the_class_it_replaces() -> None:
    primary = LazyDiscoveryDict()
    handlers = SecondaryRegistryDict(primary)
    readers: dict[str, type] = {}

    class Plugin(metaclass=AutoRegisterMeta):
        __registry_config__ = RegistryConfig(
            registry_dict=primary,
            key_attribute="name",
            secondary_registries=[
                SecondaryRegistry(handlers, PRIMARY_KEY, "handler"),
                SecondaryRegistry(readers, "extension", "reader"),
            ],
        )

    class HandlerA: ...

    class HandlerB: ...

    class PluginA(Plugin):
        name = "a"
        handler = HandlerA
        extension = ".a"
        reader = HandlerA

    class PluginB(PluginA):
        __replaces_registered__ = PluginA
        handler = HandlerB
        reader = HandlerB

    assert primary == {"a": PluginB}
    assert handlers["a"] is HandlerB
    assert readers == {".a": HandlerB}


def test_a_subclass_inheriting_a_key_is_left_out_by_platekit_and_says_how_to_replace() -> None:
    Plugin = _family()

    class PluginA(Plugin):  # type: ignore[misc,valid-type]
        name = "a"

    class Tuned(PluginA):
        pass

    assert Plugin.__registry__ == {"a": PluginA}  # type: ignore[attr-defined]
    with pytest.raises(DuplicateKeyError, match="declare __replaces_registered__ = PluginA"):

        class Clash(PluginA):
            name = "a"


def test_register_once_and_is_same_declaration() -> None:
    registry: dict[str, object] = {}

    def declare() -> type:
        class Thing:
            pass

        return Thing

    first, second = declare(), declare()
    assert is_same_declaration(first, second)
    assert not is_same_declaration(first, object)
    assert not is_same_declaration("Thing", first)
    assert register_once(registry, "t", first, registry_name="thing") is None
    assert register_once(registry, "t", first, registry_name="thing") is None
    assert register_once(registry, "t", second, registry_name="thing") is first
    with pytest.raises(DuplicateKeyError, match=r"^thing key 't' is claimed twice"):
        register_once(registry, "t", int, registry_name="thing")
    assert register_once(registry, "t", int, registry_name="thing", replaces=second) is second
    assert register_once(registry, "t", str, superseded_values=(int,)) is int
    with pytest.raises(DuplicateKeyError, match="key 'u' is not registered"):
        register_once(registry, "u", int, replaces=str)
    assert registry == {"t": str}


def test_registered_enum_meta_registers_enum_families() -> None:
    class Variant(str, Enum, metaclass=RegisteredEnumMeta):
        __registry_key__ = "__name__"

    class Colours(Variant):
        RED = "red"

    assert Variant.__registry__ == {"Colours": Colours}  # type: ignore[attr-defined]
    assert Colours.RED == "red"
    assert Colours("red") is Colours.RED


def test_a_slots_dataclass_replacement_is_not_a_duplicate() -> None:
    Plugin = _family()

    class PluginA(Plugin):  # type: ignore[misc,valid-type]
        name = "a"

    @dataclasses.dataclass(slots=True)
    class PluginB(PluginA):
        __replaces_registered__ = PluginA
        value: int = 0

    assert Plugin.__registry__ == {"a": PluginB}  # type: ignore[attr-defined]


def test_cache_error_is_a_registry_error_and_an_os_error() -> None:
    assert issubclass(CacheError, RegistryError) and issubclass(CacheError, OSError)
    with pytest.raises(CacheError, match="cache failed"):
        raise CacheError("cache failed")


WARM_REPLACEMENT = """
import json, sys
import {name} as root
{first}
registry = root.REGISTRY
print(json.dumps([registry["alpha"].__name__, registry.cache_state, sorted(registry)]))
"""


def test_a_replacement_holds_its_key_in_warm_processes_however_they_start(
    plugins: PluginTree, run_python: RunPython
) -> None:
    (plugins.package / "plugins" / "mod_fast.py").write_text(
        f"from {plugins.name}.plugins.mod_alpha import AlphaPlugin\n\n"
        "class FastAlpha(AlphaPlugin):\n"
        "    __replaces_registered__ = AlphaPlugin\n"
    )
    keys = ["alpha", "beta", "gpu_gamma"]
    plain = WARM_REPLACEMENT.format(name=plugins.name, first="")
    assert json.loads(run_python(plain, path=plugins.folder)) == [
        "FastAlpha",
        "miss: no record yet",
        keys,
    ]
    assert json.loads(run_python(plain, path=plugins.folder)) == ["FastAlpha", "hit", keys]
    # The replaced class's module imported first, before the registry read its index.
    first = f"import {plugins.module('mod_alpha')}"
    replaced_first = WARM_REPLACEMENT.format(name=plugins.name, first=first)
    assert json.loads(run_python(replaced_first, path=plugins.folder)) == ["FastAlpha", "hit", keys]


def test_restored_registry_frees_keys_and_puts_everything_back() -> None:
    from platekit.registry.testing import restored_registry

    primary = LazyDiscoveryDict()
    handlers = SecondaryRegistryDict(primary)

    class Plugin(metaclass=AutoRegisterMeta):
        __registry_config__ = RegistryConfig(
            registry_dict=primary,
            key_attribute="name",
            skip_if_no_key=True,
            secondary_registries=[SecondaryRegistry(handlers, PRIMARY_KEY, "handler")],
        )

    class PluginA(Plugin):
        name = "a"
        handler = int

    with restored_registry(Plugin, released=("a",)):

        class StandIn(Plugin):
            name = "a"
            handler = str

        class Extra(Plugin):
            name = "extra"

        assert primary == {"a": StandIn, "extra": Extra}
        assert handlers["a"] is str

    assert primary == {"a": PluginA}
    assert dict(handlers) == {"a": int}

    with restored_registry(Plugin), pytest.raises(DuplicateKeyError):

        class Unreleased(Plugin):
            name = "a"

    assert primary == {"a": PluginA}
