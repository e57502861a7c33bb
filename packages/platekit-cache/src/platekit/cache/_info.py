"""What the cache holds, and emptying it."""

from __future__ import annotations

import json
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from platekit.cache._paths import cache_root, environment_key, environment_root
from platekit.cache._record import (
    CACHE_FORMAT_VERSION,
    DISABLE_ENV,
    caching_disabled_by_env,
    check_name,
    parse_record,
)
from platekit.cache._stamps import (
    file_stamps,
    files_changed,
    folder_stamps,
    folders_changed,
    stamp_problem,
)

# Folders this package makes in the cache root: "<interpreter tag>-<8 hex digits>".
_ENVIRONMENT_FOLDER = re.compile(r"^[A-Za-z0-9_.-]+-[0-9a-f]{8}$")
# What a save leaves behind when its process dies mid-write:
# ".<record name>.json.<pid>.<thread>.<counter>.tmp".
_TEMPORARY_FILE = re.compile(r"^\.[A-Za-z0-9._-]+\.json\.[0-9]+\.[0-9]+\.[0-9]+\.tmp$")
_DAY = 86400.0


@dataclass(frozen=True)
class RecordInfo:
    """One record file, as :func:`cache_info` found it.

    ``valid`` covers what the file alone can tell: it parses, it is in the
    current format, it is not too old, and the files and package folders it
    depends on are unchanged. Whether its ``version`` matches its producer is
    checked when the producer loads it.
    """

    name: str
    path: Path
    size: int
    age_seconds: float | None
    version: str | None
    valid: bool
    reason: str | None


def cache_info() -> list[RecordInfo]:
    """Every record in this environment's cache folder, sorted by name."""
    folder = environment_root()
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [
        _describe(os.path.join(folder, name))
        for name in names
        if name.endswith(".json") and not name.startswith(".")
    ]


def _describe(path: str) -> RecordInfo:
    name = os.path.basename(path)[: -len(".json")]
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        return RecordInfo(name, Path(path), 0, None, None, False, f"cannot be read: {exc}")
    record, problem = parse_record(raw)
    if record is not None:
        problem = stamp_problem(record) or ""
    if record is None or problem:
        return RecordInfo(name, Path(path), len(raw), None, None, False, f"damaged: {problem}")
    age = time.time() - record["timestamp"]
    max_age = record.get("max_age_days")
    reason: str | None = None
    if record["cache_version"] != CACHE_FORMAT_VERSION:
        reason = f"written in cache format {record['cache_version']}"
    elif age < 0:
        reason = "its timestamp lies in the future"
    elif isinstance(max_age, (int, float)) and age > max_age * _DAY:
        reason = f"older than its {max_age} days"
    else:
        recorded = {**record["files"], **record.get("extra_files", {})}
        reason = files_changed(recorded, file_stamps(recorded))
        folders = record.get("folders", {})
        if reason is None and folders:
            now = folder_stamps((folder, stamp["recursive"]) for folder, stamp in folders.items())
            reason = folders_changed(folders, now)
    return RecordInfo(name, Path(path), len(raw), age, record["version"], reason is None, reason)


def clear_cache(all_environments: bool = False) -> int:
    """Delete this environment's records (every environment's with
    ``all_environments=True``); return how many files were removed.

    Only files this package wrote are touched: a regular file named
    ``<record name>.json`` whose content is a platekit record (a JSON object
    with ``cache_version``, ``version``, ``timestamp`` and ``items``), and a
    temporary file a save left behind (``.<record name>.json.<pid>.<thread>.<n>.tmp``),
    inside folders named like environment folders. Anything else, a
    ``.json`` file of other content or a folder named ``*.json`` included,
    is left alone, so a ``PLATEKIT_CACHE_DIR`` pointing at a shared folder
    loses nothing else. Folders left empty are removed.

    Never raises for what it finds on disk: a file that cannot be removed (a
    read-only cache) is left and logged at ``WARNING``.
    """
    report = clear_records(all_environments)
    if report.failed:
        from platekit.cache import _log

        for path, problem in report.failed:
            _log.log(_log.WARNING, "platekit cache file %s was not removed: %s", path, problem)
    return len(report.removed)


