"""Declaring registries: the metaclass-registry 0.4.1 spellings, keys, duplicates, secondaries."""

from __future__ import annotations

import dataclasses
import sys
import textwrap
import types
from abc import abstractmethod

import pytest

from platekit.registry import (
    PRIMARY_KEY,
    AutoRegisterMeta,
    DuplicateKeyError,
    DuplicateRegistryKeyError,
    LazyDiscoveryDict,
    RegistryConfig,
    RegistryError,
    SecondaryRegistry,
    SecondaryRegistryDict,
    make_suffix_extractor,
)


def test_registry_key_attribute_creates_a_lazy_registry() -> None:
    class StorageBackend(metaclass=AutoRegisterMeta):
        __registry_key__ = "_backend_type"
        _backend_type = None

    class Memory(StorageBackend):
        _backend_type = "memory"

    class NoKey(StorageBackend):
        pass

    assert isinstance(StorageBackend.__registry__, LazyDiscoveryDict)  # type: ignore[attr-defined]
    registry = StorageBackend.__registry__  # type: ignore[attr-defined]
    assert dict(registry) == {"memory": Memory}
    assert registry.name == "storage backend"
    assert NoKey not in registry.values()


def test_abstract_classes_do_not_register() -> None:
    class Handler(metaclass=AutoRegisterMeta):
        __registry_key__ = "_kind"

        @abstractmethod
        def parse(self) -> str: ...

    class Partial(Handler):
        _kind = "partial"  # still abstract: parse is not implemented

    class Complete(Partial):
        _kind = "complete"

        def parse(self) -> str:
            return "ok"

    assert list(Handler.__registry__) == ["complete"]  # type: ignore[attr-defined]


def test_registry_config_spelling_with_every_field() -> None:
    handlers = LazyDiscoveryDict(enable_cache=False)
    metadata = SecondaryRegistryDict(handlers)

    class MicroscopeHandler(metaclass=AutoRegisterMeta):
        __registry_config__ = RegistryConfig(
            registry_dict=handlers,
            key_attribute="_microscope_type",
            key_extractor=make_suffix_extractor("Handler"),
            skip_if_no_key=False,
            secondary_registries=[
                SecondaryRegistry(
                    registry_dict=metadata, key_source=PRIMARY_KEY, attr_name="_metadata_cls"
                )
            ],
            log_registration=True,
            registry_name="microscope handler",
            discovery_package=None,
            discovery_recursive=False,
            discovery_function=None,
            entry_point_group=None,
            metadata_attributes=("_extensions",),
        )

        @abstractmethod
        def parse(self) -> str: ...

    class ImageXpressMetadata:
        pass

    class ImageXpressHandler(MicroscopeHandler):
        _metadata_cls = ImageXpressMetadata
        _extensions = (".tif", ".HTD")

        def parse(self) -> str:
            return "ix"

    assert handlers["imagexpress"] is ImageXpressHandler
    assert ImageXpressHandler._microscope_type == "imagexpress"  # type: ignore[attr-defined]
    assert metadata["imagexpress"] is ImageXpressMetadata
    assert handlers.metadata("imagexpress") == {"_extensions": [".tif", ".HTD"]}
    assert handlers.config.registry_name == "microscope handler"
    assert handlers._config is handlers.config


def test_skip_if_no_key_false_requires_a_key() -> None:
    class Strict(metaclass=AutoRegisterMeta):
        __registry_config__ = RegistryConfig(
            registry_dict=LazyDiscoveryDict(), key_attribute="_kind", skip_if_no_key=False
        )

    with pytest.raises(ValueError, match="has no registry key: set _kind"):

        class Keyless(Strict):
            pass


def test_secondary_key_from_another_attribute() -> None:
    formats: dict[str, type] = {}

    class Reader(metaclass=AutoRegisterMeta):
        __registry_key__ = "_name"
        __secondary_registries__ = [SecondaryRegistry(formats, "_extension", "_reader_cls")]

    class TiffReader(Reader):
        _name = "tiff"
        _extension = ".tif"
        _reader_cls = object

    assert formats == {".tif": object}
    assert Reader.__registry__["tiff"] is TiffReader  # type: ignore[attr-defined]


