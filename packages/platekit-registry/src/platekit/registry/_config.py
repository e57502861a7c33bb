"""How a registry is declared: RegistryConfig, SecondaryRegistry and key extractors.

The field names and defaults are those of metaclass-registry 0.4.1, so its
declarations work unchanged; ``entry_point_group`` and ``metadata_attributes``
are platekit's additions. Plain classes rather than dataclasses: importing
``dataclasses`` would cost a warm start several milliseconds.
"""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    KeyExtractor = Callable[[str, type], Any]

#: ``SecondaryRegistry.key_source`` value meaning "the class's primary key".
PRIMARY_KEY = "primary"


class _Frozen:
    """Immutable after ``__init__``, compared and shown by its fields."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use .replace({name}=...)")

    def __eq__(self, other: object) -> bool:
        # The registry mapping compares by identity: two registries with equal
        # contents are still two registries (and comparing would import both).
        if type(other) is not type(self):
            return NotImplemented
        return all(
            getattr(self, f) is getattr(other, f)
            if f == "registry_dict"
            else getattr(self, f) == getattr(other, f)
            for f in self._fields
        )

    def __hash__(self) -> int:
        hashable: list[object] = []
        for field in self._fields:
            value = getattr(self, field)
            if field == "registry_dict":
                hashable.append(id(value))
            elif isinstance(value, (str, bool, int, tuple, type(None))):
                hashable.append(value)
        return hash(tuple(hashable))

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({shown})"

    def replace(self, **changes: "Any") -> "Any":
        """A copy with some fields changed."""
        unknown = set(changes) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        values = {f: getattr(self, f) for f in self._fields}
        values.update(changes)
        return type(self)(**values)

    def _set(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)


class SecondaryRegistry(_Frozen):
    """A second mapping filled as classes register in the primary one.

    For each registering class that has ``attr_name``, its value is stored in
    ``registry_dict`` under the class's primary key (``key_source=PRIMARY_KEY``)
    or under the value of the class attribute named ``key_source``.
    """

    __slots__ = ("attr_name", "key_source", "registry_dict")
    _fields = ("registry_dict", "key_source", "attr_name")

    registry_dict: "Mapping[Any, Any]"
    key_source: str
    attr_name: str

    def __init__(self, registry_dict: "Mapping[Any, Any]", key_source: str, attr_name: str) -> None:
        self._set(registry_dict=registry_dict, key_source=key_source, attr_name=attr_name)


class RegistryConfig(_Frozen):
    """Everything about one registry, declared on its root class as ``__registry_config__``.

    ``registry_dict``
        The mapping classes register into, usually ``LazyDiscoveryDict()``.
    ``key_attribute``
        The class attribute holding a class's key, e.g. ``"_backend_type"``.
    ``key_extractor``
        ``(class_name, cls) -> key`` for classes that do not set the attribute.
    ``skip_if_no_key``
        Leave keyless classes out (True) or raise ``ValueError`` for them.
    ``secondary_registries``
        :class:`SecondaryRegistry` entries filled alongside the primary one.
    ``log_registration``
        Log each registration at DEBUG.
    ``registry_name``
        The name people read in messages and in ``platekit registries``.
    ``discovery_package``
        The package whose modules are imported to find plugins (``None``: none).
    ``discovery_recursive``
        Walk subpackages too.
    ``discovery_function``
        Replaces the package walk: called as ``f(paths, prefix, root_class)``.
    ``entry_point_group``
        Entry-point group whose entry points are loaded as third-party plugins.
    ``metadata_attributes``
        Class attributes whose JSON values the cache records, so
        ``registry.metadata(key)`` reads them without importing the plugin.
    """

    __slots__ = (
        "discovery_function",
        "discovery_package",
        "discovery_recursive",
        "entry_point_group",
        "key_attribute",
        "key_extractor",
        "log_registration",
        "metadata_attributes",
        "registry_dict",
        "registry_name",
        "secondary_registries",
        "skip_if_no_key",
    )
    _fields = (
        "registry_dict",
        "key_attribute",
        "key_extractor",
        "skip_if_no_key",
        "secondary_registries",
        "log_registration",
        "registry_name",
        "discovery_package",
        "discovery_recursive",
        "discovery_function",
        "entry_point_group",
        "metadata_attributes",
    )

    registry_dict: "Mapping[Any, Any]"
    key_attribute: str
    key_extractor: "KeyExtractor | None"
    skip_if_no_key: bool
    secondary_registries: list[SecondaryRegistry] | None
    log_registration: bool
    registry_name: str
    discovery_package: str | None
    discovery_recursive: bool
    discovery_function: "Callable[..., Any] | None"
    entry_point_group: str | None
    metadata_attributes: tuple[str, ...]

    def __init__(
        self,
        registry_dict: "Mapping[Any, Any]",
        key_attribute: str,
        key_extractor: "KeyExtractor | None" = None,
        skip_if_no_key: bool = False,
        secondary_registries: "Iterable[SecondaryRegistry] | None" = None,
        log_registration: bool = True,
        registry_name: str = "plugin",
        discovery_package: str | None = None,
        discovery_recursive: bool = False,
        discovery_function: "Callable[..., Any] | None" = None,
        entry_point_group: str | None = None,
        metadata_attributes: "Iterable[str]" = (),
    ) -> None:
        if not isinstance(key_attribute, str) or not key_attribute:
            raise TypeError(f"key_attribute must name a class attribute, got {key_attribute!r}")
        if isinstance(metadata_attributes, str):
            raise TypeError(
                f"metadata_attributes must be a sequence of names, not the string "
                f"{metadata_attributes!r}; write ({metadata_attributes!r},)"
            )
        secondaries = None if secondary_registries is None else list(secondary_registries)
        for secondary in secondaries or ():
            if not isinstance(secondary, SecondaryRegistry):
                raise TypeError(
                    f"secondary_registries must hold SecondaryRegistry entries, got {secondary!r}"
                )
        self._set(
            registry_dict=registry_dict,
            key_attribute=key_attribute,
            key_extractor=key_extractor,
            skip_if_no_key=skip_if_no_key,
            secondary_registries=secondaries,
            log_registration=log_registration,
            registry_name=registry_name,
            discovery_package=discovery_package,
            discovery_recursive=discovery_recursive,
            discovery_function=discovery_function,
            entry_point_group=entry_point_group,
            metadata_attributes=tuple(metadata_attributes),
        )


class RegistryFamily(_Frozen):
    """A root's key axis in one object: ``__registry_family__ = RegistryFamily("_kind")``.

    The metaclass-registry 0.4.1 spelling of ``__registry_key__``,
    ``__skip_if_no_key__`` and ``__registry_name__`` together; the root gets those
    three attributes, and any of them set in the root's body wins over the family.
    ``key_attribute`` may be a :class:`RegistryKeyAttribute`.
    """

    __slots__ = ("key_attribute", "registry_name", "skip_if_no_key")
    _fields = ("key_attribute", "skip_if_no_key", "registry_name")

    key_attribute: str
    skip_if_no_key: bool
    registry_name: str | None

    def __init__(
        self, key_attribute: str, skip_if_no_key: bool = True, registry_name: str | None = None
    ) -> None:
        name = getattr(key_attribute, "value", key_attribute)
        if not isinstance(name, str) or not name:
            raise TypeError(f"key_attribute must name a class attribute, got {key_attribute!r}")
        self._set(
            key_attribute=key_attribute, skip_if_no_key=skip_if_no_key, registry_name=registry_name
        )

    @property
    def key_attribute_name(self) -> str:
        """The key attribute as a plain string."""
        name: str = getattr(self.key_attribute, "value", self.key_attribute)
        return name


def make_suffix_extractor(suffix: str) -> "KeyExtractor":
    """A key extractor that drops ``suffix`` and lower-cases the rest.

    ``make_suffix_extractor("Handler")("ImageXpressHandler", cls) == "imagexpress"``;
    a name without the suffix is only lower-cased.
    """

    def extract(name: str, cls: type) -> str:
        if suffix and name.endswith(suffix):
            name = name[: -len(suffix)]
        return name.lower()

    extract.__qualname__ = f"make_suffix_extractor({suffix!r})"
    return extract


def extract_key_from_class_name(name: str, cls: type) -> str:
    """Use the class name itself as the key."""
    return name


extract_key_from_handler_suffix = make_suffix_extractor("Handler")
extract_key_from_backend_suffix = make_suffix_extractor("Backend")
