"""AutoRegisterMeta: classes register themselves when their class statement runs."""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

import sys
from abc import ABCMeta

from platekit.registry._claims import (
    DECLARATION,
    DERIVED_KEY,
    REPLACES,
    check_claim,
    describe,
    same_declaration,
)
from platekit.registry._config import PRIMARY_KEY, RegistryConfig, RegistryFamily
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

    ``__registry_key__`` (or ``__registry_family__``) may also come from a
    plain mixin: each class of this metaclass that inherits it, and belongs
    to no registry yet, is the root of a registry of its own.

    A subclass registers under the value of the key attribute when it sets
    one (or under the key extractor's answer when it does not), unless it is
    abstract. Classes that inherit the key of a registered ancestor without
    setting their own do not register, unless they declare
    ``__replaces_registered__ = Ancestor``. Two different classes claiming one
    key raise :class:`DuplicateKeyError`; running the same class statement
    again (a reload, ``dataclass(slots=True)``) replaces the old class.
    """

    #: Whether a subclass that inherits a registered ancestor's key claims it
    #: (and so raises DuplicateKeyError) instead of being left out.
    _inherited_key_claims = False

    #: The registry a root declared by class attributes gets when it names none.
    _registry_type: "type[Any]" = LazyDiscoveryDict

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

        replaces = namespace.get(REPLACES)
        if replaces is not None and not isinstance(replaces, type):
            raise TypeError(
                f"{name}.{REPLACES} must be the registered class it replaces, got {replaces!r}"
            )
        config, is_root = _find_config(cls, bases, namespace, registry_config)
        if config is None:
            if replaces is not None:
                _replaces_nothing(cls, replaces, "belongs to no registry")
            return cls
        if is_root:
            if replaces is not None:
                _replaces_nothing(cls, replaces, "is the root of its registry")
            _install_root(cls, namespace, config)
            return cls
        if getattr(cls, "__abstractmethods__", None):
            if replaces is not None:
                _replaces_nothing(cls, replaces, "is abstract")
            return cls
        key = _claimed_key(cls, name, config, replaces)
        if key is None:
            if replaces is not None:
                _replaces_nothing(cls, replaces, "has no registry key")
            return cls
        if replaces is not None:
            check_replacement(cls, key, config.registry_dict, config.registry_name, replaces)
        elif _replaced_in_index(config.registry_dict, key, cls):
            # The index says a class declared to replace this one holds the key:
            # that class registers when its module is imported.
            return cls
        _register(cls, key, config, replaces)
        return cls

    @staticmethod
    def _register_class(cls: type, key: "Any", config: RegistryConfig) -> None:
        """Register ``cls`` under ``key`` as its class statement would have."""
        _register(cls, key, config, vars(cls).get(REPLACES))


def _replaces_nothing(cls: type, replaces: type, why: str) -> None:
    raise duplicate_error_for_replacement(
        cls,
        replaces,
        f"{cls.__qualname__} {why}, so it registers nothing and replaces nothing; "
        f"remove {REPLACES} or give it a key",
    )


def duplicate_error_for_replacement(value: "Any", replaces: "Any", why: str) -> "Exception":
    from platekit.registry._errors import DuplicateKeyError

    return DuplicateKeyError(
        f"{describe(value)} declares {REPLACES} = {describe(replaces)}, but {why}"
    )


def check_replacement(
    value: "Any", key: "Any", registry: "Any", registry_name: str, replaces: "Any"
) -> None:
    """A declared replacement must find what it names under its key.

    Raises :class:`DuplicateKeyError` when the key is free or held by another.
    """
    current = _holder(registry, key)
    if current is None and isinstance(registry, LazyDiscoveryDict):
        indexed = registry._indexed(key)
        if indexed is not None:
            own = f"{getattr(value, '__module__', '')}:{getattr(value, '__qualname__', '')}"
            if indexed == own:
                return  # a warm process: the index already names this class for the key
            current = indexed.replace(":", ".", 1)
    if current is None:
        raise duplicate_error_for_replacement(
            value,
            replaces,
            f"{registry_name} key {key!r} is not registered; give {_short(value)} the key of "
            f"the class it replaces, or remove {REPLACES}",
        )
    if current is not replaces and current is not value and not same_declaration(current, value):
        raise duplicate_error_for_replacement(
            value,
            replaces,
            f"{registry_name} key {key!r} is registered to {describe(current)}; name that "
            "class, or give this one a key of its own",
        )


def _short(value: "Any") -> str:
    return getattr(value, "__qualname__", None) or repr(value)


def _replaced_in_index(registry: "Any", key: "Any", cls: type) -> bool:
    return isinstance(registry, LazyDiscoveryDict) and registry._replaced_by_index(key, cls)


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
            f"{cls.__qualname__} inherits multiple registry configurations "
            f"({', '.join(repr(c.registry_name) for c in inherited)}); "
            "a class can belong to one registry only"
        )
    if inherited:
        return inherited[0], False
    metaclass_config = _metaclass_config(type(cls))
    if metaclass_config is not None:
        return metaclass_config, True
    if (
        _declared(cls, "__registry_key__") is not None
        or _declared(cls, "__registry_family__") is not None
    ):
        # In the class body or from a plain mixin: each such root gets a registry.
        return _config_from_attributes(cls, namespace), True
    return None, False


def _declared(cls: type, name: str, default: "Any" = None) -> "Any":
    """``name`` from the nearest class of the MRO whose body sets it (not the metaclass)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return default


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


# What a RegistryFamily supplies when no nearer class body sets the attribute.
_FAMILY_FIELDS = {
    "__registry_key__": lambda family: family.key_attribute_name,
    "__skip_if_no_key__": lambda family: family.skip_if_no_key,
    "__registry_name__": lambda family: family.registry_name,
}


def _family_attribute(cls: type, name: str, default: "Any" = None) -> "Any":
    """A declaration attribute: the nearest class body in the MRO that sets it, or
    sets a ``__registry_family__`` supplying it, wins; in one body, the attribute."""
    for klass in cls.__mro__:
        body = vars(klass)
        if name in body:
            return body[name]
        family = body.get("__registry_family__")
        if family is not None and name in _FAMILY_FIELDS:
            if not isinstance(family, RegistryFamily):
                raise TypeError(
                    f"{klass.__qualname__}.__registry_family__ must be a RegistryFamily, "
                    f"got {family!r}"
                )
            value = _FAMILY_FIELDS[name](family)
            if value is not None:
                return value
    return default


def _config_from_attributes(cls: type, namespace: "dict[str, Any]") -> RegistryConfig:
    """A RegistryConfig from the dunder attributes of a root class body and its mixins."""
    key_attribute = _family_attribute(cls, "__registry_key__")
    key_attribute = getattr(key_attribute, "value", key_attribute)  # a RegistryKeyAttribute
    if not isinstance(key_attribute, str):
        raise TypeError(
            f"{cls.__qualname__}.__registry_key__ must name the key attribute as a string, "
            f"got {key_attribute!r}"
        )
    # The registry itself only from the root's own body: a mixin's would be shared.
    registry = namespace.get("__registry__")
    if registry is None:
        registry = type(cls)._registry_type()  # type: ignore[attr-defined]
    skip_if_no_key = _family_attribute(cls, "__skip_if_no_key__", True)
    declared_name = _family_attribute(cls, "__registry_name__")
    config = RegistryConfig(
        registry_dict=registry,
        key_attribute=key_attribute,
        key_extractor=_declared(cls, "__key_extractor__"),
        skip_if_no_key=skip_if_no_key,
        secondary_registries=_declared(cls, "__secondary_registries__"),
        registry_name=declared_name or _registry_name_from(cls.__name__),
        discovery_package=_declared(cls, "__discovery_package__"),
        discovery_recursive=_declared(cls, "__discovery_recursive__", False),
        entry_point_group=_declared(cls, "__entry_point_group__"),
        metadata_attributes=_declared(cls, "__metadata_attributes__", ()),
    )
    # What the declaration resolved to, readable on the root (as a family installs it).
    if "__registry_key__" not in namespace:
        type.__setattr__(cls, "__registry_key__", key_attribute)
    if "__skip_if_no_key__" not in namespace:
        type.__setattr__(cls, "__skip_if_no_key__", skip_if_no_key)
    if declared_name is not None and "__registry_name__" not in namespace:
        type.__setattr__(cls, "__registry_name__", declared_name)
    return config


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
            f"{cls.__qualname__}.__registry__ must be the registry owned by its "
            "__registry_config__ (its registry_dict), or be left out"
        )
    type.__setattr__(cls, "__registry__", registry)
    type.__setattr__(cls, "__registry_config__", config)
    if isinstance(registry, LazyDiscoveryDict):
        registry._attach(cls, config)
    for secondary in config.secondary_registries or ():
        attach = getattr(secondary.registry_dict, "_attach_secondary", None)
        if attach is not None:
            attach(secondary.attr_name)


