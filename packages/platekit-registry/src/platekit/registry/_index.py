"""The index a registry keeps in the platekit cache, and how it is checked on reading."""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from platekit.registry._config import RegistryConfig

#: Bumped when the layout of the index changes.
INDEX_FORMAT = 3

# A class is indexed by its reference, "module:qualname" (the notation of entry
# points), under its origin: {origin: {key: reference}}. Strings only, so a warm
# start reads back two strings per key; metadata only for keys that have some.
# Each source file is in the record's stamps already (its package folder, or
# the files an entry point loaded), so entries do not repeat it.

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def index_name(root: type, config: "RegistryConfig") -> str:
    """The record name: root class module and qualified name, plus the registry name.

    Two packages that both call their registry "plugin" never share a file.
    """
    raw = f"registry.{root.__module__}.{root.__qualname__}.{config.registry_name}"
    name = "".join(c if c in _NAME_CHARS else "_" for c in raw)
    if len(name) > 180:
        import zlib

        name = f"{name[:170]}-{zlib.crc32(raw.encode()):08x}"
    return name


def index_version(config: "RegistryConfig", registry_version: str) -> str:
    """What the index depends on besides files: platekit-registry and the declaration.

    A changed key attribute, metadata attribute list, discovery package or
    entry-point group makes an index written under the old declaration a miss.
    """
    declaration = (
        config.key_attribute,
        config.metadata_attributes,
        config.discovery_package,
        config.discovery_recursive,
        config.entry_point_group,
    )
    return f"{registry_version}/{INDEX_FORMAT}/{declaration!r}"


def reference(cls: type) -> str:
    """``module:qualname``: where a fresh process finds the class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def split_reference(ref: str) -> tuple[str, str]:
    """``(module, qualified name)`` of a reference."""
    module, _, qualname = ref.partition(":")
    return module, qualname


def well_formed(ref: str) -> bool:
    """Whether a reference names a module and a class with dotted Python identifiers."""
    module, _, qualname = ref.partition(":")
    return all(part.isidentifier() for part in (*module.split("."), *qualname.split(".")))


def build_entries(
    classes: "list[tuple[Any, type]]", origins: dict[str, str], config: "RegistryConfig"
) -> "tuple[dict[str, dict[str, str]], dict[str, dict[str, Any]]]":
    """Index entries for the discovered classes that a fresh process can import by name:
    ``{origin: {key: reference}}``, and the metadata of the keys that have any.

    Classes registered by other modules (not found by discovery), classes
    defined inside functions, and keys that are not strings stay out: they
    exist in this process only.
    """
    groups: dict[str, dict[str, str]] = {}
    metadata: dict[str, dict[str, Any]] = {}
    for key, cls in classes:
        module_name = cls.__module__
        origin = origins.get(f"{module_name}:{cls.__qualname__}") or origin_of(module_name, origins)
        if origin is None or not isinstance(key, str) or "<locals>" in cls.__qualname__:
            continue
        module = sys.modules.get(module_name)
        file = getattr(module, "__file__", None)
        if file is not None and not os.path.exists(file):
            continue  # its file is gone: a fresh process could not import it
        groups.setdefault(origin, {})[key] = reference(cls)
        found = metadata_of(cls, config.metadata_attributes, config.registry_name)
        if found:
            metadata[key] = found
    return groups, metadata


def merged(groups: dict[str, dict[str, str]]) -> dict[str, str]:
    """Every key's reference, from the groups of ``build_entries``."""
    entries: dict[str, str] = {}
    for group in groups.values():
        entries.update(group)
    return entries


def build_secondary(
    config: "RegistryConfig", indexed: "dict[Any, Any]"
) -> "dict[str, dict[str, Any]]":
    """For each secondary registry: secondary key → the primary key that declared it."""
    sections: dict[str, dict[str, Any]] = {}
    for secondary in config.secondary_registries or ():
        owners = getattr(secondary.registry_dict, "_owners", None)
        if owners is not None:
            sections[secondary.attr_name] = {
                key: owner
                for key, owner in owners.items()
                if isinstance(key, str) and owner in indexed
            }
    return sections


