"""metaclass-registry 0.4.1's cache helpers: a JSON cache of named items, and stamps.

These are for caches you build yourself. platekit's registries (this
package's ``LazyDiscoveryDict`` included) keep their index through
platekit-cache instead. The files live in platekit's cache folder for this
Python environment, under ``metaclass-registry/``, and are written atomically.

A cache is a miss (``load_cache()`` returns ``None``) when it is missing or
unreadable (an unreadable file is deleted), when its ``cache_version`` or
``version`` differ, when it is older than ``max_age_days``, when
``check_mtimes`` is on and a recorded file changed (any mtime change) or
vanished or, with a ``file_mtimes_getter``, a file was added, and when an
item cannot be deserialized. ``save_cache`` writes nothing when an item cannot
be serialized: an incomplete cache would pass for a complete one.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Generic, TypeVar

from platekit.cache import environment_dir

__all__ = [
    "CacheConfig",
    "RegistryCacheManager",
    "deserialize_plugin_class",
    "get_cache_file_path",
    "get_package_file_mtimes",
    "serialize_plugin_class",
]

T = TypeVar("T")

_SECONDS_PER_DAY = 86400.0


def _log(message: str, *args: object) -> None:
    import logging

    logging.getLogger("platekit.registry").warning(message, *args)


def get_cache_file_path(cache_name: str, *, create: bool = True) -> Path:
    """Where the cache file ``cache_name`` lives: ``<platekit cache for this
    environment>/metaclass-registry/<cache_name>``; the folder is made unless
    ``create`` is false."""
    folder = environment_dir() / "metaclass-registry"
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder / cache_name


@dataclass(frozen=True)
class CacheConfig:
    """How a :class:`RegistryCacheManager` validates its file."""

    #: A cache older than this is a miss.
    max_age_days: int = 7
    #: Compare the recorded files' mtimes with the current ones.
    check_mtimes: bool = False
    #: The layout version of the cache file; another one is a miss.
    cache_version: str = "1.0"


class RegistryCacheManager(Generic[T]):
    """A JSON cache of ``{key: item}``, with version, age and file checks.

    ``serializer(item)`` turns an item into JSON data and ``deserializer(data)``
    back; ``version_getter()`` names what produced the items (a change is a
    miss); ``file_mtimes_getter()``, when given, lists the source files that
    exist now, so that added files make the cache stale too.
    """

    def __init__(
        self,
        cache_name: str,
        version_getter: Any,
        serializer: Any,
        deserializer: Any,
        config: CacheConfig | None = None,
        file_mtimes_getter: Any = None,
    ) -> None:
        self.cache_name = cache_name
        self.version_getter = version_getter
        self.serializer = serializer
        self.deserializer = deserializer
        self.config = config or CacheConfig()
        self.file_mtimes_getter = file_mtimes_getter
        self._cache_path = get_cache_file_path(f"{cache_name}.json", create=False)

    def load_cache(self) -> dict[Any, T] | None:
        """The cached items, or ``None`` when the cache is missing, stale or unreadable."""
        path = self._cache_path
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(record, dict) or not isinstance(record.get("item_entries"), list):
                raise ValueError("not a cache record")
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            return None
        if self._stale(record):
            return None
        items: dict[Any, T] = {}
        try:
            for encoded_key, data in record["item_entries"]:
                items[_decode_key(encoded_key)] = self.deserializer(data)
        except Exception as exc:
            _log("cache %s: an item could not be restored (%s); it is rebuilt", path, exc)
            return None
        return items

    def _stale(self, record: dict[str, Any]) -> bool:
        if record.get("cache_version") != self.config.cache_version:
            return True
        if record.get("version") != self.version_getter():
            return True
        stamp = record.get("timestamp")
        if not isinstance(stamp, (int, float)) or not math.isfinite(stamp):
            return True
        age = time.time() - stamp
        if age < 0 or age > self.config.max_age_days * _SECONDS_PER_DAY:
            return True
        if self.config.check_mtimes:
            recorded = record.get("file_mtimes") or {}
            if self.file_mtimes_getter is not None and set(self.file_mtimes_getter()) != set(
                recorded
            ):
                return True
            for file, mtime in recorded.items():
                try:
                    if os.stat(file).st_mtime != mtime:
                        return True
                except OSError:
                    return True
        return False

    def save_cache(self, items: dict[Any, T], file_mtimes: dict[str, float] | None = None) -> None:
        """Write ``items`` (and the files' mtimes) to the cache; never raises."""
        entries = []
        try:
            for key, item in items.items():
                entries.append([_encode_key(key), self.serializer(item)])
            record = {
                "cache_version": self.config.cache_version,
                "version": self.version_getter(),
                "timestamp": time.time(),
                "file_mtimes": dict(file_mtimes or {}),
                "item_entries": entries,
            }
            text = json.dumps(record)
        except Exception as exc:
            _log("cache %s not written: an item could not be saved (%s)", self._cache_path, exc)
            return
        path = self._cache_path
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(text, encoding="utf-8")
            os.replace(temp, path)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            _log("cache %s not written: %s", path, exc)

    def clear_cache(self) -> None:
        """Delete the cache file, if there is one."""
        self._cache_path.unlink(missing_ok=True)


def _encode_key(key: Any) -> Any:
    """A key as JSON: strings, numbers, booleans and None as themselves (tagged),
    tuples element by element, enum members by their class and name."""
    if key is None or (isinstance(key, (str, bool, int, float)) and not isinstance(key, Enum)):
        return ["v", key]
    if isinstance(key, tuple):
        return ["t", [_encode_key(part) for part in key]]
    if isinstance(key, Enum):
        cls = type(key)
        return ["e", f"{cls.__module__}:{cls.__qualname__}", key.name]
    raise TypeError(f"a cache key must be a string, number, tuple or enum member, got {key!r}")


def _decode_key(encoded: Any) -> Any:
    tag = encoded[0]
    if tag == "v":
        return encoded[1]
    if tag == "t":
        return tuple(_decode_key(part) for part in encoded[1])
    if tag == "e":
        module, _, qualname = encoded[1].partition(":")
        enum_type: Any = deserialize_plugin_class({"module": module, "qualname": qualname})
        return enum_type[encoded[2]]
    raise ValueError(f"unknown cache key {encoded!r}")


def serialize_plugin_class(plugin_class: type) -> dict[str, Any]:
    """``{"module", "class_name", "qualname"}``: where a fresh process finds the class."""
    return {
        "module": plugin_class.__module__,
        "class_name": plugin_class.__name__,
        "qualname": plugin_class.__qualname__,
    }


def deserialize_plugin_class(data: dict[str, Any]) -> type:
    """The class :func:`serialize_plugin_class` described, imported by module and
    qualified name. Raises ``ImportError``, ``AttributeError`` or ``TypeError``."""
    module_name = data["module"]
    qualname = data.get("qualname") or data["class_name"]
    if "<locals>" in qualname:
        raise TypeError(f"{module_name}.{qualname} is defined in a function and cannot be restored")
    __import__(module_name)
    target: Any = sys.modules[module_name]
    for part in qualname.split("."):
        target = getattr(target, part)
    if not isinstance(target, type):
        raise TypeError(f"{module_name}.{qualname} is not a class")
    return target


def get_package_file_mtimes(package_path: str, *, recursive: bool = True) -> dict[str, float]:
    """``{source file: mtime}`` for a module or a package (imported to find it).

    A module gives its own file; a package every ``.py`` file in its folders,
    with ``recursive`` those of its subpackages too (without it, only the
    subpackages' ``__init__.py``). Raises ``ModuleNotFoundError`` for a
    package that does not exist.
    """
    __import__(package_path)
    module = sys.modules[package_path]
    paths = getattr(module, "__path__", None)
    if paths is None:
        file = getattr(module, "__file__", None)
        return {file: os.stat(file).st_mtime} if file else {}
    found: dict[str, float] = {}
    for folder in paths:
        _stamp_folder(folder, recursive, found)
    return found


def _stamp_folder(folder: str, recursive: bool, found: dict[str, float]) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_file() and entry.name.endswith(".py"):
            found[entry.path] = entry.stat().st_mtime
        elif entry.is_dir() and entry.name != "__pycache__" and "." not in entry.name:
            if recursive:
                _stamp_folder(entry.path, recursive, found)
            else:
                init = os.path.join(entry.path, "__init__.py")
                if os.path.isfile(init):
                    found[init] = os.stat(init).st_mtime
