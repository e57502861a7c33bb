"""One validated JSON record, written atomically: the store under every platekit cache.

A record file holds::

    {"cache_version": 2, "version": "...", "timestamp": 1763700000.0,
     "max_age_days": 7, "files": {"/abs/path.py": [mtime_ns, size]},
     "folders": {"/abs/package": {"recursive": false, "files": ["a.py", mtime_ns, size]}},
     "items": ...}

Reading it never raises: anything wrong with the file, or anything that makes
it stale, is a miss with a reason, and the caller rebuilds.
"""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

import json
import math
import os
import threading
import time

from platekit.cache._paths import environment_root
from platekit.cache._stamps import (
    file_stamps,
    files_changed,
    folder_stamps,
    folders_changed,
    stamp_problem,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path
    from typing import Any

    FileList = Callable[[], Iterable[str | os.PathLike[str]]]
    FolderList = Callable[[], Iterable[tuple[str | os.PathLike[str], bool]]]

#: Version of the record layout; a record of another layout is a miss.
#: 2: package folders are stamped as a whole ("folders").
CACHE_FORMAT_VERSION = 2

#: Environment variable that turns every registry cache off.
DISABLE_ENV = "PLATEKIT_DISABLE_REGISTRY_CACHE"

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_MAX_NAME_LENGTH = 200
_SECONDS_PER_DAY = 86400.0
_INFINITY = float("inf")

# Folders found unwritable in this process, with the reason. Keyed by folder so
# that one bad folder switches caching off without warning again and again.
_unwritable: dict[str, str] = {}
_unwritable_lock = threading.Lock()
# Numbers temporary files apart.
_temp_numbers = [0]
_temp_lock = threading.Lock()


DEBUG = 10
WARNING = 30


def _log() -> "Any":
    """The logging helper, imported on a miss or a failure, never on a hit."""
    from platekit.cache import _log as log

    return log


def caching_disabled_by_env() -> bool:
    """True when ``PLATEKIT_DISABLE_REGISTRY_CACHE`` asks for no caching."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() in _TRUE_WORDS


def check_name(name: object) -> str:
    """Return ``name`` if it can name a record file, else raise ``ValueError``."""
    if (
        not isinstance(name, str)
        or not name
        or name[0] == "."
        or len(name) > _MAX_NAME_LENGTH
        or not _NAME_CHARS.issuperset(name)
    ):
        raise ValueError(
            f"cache record name {name!r} cannot name a file: use 1 to {_MAX_NAME_LENGTH} "
            "letters, digits, '.', '_' or '-', not starting with '.'"
        )
    return name


class CacheLookup:
    """What :meth:`RegistryCacheManager.lookup` found.

    ``hit`` is true when ``items`` may be used; otherwise ``reason`` says why
    not, and ``damaged`` tells whether the file itself was unreadable or
    malformed (as opposed to valid but stale, absent or switched off).
    """

    __slots__ = ("damaged", "items", "reason")

    def __init__(self, items: "Any" = None, reason: str | None = None, damaged: bool = False):
        self.items = items
        self.reason = reason
        self.damaged = damaged

    @property
    def hit(self) -> bool:
        return self.reason is None

    def __repr__(self) -> str:
        if self.hit:
            return "CacheLookup(hit)"
        return f"CacheLookup(miss: {self.reason})"


class RegistryCacheManager:
    """A named, versioned record in this environment's cache folder.

    ``version`` is the version of whatever produced the items; a record written
    by another version is a miss. ``max_age_days`` bounds a record's age.
    ``files``, when given, is called to list the files whose edits make the
    record stale: their nanosecond mtimes and sizes are stored on :meth:`save`
    and compared on :meth:`load`, and a file that vanished or joined the list
    is a miss too. ``folders``, when given, is called to list Python package
    folders as ``(folder, recursive)`` pairs: every module in them is stamped
    the same way (every ``.py`` file, and each subfolder's ``__init__.py`` or,
    when recursive, all its ``.py`` files), so a module added, removed or
    edited is a miss, for the cost of one listing and one ``stat`` per module.

    Neither :meth:`load` nor :meth:`save` raises for anything found on disk.
    When the folder cannot be written, caching is off for the rest of the
    process (one WARNING), and :meth:`load` misses from then on.

    Raises ``ValueError`` when ``name`` cannot name a file or ``max_age_days``
    is not a positive number.
    """

    def __init__(
        self,
        name: str,
        *,
        version: str,
        max_age_days: float = 7,
        files: "FileList | None" = None,
        folders: "FolderList | None" = None,
    ) -> None:
        self.name = check_name(name)
        if not isinstance(version, str):
            raise TypeError(f"cache version must be a string, got {version!r}")
        if (
            isinstance(max_age_days, bool)
            or not isinstance(max_age_days, (int, float))
            or not max_age_days > 0
            or max_age_days == _INFINITY
        ):
            raise ValueError(
                f"max_age_days must be a positive, finite number of days, got {max_age_days!r}"
            )
        self.version = version
        self.max_age_days = max_age_days
        self._files = files
        self._folders = folders

    def __repr__(self) -> str:
        return f"RegistryCacheManager({self.name!r}, version={self.version!r})"

    # -- where -----------------------------------------------------------------

    def _path_str(self) -> str:
        return os.path.join(environment_root(), self.name + ".json")

    @property
    def path(self) -> "Path":
        """The record's file (it may not exist yet)."""
        from pathlib import Path

        return Path(self._path_str())

    @property
    def _cache_path(self) -> "Path":
        # The name older troubleshooting guides print.
        return self.path

    # -- reading ---------------------------------------------------------------

    def load(self) -> "Any":
        """The stored items when the record is valid, else ``None``."""
        return self.lookup().items

    def lookup(self) -> CacheLookup:
        """Read and validate the record; a miss carries its reason and is logged once."""
        path = self._path_str()
        found = self._read(path)
        if not found.hit:
            if found.damaged:
                _log().log(
                    WARNING,
                    "platekit cache record %s is damaged (%s); it will be rebuilt",
                    path,
                    found.reason,
                )
            else:
                _log().log(DEBUG, "platekit cache miss for %r: %s", self.name, found.reason)
        return found

    def _read(self, path: str) -> CacheLookup:
        off = self._off_reason(os.path.dirname(path))
        if off is not None:
            return CacheLookup(reason=off)
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return CacheLookup(reason="no record yet")
        except NotADirectoryError as exc:
            # A file stands where a folder should be: no record can be there, and
            # the first save says so in its warning. The record is not damaged.
            return CacheLookup(reason=f"no record: the cache folder cannot exist ({exc})")
        except OSError as exc:
            return CacheLookup(reason=f"cannot be read: {exc}", damaged=True)
        record, problem = parse_record(raw)
        if record is None:
            return CacheLookup(reason=problem, damaged=True)
        stale = self._staleness(record)
        if stale is not None:
            # Stamps are checked for shape only on a miss: on a hit they equal
            # the ones just taken, which are well formed.
            malformed = stamp_problem(record)
            if malformed is not None:
                return CacheLookup(reason=malformed, damaged=True)
            return CacheLookup(reason=stale)
        return CacheLookup(items=record["items"])

    def _staleness(self, record: "dict[str, Any]") -> str | None:
        if record["cache_version"] != CACHE_FORMAT_VERSION:
            return (
                f"written in cache format {record['cache_version']}, "
                f"this is format {CACHE_FORMAT_VERSION}"
            )
        if record["version"] != self.version:
            return f"written for version {record['version']!r}, this is {self.version!r}"
        age = time.time() - record["timestamp"]
        if age < 0:
            return "its timestamp lies in the future"
        if age > self.max_age_days * _SECONDS_PER_DAY:
            return f"{age / _SECONDS_PER_DAY:.1f} days old, older than {self.max_age_days} days"
        if self._files is not None:
            try:
                current = file_stamps(self._files())
            except Exception as exc:
                return f"the list of files to check failed: {exc!r}"
            changed = files_changed(record["files"], current)
            if changed is not None:
                return changed
        if self._folders is not None:
            try:
                folders = folder_stamps(self._folders())
            except Exception as exc:
                return f"the list of folders to check failed: {exc!r}"
            changed = folders_changed(record.get("folders", {}), folders)
            if changed is not None:
                return changed
        extra = record.get("extra_files", {})
        return files_changed(extra, file_stamps(extra))

    # -- writing ---------------------------------------------------------------

    def save(self, items: "Any", *, extra_files: "Iterable[str | os.PathLike[str]]" = ()) -> bool:
        """Store ``items`` (JSON data) atomically; return whether it was written.

        ``extra_files`` are files found while producing the items (a plugin's
        module, say) that ``files`` cannot list beforehand: the record is a
        miss once one of them changes or vanishes.

        Raises ``TypeError`` when ``items`` is not JSON data. Returns ``False``,
        without raising, when caching is off or the folder cannot be written.
        """
        path = self._path_str()
        folder = os.path.dirname(path)
        if self._off_reason(folder) is not None:
            return False
        try:
            files = file_stamps(self._files()) if self._files is not None else {}
            folders = folder_stamps(self._folders()) if self._folders is not None else None
        except Exception as exc:
            _log().log(
                WARNING,
                "platekit cache record %r not saved: its list of files or folders failed: %r",
                self.name,
                exc,
            )
            return False
        record = {
            "cache_version": CACHE_FORMAT_VERSION,
            "version": self.version,
            "timestamp": time.time(),
            "max_age_days": self.max_age_days,
            "files": files,
            "items": items,
        }
        if folders is not None:
            record["folders"] = folders
        extra = file_stamps(extra_files)
        if extra:
            record["extra_files"] = extra
        try:
            text = json.dumps(record, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"cannot cache {self.name!r}: its items are not JSON data ({exc}); "
                "store only dicts with string keys, lists, strings, finite numbers, "
                "booleans and None"
            ) from exc
        try:
            write_atomically(path, text)
        except OSError as exc:
            _switch_off(folder, exc)
            return False
        return True

    def clear(self) -> None:
        """Delete the record, if there is one."""
        try:
            os.unlink(self._path_str())
        except FileNotFoundError:
            pass

    # -- helpers ---------------------------------------------------------------

    def _off_reason(self, folder: str) -> str | None:
        if caching_disabled_by_env():
            return f"caching is disabled by {DISABLE_ENV}"
        return _unwritable.get(folder)


_FIELD_TYPES = (
    ("cache_version", int, "an integer"),
    ("version", str, "a string"),
    ("timestamp", (int, float), "a number"),
    ("files", dict, "an object"),
)


def parse_record(raw: bytes) -> "tuple[dict[str, Any] | None, str]":
    """Decode a record file's bytes: ``(record, "")`` or ``(None, what is wrong)``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8: {exc}"
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return None, f"not JSON: {exc}"
    if not isinstance(record, dict):
        return None, f"not a JSON object but {type(record).__name__}"
    for field, kind, described in _FIELD_TYPES:
        if field not in record:
            return None, f"field {field!r} is missing"
        value = record[field]
        # bool is an int to Python, never to a record.
        if isinstance(value, bool) or not isinstance(value, kind):
            return None, f"field {field!r} should be {described}, found {value!r:.60}"
    if not math.isfinite(record["timestamp"]):
        return None, f"field 'timestamp' is not finite: {record['timestamp']!r}"
    for optional in ("extra_files", "folders"):
        value = record.get(optional, {})
        if not isinstance(value, dict):
            return None, f"field {optional!r} should be an object, found {value!r:.60}"
    if "items" not in record:
        return None, "field 'items' is missing"
    return record, ""


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, whole.

    The text goes to a uniquely named temporary file in the same folder, then
    ``os.replace`` swaps it in. No fsync: a record lost to a power cut is only
    a miss.
    """
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    with _temp_lock:
        _temp_numbers[0] += 1
        number = _temp_numbers[0]
    temp = os.path.join(folder, f".{name}.{os.getpid()}.{threading.get_ident()}.{number}.tmp")
    try:
        with open(temp, "x", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _switch_off(folder: str, exc: OSError) -> None:
    with _unwritable_lock:
        if folder in _unwritable:
            return
        _unwritable[folder] = f"caching is off for this process: {folder} cannot be written"
    _log().log(
        WARNING,
        "platekit cache folder %s cannot be written (%s); caching is off for this "
        "process and everything works without it. Set PLATEKIT_CACHE_DIR to a "
        "writable folder to cache again.",
        folder,
        exc,
    )
