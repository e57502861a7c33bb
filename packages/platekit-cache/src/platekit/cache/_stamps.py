"""What makes a record stale: stamps of single files and of whole package folders.

A file's stamp is ``[st_mtime_ns, st_size]``, or ``None`` when it does not
exist. A package folder's stamp lists its modules in one flat list, sorted by
name: ``["a.py", mtime_ns, size, "sub/__init__.py", mtime_ns, size, ...]``. It
takes one listing per folder and one ``stat`` per module, relative to the open
folder where the platform allows it, and compares with one ``==``: a warm
start stamps hundreds of plugin files this way on every start.
"""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

import os
from stat import S_ISDIR, S_ISREG  # loaded with os at start-up: free

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    Stamp = list[int] | None
    Fingerprints = dict[str, Stamp]
    FolderStamps = dict[str, dict[str, Any]]

# Stat relative to an open folder where the platform can (POSIX), by path elsewhere.
_BY_FD = (
    os.listdir in os.supports_fd
    and os.stat in os.supports_dir_fd
    and os.open in os.supports_dir_fd
    and hasattr(os, "O_DIRECTORY")
)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def fingerprint(path: str | os.PathLike[str]) -> "Stamp":
    """``[st_mtime_ns, st_size]`` of a file, or ``None`` when it does not exist."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL byte in a damaged record's path
        return None
    return [st.st_mtime_ns, st.st_size]


def file_stamps(paths: "Iterable[str | os.PathLike[str]]") -> "Fingerprints":
    """Absolute path → :func:`fingerprint` for each path."""
    stamps: Fingerprints = {}
    stat = os.stat
    for file in paths:
        path = os.fspath(file)
        if path[:1] != os.sep:
            path = os.path.abspath(path)
        # fingerprint(), inlined: this loop runs on every start.
        try:
            st = stat(path)
        except (OSError, ValueError):
            stamps[path] = None
        else:
            stamps[path] = [st.st_mtime_ns, st.st_size]
    return stamps


def files_changed(recorded: "Fingerprints", current: "Fingerprints") -> str | None:
    """Why two sets of file fingerprints differ, or ``None`` when they match."""
    if recorded == current:
        return None
    for path, stamp in recorded.items():
        if path not in current:
            return f"{path} is no longer among the files it depends on"
        now = current[path]
        if now == stamp:
            continue
        if now is None:
            return f"{path} vanished"
        if stamp is None:
            return f"{path} appeared"
        return f"{path} changed"
    for path in current:
        if path not in recorded:
            return f"{path} is new among the files it depends on"
    return None


# -- package folders -------------------------------------------------------------


def folder_stamp(folder: str, recursive: bool) -> "list[Any] | None":
    """The stamp of a Python package folder, or ``None`` when it is not a folder.

    Covers every ``.py`` file in ``folder``; in each subfolder that could be a
    subpackage (no dot in its name, not ``__pycache__``), its ``__init__.py``,
    or, when ``recursive``, every ``.py`` file below it too.
    """
    stamp: list[Any] = []
    if not _BY_FD:
        if not os.path.isdir(folder):
            return None
        _walk(folder, None, "", recursive, stamp)
        return stamp
    try:
        fd = os.open(folder, _DIR_FLAGS)
    except (OSError, ValueError):
        return None
    try:
        _walk(folder, fd, "", recursive, stamp)
    finally:
        os.close(fd)
    return stamp


def _walk(folder: str, fd: int | None, prefix: str, recursive: bool, stamp: "list[Any]") -> None:
    """Stamp one folder, by ``fd`` (names relative to it) when given, else by path."""
    try:
        names = sorted(os.listdir(folder if fd is None else fd))
    except OSError:
        return
    stat = os.stat
    join = os.path.join
    for name in names:
        if name.endswith(".py"):
            try:
                st = stat(name if fd is not None else join(folder, name), dir_fd=fd)
            except OSError:
                continue  # removed while listing: missing from the stamp, so a miss
            # Not checked to be a regular file: a folder named "x.py" stamped too
            # changes nothing, and this loop runs for every module on every start.
            stamp += (prefix + name, st.st_mtime_ns, st.st_size)
        elif "." not in name and name != "__pycache__":
            _subfolder(folder, fd, name, prefix, recursive, stamp)


def _subfolder(
    folder: str, fd: int | None, name: str, prefix: str, recursive: bool, stamp: "list[Any]"
) -> None:
    path = os.path.join(folder, name)
    where = name if fd is not None else path
    try:
        if not S_ISDIR(os.stat(where, dir_fd=fd).st_mode):
            return
        if not recursive:
            init = os.stat(os.path.join(where, "__init__.py"), dir_fd=fd)
            if S_ISREG(init.st_mode):
                stamp += (f"{prefix}{name}/__init__.py", init.st_mtime_ns, init.st_size)
            return
        inner = os.open(where, _DIR_FLAGS, dir_fd=fd) if fd is not None else None
    except OSError:
        return
    try:
        _walk(path, inner, f"{prefix}{name}/", True, stamp)
    finally:
        if inner is not None:
            os.close(inner)


def folder_stamps(folders: "Iterable[tuple[str | os.PathLike[str], bool]]") -> "FolderStamps":
    """Absolute folder → ``{"recursive": ..., "files": folder_stamp(...)}`` for each folder."""
    stamps: FolderStamps = {}
    for folder, recursive in folders:
        path = os.path.abspath(os.fspath(folder))
        stamps[path] = {"recursive": bool(recursive), "files": folder_stamp(path, recursive)}
    return stamps


def folders_changed(recorded: "FolderStamps", current: "FolderStamps") -> str | None:
    """Why two sets of folder stamps differ, or ``None`` when they match."""
    if recorded == current:
        return None
    for folder in recorded:
        if folder not in current:
            return f"{folder} is no longer among the folders it depends on"
    for folder, now in current.items():
        before = recorded.get(folder)
        if before is None:
            return f"{folder} is new among the folders it depends on"
        if before == now:
            continue
        if not _is_folder_stamp(before):
            # A damaged record: the caller's shape check names what is wrong.
            return f"the stamp of {folder} is malformed"
        if now["files"] is None:
            return f"{folder} vanished"
        if before["files"] is None:
            return f"{folder} appeared"
        if before.get("recursive") != now["recursive"]:
            return f"{folder} is walked {'with' if now['recursive'] else 'without'} subfolders now"
        changed = files_changed(_by_path(folder, before["files"]), _by_path(folder, now["files"]))
        if changed is not None:
            return changed
    return "the folders it depends on changed"


def _by_path(folder: str, files: "list[Any]") -> "Fingerprints":
    """A folder stamp as file fingerprints keyed by absolute path."""
    return {
        os.path.join(folder, *files[i].split("/")): [files[i + 1], files[i + 2]]
        for i in range(0, len(files) - 2, 3)
    }


# -- checking a record's stamps -----------------------------------------------------


def stamp_problem(record: "dict[str, Any]") -> str | None:
    """What is wrong with a parsed record's file and folder stamps, or None."""
    for path, stamp in (*record["files"].items(), *record.get("extra_files", {}).items()):
        if stamp is not None and not (
            isinstance(stamp, list) and len(stamp) == 2 and all(type(n) is int for n in stamp)
        ):
            return f"file stamp for {path!r} should be [mtime_ns, size], found {stamp!r:.60}"
    for folder, stamp in record.get("folders", {}).items():
        if not _is_folder_stamp(stamp):
            return (
                f"folder stamp for {folder!r} should be "
                f'{{"recursive": true or false, "files": [name, mtime_ns, size, ...]}}, '
                f"found {stamp!r:.60}"
            )
    return None


def _is_folder_stamp(stamp: object) -> bool:
    if not isinstance(stamp, dict) or type(stamp.get("recursive")) is not bool:
        return False
    files = stamp.get("files")
    if files is None:
        return True
    return (
        isinstance(files, list)
        and len(files) % 3 == 0
        and all(type(files[i]) is str for i in range(0, len(files), 3))
        and all(type(n) is int for i in range(0, len(files), 3) for n in files[i + 1 : i + 3])
    )