def test_metaclass_subclass_with_registry_config_keyword() -> None:
    registry: dict[str, type] = {}
    config = RegistryConfig(registry_dict=registry, key_attribute="_ctx", skip_if_no_key=True)

    class ContextMeta(AutoRegisterMeta):
        def __new__(mcs, name, bases, attrs):  # type: ignore[no-untyped-def]
            return super().__new__(mcs, name, bases, attrs, registry_config=config)

    class Context(metaclass=ContextMeta):
        _ctx = None

    class Local(Context):
        _ctx = "local"

    assert registry == {"local": Local}


def test_metaclass_with_registry_dict_attribute() -> None:
    class PluginMeta(AutoRegisterMeta):
        __registry_dict__: dict[str, type] = {}
        __registry_key__ = "_plugin"

    class Plugin(metaclass=PluginMeta):
        pass

    class One(Plugin):
        _plugin = "one"

    assert PluginMeta.__registry_dict__ == {"one": One}


def test_suffix_extractor() -> None:
    extract = make_suffix_extractor("Handler")
    assert extract("ImageXpressHandler", object) == "imagexpress"
    assert extract("OperaPhenix", object) == "operaphenix"


def test_two_classes_claiming_one_key_name_both() -> None:
    class Root(metaclass=AutoRegisterMeta):
        __registry_key__ = "_kind"

    class First(Root):
        _kind = "same"

    with pytest.raises(DuplicateKeyError) as caught:

        class Second(Root):
            _kind = "same"

    message = str(caught.value)
    assert "First" in message and "Second" in message and __name__ in message
    assert isinstance(caught.value, (RegistryError, ValueError))
    assert DuplicateRegistryKeyError is DuplicateKeyError
    assert Root.__registry__["same"] is First  # type: ignore[attr-defined]


def test_rerunning_the_same_class_statement_is_not_a_duplicate() -> None:
    module = types.ModuleType("pk_reloaded")
    sys.modules["pk_reloaded"] = module
    source = textwrap.dedent(
        """
        from platekit.registry import AutoRegisterMeta

        class Root(metaclass=AutoRegisterMeta):
            __registry_key__ = "_kind"

        ROOT = Root
        """
    )
    plugin = "class Plugin(ROOT):\n    _kind = 'p'\n"
    try:
        exec(compile(source, "pk_reloaded.py", "exec"), module.__dict__)
        exec(compile(plugin, "pk_reloaded.py", "exec"), module.__dict__)
        first = module.Plugin
        exec(compile(plugin, "pk_reloaded.py", "exec"), module.__dict__)  # a reload
        assert module.Plugin is not first
        assert module.Root.__registry__["p"] is module.Plugin
    finally:
        del sys.modules["pk_reloaded"]


def test_dataclass_slots_rebuild_is_not_a_duplicate() -> None:
    class Root(metaclass=AutoRegisterMeta):
        __registry_key__ = "_kind"

    @dataclasses.dataclass(slots=True)
    class Slotted(Root):
        _kind = "slotted"
        value: int = 0

    assert Root.__registry__["slotted"] is Slotted  # type: ignore[attr-defined]
    assert Slotted(3).value == 3


def test_a_subclass_inheriting_a_registered_key_does_not_claim_it() -> None:
    class Root(metaclass=AutoRegisterMeta):
        __registry_key__ = "_kind"

    class Disk(Root):
        _kind = "disk"

    class CachedDisk(Disk):
        pass

    assert Root.__registry__["disk"] is Disk  # type: ignore[attr-defined]
    assert CachedDisk._kind == "disk"


def test_a_key_from_a_mixin_is_a_claim() -> None:
    class Root(metaclass=AutoRegisterMeta):
        __registry_key__ = "_kind"

    class ZarrMixin:
        _kind = "zarr"

    class Zarr(ZarrMixin, Root):
        pass

    assert Root.__registry__["zarr"] is Zarr  # type: ignore[attr-defined]


def test_manual_registration() -> None:
    registry = LazyDiscoveryDict()

    class Root(metaclass=AutoRegisterMeta):
        __registry_config__ = RegistryConfig(registry_dict=registry, key_attribute="_kind")

    class Outside:
        pass

    assert registry.register("outside", Outside) is Outside
    assert registry["outside"] is Outside
    with pytest.raises(DuplicateKeyError):
        registry.register("outside", type("Other", (), {}))


def test_unhashable_key_is_refused() -> None:
    class Root(metaclass=AutoRegisterMeta):
        __registry_key__ = "_kind"

    with pytest.raises(TypeError, match="must be hashable"):

        class Bad(Root):
            _kind = ["list"]  # type: ignore[assignment]