def _claimed_key(cls: type, name: str, config: RegistryConfig, replaces: type | None) -> "Any":
    """The key ``cls`` claims, or None when it claims none (and may skip)."""
    attribute = config.key_attribute
    key = getattr(cls, attribute, None)
    if key is not None and attribute not in vars(cls):
        holder = _holder(config.registry_dict, key)
        if isinstance(holder, type) and holder is not cls and issubclass(cls, holder):
            if config.key_extractor is not None and vars(holder).get(DERIVED_KEY):
                # A key the extractor gave the ancestor: this class derives its own.
                key = None
            elif replaces is None and not type(cls)._inherited_key_claims:  # type: ignore[attr-defined]
                # A subclass of a registered plugin inherits its key without claiming it.
                return None
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
            f"or make the class abstract (a {config.registry_name} class must have "
            f"{attribute} attribute set)"
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


def _register(cls: type, key: "Any", config: RegistryConfig, replaces: type | None) -> None:
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
    replaced = claim(registry, key, cls, config.registry_name, replaces=replaces)
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


def register_once(
    registry_dict: "Any",
    key: "Any",
    value: "Any",
    *,
    registry_name: str | None = None,
    replaces: "Any" = None,
    superseded_values: "tuple[Any, ...]" = (),
) -> "Any":
    """Store ``value`` under ``key`` in a registry filled by hand; a key never
    silently changes hands. Returns what ``value`` took the key from, or None.

    The same object again changes nothing. A class of the same declaration
    (see :func:`is_same_declaration`) takes the key from its earlier object.
    ``replaces`` names the value this one is declared to take over, and the
    key must hold exactly that; values in ``superseded_values`` may be taken
    over too. Anything else raises :class:`DuplicateKeyError`, naming both.
    ``registry_name`` is used in messages (default: the registry's own name,
    or ``"plugin"``).
    """
    name = registry_name or getattr(registry_dict, "name", None) or "plugin"
    if not isinstance(name, str):
        name = "plugin"
    current = _holder(registry_dict, key)
    if current is value and current is not None:
        return None
    if replaces is not None:
        check_replacement(value, key, registry_dict, name, replaces)
    elif current is not None and any(current is old for old in superseded_values):
        replaces = current
    return claim(registry_dict, key, value, name, replaces=replaces)
