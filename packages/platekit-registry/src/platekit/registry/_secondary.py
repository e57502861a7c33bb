"""SecondaryRegistryDict: a registry filled alongside a primary one, discovered with it."""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

from collections.abc import Iterator, MutableMapping

from platekit.registry._claims import check_claim
from platekit.registry._lazy import LazyDiscoveryDict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class SecondaryRegistryDict(MutableMapping):  # type: ignore[type-arg]
    """A secondary registry that discovers its primary on first access.

    ``METADATA_HANDLERS = SecondaryRegistryDict(MICROSCOPE_HANDLERS)``: values
    are filled as primary classes register; touching this mapping in a fresh
    process discovers (or warm-loads) the primary first, and ``[key]``
    imports only the module of the primary class that declared the value.
    """

    def __init__(self, primary_registry: LazyDiscoveryDict) -> None:
        if not isinstance(primary_registry, LazyDiscoveryDict):
            raise TypeError(
                "SecondaryRegistryDict wraps a LazyDiscoveryDict, got "
                f"{type(primary_registry).__name__}"
            )
        self._primary = primary_registry
        self._values: dict[Any, Any] = {}
        self._owners: dict[Any, Any] = {}
        self._attr_name: str | None = None

    def _attach_secondary(self, attr_name: str) -> None:
        self._attr_name = attr_name

    def _claim(
        self,
        key: "Any",
        value: "Any",
        registry_name: str,
        *,
        replaces: "Any" = None,
        owner: "Any" = None,
    ) -> "Any":
        current = self._values.get(key)
        check_claim(registry_name, key, current, value, replaces)
        self._values[key] = value
        if owner is not None:
            self._owners[key] = owner
        return current

    def _unclaim(self, key: "Any", value: "Any", previous: "Any") -> None:
        if self._values.get(key) is value:
            if previous is None:
                del self._values[key]
                self._owners.pop(key, None)
            else:
                self._values[key] = previous

    def _forget_owners(self, primary_keys: "list[Any]") -> None:
        """Drop the values that these primary keys declared."""
        for key, owner in list(self._owners.items()):
            if owner in primary_keys:
                self._values.pop(key, None)
                del self._owners[key]

    def __getitem__(self, key: "Any") -> "Any":
        self._primary._ensure()
        if key in self._values:
            return self._values[key]
        owner = self._primary._secondary_owner(self._attr_name, key)
        if owner is not None:
            self._primary[owner]
            if key in self._values:
                return self._values[key]
        known = ", ".join(sorted(map(str, self)))
        raise KeyError(f"no {self._attr_name or 'secondary'} entry {key!r}; known: {known}")

    def _keys(self) -> "list[Any]":
        keys = list(self._values)
        keys.extend(k for k in self._primary._secondary_keys(self._attr_name) if k not in keys)
        return keys

    def __iter__(self) -> "Iterator[Any]":
        self._primary._ensure()
        return iter(self._keys())

    def __len__(self) -> int:
        self._primary._ensure()
        return len(self._keys())

    def __contains__(self, key: object) -> bool:
        self._primary._ensure()
        return key in self._values or key in self._primary._secondary_keys(self._attr_name)

    def __setitem__(self, key: "Any", value: "Any") -> None:
        self._values[key] = value

    def __delitem__(self, key: "Any") -> None:
        del self._values[key]

    def __reduce__(self) -> "tuple[Any, tuple[Any, ...]]":
        root = self._primary._root
        if root is None or self._attr_name is None:
            raise TypeError("this SecondaryRegistryDict is not declared on any registry yet")
        return (secondary_of, (root, self._attr_name))

    def __repr__(self) -> str:
        return f"<SecondaryRegistryDict {self._attr_name!r} of {self._primary!r}>"


def secondary_of(root: type, attr_name: str) -> SecondaryRegistryDict:
    for secondary in root.__registry_config__.secondary_registries or ():  # type: ignore[attr-defined]
        if secondary.attr_name == attr_name:
            registry: SecondaryRegistryDict = secondary.registry_dict
            return registry
    raise LookupError(f"{root.__qualname__} has no secondary registry {attr_name!r}")