def test_config_is_immutable_and_validated() -> None:
    config = RegistryConfig(registry_dict={}, key_attribute="_kind")
    with pytest.raises(AttributeError, match="immutable"):
        config.registry_name = "x"  # type: ignore[misc]
    assert config.replace(registry_name="x").registry_name == "x"
    with pytest.raises(TypeError, match="not the string"):
        RegistryConfig(registry_dict={}, key_attribute="_kind", metadata_attributes="_label")
    with pytest.raises(TypeError, match="key_attribute"):
        RegistryConfig(registry_dict={}, key_attribute="")


def test_one_class_cannot_join_two_registries() -> None:
    class A(metaclass=AutoRegisterMeta):
        __registry_key__ = "_a"

    class B(metaclass=AutoRegisterMeta):
        __registry_key__ = "_b"

    with pytest.raises(TypeError, match="one registry only"):

        class Both(A, B):
            pass


def test_a_failed_class_statement_registers_nothing() -> None:
    formats: dict[str, type] = {}

    class Reader(metaclass=AutoRegisterMeta):
        __registry_key__ = "_name"
        __secondary_registries__ = [SecondaryRegistry(formats, "_extension", "_reader_cls")]

    with pytest.raises(ValueError, match="sets _reader_cls but not _extension"):

        class Incomplete(Reader):
            _name = "incomplete"
            _reader_cls = object

    assert "incomplete" not in Reader.__registry__  # type: ignore[attr-defined]
    assert formats == {}

    class First(Reader):
        _name = "first"
        _extension = ".a"
        _reader_cls = object

    with pytest.raises(DuplicateKeyError):

        class Clash(Reader):  # its secondary key is taken: the primary claim is undone
            _name = "clash"
            _extension = ".a"
            _reader_cls = int

    assert sorted(Reader.__registry__) == ["first"]  # type: ignore[attr-defined]
    assert formats == {".a": object}


def test_subclassing_a_class_keyed_by_a_mixin() -> None:
    class Root(metaclass=AutoRegisterMeta):
        __registry_key__ = "_kind"

    class ZarrMixin:
        _kind = "zarr"

    class Zarr(ZarrMixin, Root):
        pass

    class TunedZarr(Zarr):
        pass

    assert dict(Root.__registry__) == {"zarr": Zarr}  # type: ignore[attr-defined]


def test_a_plain_subclass_of_a_plugin_is_fine_even_when_keys_are_required() -> None:
    registry = LazyDiscoveryDict()

    class Backend(metaclass=AutoRegisterMeta):
        __registry_config__ = RegistryConfig(registry_dict=registry, key_attribute="_kind")

    class Disk(Backend):
        _kind = "disk"

    class CachedDisk(Disk):
        pass

    assert dict(registry) == {"disk": Disk}


def test_extractor_keys_are_derived_again_by_subclasses() -> None:
    class Handler(metaclass=AutoRegisterMeta):
        __registry_config__ = RegistryConfig(
            registry_dict=LazyDiscoveryDict(),
            key_attribute="_microscope_type",
            key_extractor=make_suffix_extractor("Handler"),
        )

    class OperaHandler(Handler):
        pass

    class OperettaHandler(OperaHandler):
        pass

    class Fixed(Handler):
        _microscope_type = "fixed"

    class FixedTuned(Fixed):
        pass

    assert sorted(Handler.__registry__) == ["fixed", "opera", "operetta"]  # type: ignore[attr-defined]


def test_equal_configs_hash_equal() -> None:
    shared: dict[str, type] = {}
    one = RegistryConfig(registry_dict=shared, key_attribute="_k", metadata_attributes=("a",))
    two = RegistryConfig(registry_dict=shared, key_attribute="_k", metadata_attributes=("a",))
    assert one == two and hash(one) == hash(two)
    other = RegistryConfig(registry_dict={}, key_attribute="_k", metadata_attributes=("a",))
    assert one != other  # a different registry is a different registry, even if empty


def test_plain_subclasses_with_any_mapping_registry() -> None:
    from collections import UserDict

    registry: UserDict[str, type] = UserDict()

    class Root(metaclass=AutoRegisterMeta):
        __registry_config__ = RegistryConfig(registry_dict=registry, key_attribute="_kind")

    class Disk(Root):
        _kind = "disk"

    class CachedDisk(Disk):
        pass

    assert dict(registry) == {"disk": Disk}