@dataclass
class ClearReport:
    """What :func:`clear_records` did, for the command line to tell."""

    #: The files removed.
    removed: list[str] = field(default_factory=list)
    #: Entries named like platekit's files that are not platekit's, left alone.
    left: list[str] = field(default_factory=list)
    #: Platekit's files that could not be removed or read, and why.
    failed: list[tuple[str, str]] = field(default_factory=list)


def clear_records(all_environments: bool = False) -> ClearReport:
    """:func:`clear_cache`, reporting every file removed, left alone or not removable."""
    report = ClearReport()
    folders = (
        [os.path.join(cache_root(), name) for name in environment_folders()]
        if all_environments
        else [environment_root()]
    )
    for folder in folders:
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            continue  # nothing was ever written there
        except OSError as exc:
            report.failed.append((folder, f"cannot be listed: {exc.strerror or exc}"))
            continue
        for entry in entries:
            try:
                mine = _written_here(entry)
            except OSError as exc:
                report.failed.append((entry.path, f"cannot be read: {exc.strerror or exc}"))
                continue
            if mine is None:
                continue
            if not mine:
                report.left.append(entry.path)
                continue
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue  # another process removed it first
            except OSError as exc:
                report.failed.append((entry.path, exc.strerror or str(exc)))
                continue
            report.removed.append(entry.path)
        try:
            os.rmdir(folder)
        except OSError:
            pass
    return report


def _written_here(entry: os.DirEntry[str]) -> bool | None:
    """True for a file platekit-cache wrote, False for one only named like it,
    None for the rest (not worth a mention). Raises ``OSError`` when a record
    file cannot be read."""
    name = entry.name
    if _TEMPORARY_FILE.match(name):
        return entry.is_file(follow_symlinks=False)
    if not name.endswith(".json"):
        return None
    try:
        check_name(name[: -len(".json")])
    except ValueError:
        return False
    if not entry.is_file(follow_symlinks=False):
        return False
    with open(entry.path, "rb") as fh:
        raw = fh.read()
    return _is_record(raw)


def _is_record(raw: bytes) -> bool:
    """Whether ``raw`` is a platekit record of any format, however stale or damaged inside."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return (
        isinstance(record, dict)
        and type(record.get("cache_version")) is int
        and isinstance(record.get("version"), str)
        and "timestamp" in record
        and "items" in record
    )


def environment_folders() -> list[str]:
    """Names of the environment folders in the cache root, sorted."""
    try:
        names = os.listdir(cache_root())
    except OSError:
        return []
    return sorted(name for name in names if _ENVIRONMENT_FOLDER.match(name))


def write_problem(folder: str) -> str | None:
    """Why records could not be written in ``folder``, or None; found without writing.

    The folder need not exist: then the nearest one above it that exists must
    be a folder this process may write in, and the answer names both.
    """
    path = folder
    while True:
        try:
            found = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            parent = os.path.dirname(path)
            if parent == path:
                return f"{path} does not exist"
            path = parent
            continue
        except OSError as exc:
            return f"{path} cannot be reached ({exc.strerror})"
        break
    # A missing folder is made on the first write: say which one, and what stops it.
    creating = "" if path == folder else f"{folder} cannot be created: "
    if not stat.S_ISDIR(found.st_mode):
        return f"{creating}{path} is not a folder"
    if not os.access(path, os.W_OK | os.X_OK):
        nearest = ", the nearest folder above it that exists," if creating else ""
        return f"{creating}{path}{nearest} is not writable"
    return None


def describe_state() -> dict[str, object]:
    """Where the cache is and whether it is switched on, for ``info`` output."""
    folder = environment_root()
    problem = write_problem(folder)
    disabled = caching_disabled_by_env()
    if disabled:
        caching = f"off ({DISABLE_ENV})"
    elif problem is not None:
        caching = (
            f"off: {problem}, so no record can be written; "
            "set PLATEKIT_CACHE_DIR to a writable folder"
        )
    else:
        caching = "on"
    return {
        "root": cache_root(),
        "environment": folder,
        "caching": caching,
        "disabled_by_env": disabled,
        "writable": problem is None,
        "other_environments": [n for n in environment_folders() if n != environment_key()],
    }
