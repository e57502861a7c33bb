"""What the cache holds, and emptying it."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from platekit.cache._paths import cache_root, environment_key, environment_root
from platekit.cache._record import CACHE_FORMAT_VERSION, caching_disabled_by_env, parse_record
from platekit.cache._stamps import (
    file_stamps,
    files_changed,
    folder_stamps,
    folders_changed,
    stamp_problem,
)

# Folders this package makes in the cache root: "<interpreter tag>-<8 hex digits>".
_ENVIRONMENT_FOLDER = re.compile(r"^[A-Za-z0-9_.-]+-[0-9a-f]{8}$")
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

    Only files this package writes are touched (records and leftover temporary
    files), so a ``PLATEKIT_CACHE_DIR`` pointing at a shared folder loses
    nothing else. Folders left empty are removed.
    """
    if all_environments:
        root = cache_root()
        try:
            folders = [
                os.path.join(root, name)
                for name in os.listdir(root)
                if _ENVIRONMENT_FOLDER.match(name)
            ]
        except OSError:
            folders = []
    else:
        folders = [environment_root()]
    removed = 0
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.endswith(".json") or (name.startswith(".") and name.endswith(".tmp")):
                try:
                    os.unlink(os.path.join(folder, name))
                    removed += 1
                except FileNotFoundError:
                    pass
        try:
            os.rmdir(folder)
        except OSError:
            pass
    return removed


def describe_state() -> dict[str, object]:
    """Where the cache is and whether it is switched on, for ``info`` output."""
    root = cache_root()
    try:
        others = sorted(
            name
            for name in os.listdir(root)
            if _ENVIRONMENT_FOLDER.match(name) and name != environment_key()
        )
    except OSError:
        others = []
    return {
        "root": root,
        "environment": environment_root(),
        "disabled_by_env": caching_disabled_by_env(),
        "other_environments": others,
    }
