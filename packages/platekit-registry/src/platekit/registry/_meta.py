"""AutoRegisterMeta: classes register themselves when their class statement runs."""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

import sys
from abc import ABCMeta

from platekit.registry._claims import DECLARATION, DERIVED_KEY, check_claim
from platekit.registry._config import PRIMARY_KEY, RegistryConfig
from platekit.registry._lazy import LazyDiscoveryDict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class AutoRegisterMeta(ABCMeta):
    """Metaclass whose classes register in their root's registry when defined.

    A root class declares its registry in one of these ways (the spellings of
    metaclass-registry 0.4.1)::

        class StorageBackend(metaclass=AutoRegisterMeta):
            __registry_key__ = "_backend_type"        # gets __registry__ = LazyDiscoveryDict()

        class Handler(metaclass=AutoRegisterMeta):
            __registry_config__ = RegistryConfig(registry_dict=LazyDiscoveryDict(),
                                                 key_attribute="_microscope_type", ...)

    A subclass registers under the value of the key attribute when it sets
    one (or under the key extractor's answer when it does not), unless it is
    abstract. Classes that inherit the key of a registered ancestor without
    setting their own do not register. Two different classes claiming one
    key raise :class:`DuplicateKeyError`; running the same class statement
    again (a reload, ``dataclass(slots=True)``) replaces the old class.
    """

    def __new__(
        mcs,
        name: str,
        bases: tuple[type, ...],
        namespace: "dict[str, Any]",
        registry_config: RegistryConfig | None = None,
        **kwargs: "Any",
    ) -> "AutoRegisterMeta":
        declared = namespace.get("__registry_config__")
        if declared is not None:
            if not isinstance(declared, RegistryConfig):
                raise TypeError(
                    f"{name}.__registry_config__ must be a RegistryConfig, got {declared!r}"
                )
            if registry_config is not None and registry_config is not declared:
                raise ValueError(
                    f"{name} declares __registry_config__ and is also given registry_config=; "
                    "keep one of them"
                )
            registry_config = declared

        cls = super().__new__(mcs, name, bases, namespace, **kwargs)

        config, is_root = _find_config(cls, bases, namespace, registry_config)
        if config is None:
            return cls
        if is_root:
            _install_root(cls, namespace, config)
            return cls
        if getattr(cls, "__abstractmethods__", None):
            return cls
        key = _claimed_key(cls, name, config)
        if key is None:
            return cls
        _register(cls, key, config)
        return cls


def _find_config(
    cls: type, bases: tuple[type, ...], namespace: "dict[str, Any]", given: RegistryConfig | None
) -> tuple[RegistryConfig | None, bool]:
    """The registry a class belongs to, and whether the class is its root.

    The root is the first class of a registry: none of its bases belongs to it.
    """
    inherited: list[RegistryConfig] = []
    for base in bases:
        config = getattr(base, "__registry_config__", None)
        if isinstance(config, RegistryConfig) and all(config is not c for c in inherited):
            inherited.append(config)
    if given is not None:
        return given, not inherited
    if len(inherited) > 1:
        raise TypeError(
            f"{cls.__qualname__} inherits from {len(inherited)} registries "
            f"({', '.join(repr(c.registry_name) for c in inherited)}); "
            "a class can belong to one registry only"
        )
    if inherited:
        return inherited[0], False
    metaclass_config = _metaclass_config(type(cls))
    if metaclass_config is not None:
        return metaclass_config, True
    if "__registry_key__" in namespace:
        return _config_from_attributes(cls, namespace), True
    return None, False


def _metaclass_config(meta: type) -> RegistryConfig | None:
    """The older spelling: a metaclass subclass carrying ``__registry_dict__``."""
    registry = getattr(meta, "__registry_dict__", None)
    if registry is None:
        return None
    config = meta.__dict__.get("_platekit_config")
    if config is None:
        config = RegistryConfig(
            registry_dict=registry,
            key_attribute=getattr(meta, "__registry_key__", "_registry_key"),
            key_extractor=getattr(meta, "__key_extractor__", None),
            skip_if_no_key=getattr(meta, "__skip_if_no_key__", True),
            secondary_registries=getattr(meta, "__secondary_registries__", None),
            registry_name=getattr(meta, "__registry_name__", None) or "plugin",
        )
        type.__setattr__(meta, "_platekit_config", config)
    return config


def _config_from_attributes(cls: type, namespace: "dict[str, Any]") -> RegistryConfig:
    """A RegistryConfig from the dunder attributes of a root class body."""
    key_attribute = namespace["__registry_key__"]
    if not isinstance(key_attribute, str):
        raise TypeError(
            f"{cls.__qualname__}.__registry_key__ must name the key attribute as a string, "
            f"got {key_attribute!r}"
        )
    registry = namespace.get("__registry__")
    if registry is None:
        registry = LazyDiscoveryDict()
    return RegistryConfig(
        registry_dict=registry,
        key_attribute=key_attribute,
        key_extractor=namespace.get("__key_extractor__"),
        skip_if_no_key=namespace.get("__skip_if_no_key__", True),
        secondary_registries=namespace.get("__secondary_registries__"),
        registry_name=namespace.get("__registry_name__") or _registry_name_from(cls.__name__),
        discovery_package=namespace.get("__discovery_package__"),
        discovery_recursive=namespace.get("__discovery_recursive__", False),
        entry_point_group=namespace.get("__entry_point_group__"),
        metadata_attributes=namespace.get("__metadata_attributes__", ()),
    )