def build_replaced(
    classes: "list[tuple[Any, type]]", indexed: "dict[Any, str]"
) -> "dict[str, list[str]]":
    """For each indexed key whose class declares ``__replaces_registered__``: the
    references of the classes it replaces, nearest first.

    A fresh process that imports a replaced class (the replacing class's module
    imports it) then knows to leave the key to the indexed class.
    """
    replaced: dict[str, list[str]] = {}
    for key, cls in classes:
        if key not in indexed or indexed[key] != reference(cls):
            continue
        chain: list[str] = []
        target = vars(cls).get("__replaces_registered__")
        while isinstance(target, type) and len(chain) < 100:
            chain.append(reference(target))
            target = vars(target).get("__replaces_registered__")
        if chain:
            replaced[key] = chain
    return replaced


def origin_of(module: str, origins: dict[str, str]) -> str | None:
    """The origin of the longest module prefix that ``module`` falls under."""
    best = None
    for prefix, origin in origins.items():
        if ":" in prefix:
            # A class entry point: its module's other classes are not its plugins.
            continue
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, origin)
    return best[1] if best else None


def metadata_of(cls: type, attributes: tuple[str, ...], registry_name: str) -> "dict[str, Any]":
    import json

    metadata = {}
    for attribute in attributes:
        if not hasattr(cls, attribute):
            continue
        value = getattr(cls, attribute)
        try:
            metadata[attribute] = json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError):
            from platekit.registry import _log

            _log.log(
                _log.WARNING,
                "%s registry: %s.%s = %r is not JSON data and is left out of its metadata",
                registry_name,
                cls.__qualname__,
                attribute,
                value,
            )
    return metadata


def read_index(items: "Any") -> tuple[dict[str, str], str | None]:
    """Every key's reference from an index read from the cache: ``(entries, None)``,
    or ``({}, what is wrong)`` for an index that cannot be used."""
    problem = check_index(items)
    if problem is not None:
        return {}, problem
    entries = merged(items["origins"])
    if len(entries) != sum(map(len, items["origins"].values())):
        return {}, "a key is indexed under two origins"
    return entries, None


def check_index(items: "Any") -> str | None:
    """What is wrong with the layout of an index read from the cache, or None."""
    if not isinstance(items, dict) or items.get("format") != INDEX_FORMAT:
        return "not an index of this format"
    origins = items.get("origins")
    if not isinstance(origins, dict):
        return "'origins' is not an object"
    for origin, group in origins.items():
        if not isinstance(group, dict):
            return f"the entries of {origin!r} are not an object"
        if not all(type(ref) is str and ":" in ref for ref in group.values()):
            return f"an entry of {origin!r} is not a 'module:qualname' reference"
    metadata = items.get("metadata")
    if not isinstance(metadata, dict) or not all(type(m) is dict for m in metadata.values()):
        return "'metadata' is malformed"
    secondary = items.get("secondary")
    if not isinstance(secondary, dict) or not all(isinstance(s, dict) for s in secondary.values()):
        return "'secondary' is malformed"
    replaced = items.get("replaced", {})
    if not isinstance(replaced, dict) or not all(
        isinstance(refs, list) and all(type(ref) is str for ref in refs)
        for refs in replaced.values()
    ):
        return "'replaced' is malformed"
    for listed in ("missing", "installed"):
        names = items.get(listed)
        if names is not None and not (
            isinstance(names, list) and all(type(name) is str for name in names)
        ):
            return f"{listed!r} is not a list of names"
    if ("missing" in items) != ("installed" in items):
        return "'missing' and 'installed' come together"
    errors = items.get("errors")
    if not isinstance(errors, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("module"), str)
        and isinstance(e.get("summary"), str)
        and isinstance(e.get("traceback"), str)
        and isinstance(e.get("keys", []), list)
        for e in errors
    ):
        return "'errors' is malformed"
    return None