def _registry_name_from(class_name: str) -> str:
    """``StorageBackendBase`` → ``storage backend``."""
    for suffix in ("Base", "Meta", "Registry"):
        if class_name.endswith(suffix) and len(class_name) > len(suffix):
            class_name = class_name[: -len(suffix)]
            break
    words: list[str] = []
    for char in class_name:
        if char.isupper() and words:
            words.append(" ")
        words.append(char.lower())
    return "".join(words)


def _install_root(cls: type, namespace: "dict[str, Any]", config: RegistryConfig) -> None:
    registry = config.registry_dict
    if "__registry__" in namespace and namespace["__registry__"] is not registry:
        raise ValueError(
            f"{cls.__qualname__}.__registry__ must be the registry of its __registry_config__"
        )
    type.__setattr__(cls, "__registry__", registry)
    type.__setattr__(cls, "__registry_config__", config)
    if "__registry_key__" not in namespace:
        type.__setattr__(cls, "__registry_key__", config.key_attribute)
    if isinstance(registry, LazyDiscoveryDict):
        registry._attach(cls, config)
    for secondary in config.secondary_registries or ():
        attach = getattr(secondary.registry_dict, "_attach_secondary", None)
        if attach is not None:
            attach(secondary.attr_name)


def _claimed_key(cls: type, name: str, config: RegistryConfig) -> "Any":
    """The key ``cls`` claims, or None when it claims none (and may skip)."""
    attribute = config.key_attribute
    key = getattr(cls, attribute, None)
    if key is not None and attribute not in vars(cls):
        holder = _holder(config.registry_dict, key)
        if isinstance(holder, type) and holder is not cls and issubclass(cls, holder):
            # A subclass of a registered plugin inherits its key without claiming
            # it; with a key extractor it derives its own unless the key was declared.
            if config.key_extractor is None or not vars(holder).get(DERIVED_KEY):
                return None
            key = None
    if key is None and config.key_extractor is not None:
        key = config.key_extractor(name, cls)
        if key is not None:
            type.__setattr__(cls, attribute, key)
            type.__setattr__(cls, DERIVED_KEY, True)
    if key is None:
        if config.skip_if_no_key:
            return None
        raise ValueError(
            f"{cls.__module__}.{cls.__qualname__} has no registry key: set {attribute} "
            f"in its class body, give the {config.registry_name} registry a key_extractor, "
            "or make the class abstract"
        )
    try:
        hash(key)
    except TypeError:
        raise TypeError(
            f"{cls.__qualname__}.{attribute} = {key!r} cannot be a registry key: "
            "keys must be hashable (a string, usually)"
        ) from None
    return key


def _holder(registry: "Mapping[Any, Any]", key: "Any") -> "Any":
    """The class registered under ``key``, looked up without discovering."""
    if isinstance(registry, LazyDiscoveryDict):
        return registry._loaded(key)
    get = getattr(registry, "get", None)
    return get(key) if get is not None else None


def _register(cls: type, key: "Any", config: RegistryConfig) -> None:
    """Register ``cls`` and its secondary values, all or nothing."""
    secondaries = []
    for secondary in config.secondary_registries or ():
        value = getattr(cls, secondary.attr_name, None)
        if value is None:
            continue
        if secondary.key_source == PRIMARY_KEY:
            secondary_key = key
        else:
            secondary_key = getattr(cls, secondary.key_source, None)
            if secondary_key is None:
                raise ValueError(
                    f"{cls.__qualname__} sets {secondary.attr_name} but not "
                    f"{secondary.key_source}, the key of that secondary registry"
                )
        secondaries.append((secondary, secondary_key, value))
    registry = config.registry_dict
    replaced = claim(registry, key, cls, config.registry_name)
    done: list[tuple[Any, Any, Any, Any]] = [(registry, key, cls, replaced)]
    try:
        for secondary, secondary_key, value in secondaries:
            previous = getattr(replaced, secondary.attr_name, None) if replaced else None
            label = (
                f"{secondary.attr_name} (secondary registry of the {config.registry_name} registry)"
            )
            before = claim(
                secondary.registry_dict, secondary_key, value, label, replaces=previous, owner=key
            )
            done.append((secondary.registry_dict, secondary_key, value, before))
    except BaseException:
        for mapping, done_key, value, before in reversed(done):
            unclaim(mapping, done_key, value, before)
        raise
    if DECLARATION not in vars(cls):
        type.__setattr__(cls, DECLARATION, object())
    if config.log_registration and "logging" in sys.modules:
        # Without logging loaded no handler exists: skip the import altogether.
        from platekit.registry import _log

        _log.debug(
            "registered %s.%s as %r %s", cls.__module__, cls.__qualname__, key, config.registry_name
        )


def claim(
    registry: "Any",
    key: "Any",
    value: "Any",
    registry_name: str,
    *,
    replaces: "Any" = None,
    owner: "Any" = None,
) -> "Any":
    """Store ``value`` under ``key``; return what it replaced (a re-declaration).

    Raises :class:`DuplicateKeyError` when another declaration holds the key.
    """
    # LazyDiscoveryDict and SecondaryRegistryDict check claims themselves.
    own_claim = getattr(registry, "_claim", None)
    if own_claim is not None:
        return own_claim(key, value, registry_name, replaces=replaces, owner=owner)
    current = registry.get(key)
    check_claim(registry_name, key, current, value, replaces)
    registry[key] = value
    return current


def unclaim(registry: "Any", key: "Any", value: "Any", previous: "Any") -> None:
    """Undo :func:`claim`: put back what ``key`` held before ``value`` took it."""
    own_unclaim = getattr(registry, "_unclaim", None)
    if own_unclaim is not None:
        own_unclaim(key, value, previous)
    elif registry.get(key) is value:
        if previous is None:
            del registry[key]
        else:
            registry[key] = previous
