"""The ``disk`` backend: files on the file system, read and written by their type, atomically."""

from __future__ import annotations

import errno
import itertools
import os
import stat

from platekit.storage._base import StorageBackend, not_found
from platekit.storage._formats import format_for, format_named, refusal
from platekit.storage._listing import name_filter
from platekit.storage._natural import natural_sorted
from platekit.storage._stat import FileStat
from platekit.storage._verified import check_request, verified

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, BinaryIO

    PathLike = str | os.PathLike[str]

# Numbers the temporary files of this process; with the process id, names never collide.
_serial = itertools.count()
# How much of the target's name a temporary name keeps (names have a length limit).
_NAME_KEPT = 120
# Whether os.link can link a symbolic link itself rather than what it points to.
_LINKS_LINKS = os.link in os.supports_follow_symlinks


def _temporary_name(target: str) -> str:
    """A hidden name beside ``target``: ``.{name}.{pid}.{n}.tmp``."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name[:_NAME_KEPT]}.{os.getpid()}.{next(_serial)}.tmp")


def is_temporary(name: str) -> bool:
    """Whether a file name is one of the backend's temporary files (``.{name}.{pid}.{n}.tmp``).

    Listings leave these out; a process killed while writing may leave one behind.
    """
    if not (name.startswith(".") and name.endswith(".tmp")):
        return False
    parts = name[1:-4].rsplit(".", 2)
    return len(parts) == 3 and all(p.isascii() and p.isdigit() for p in parts[1:])


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


class DiskBackend(StorageBackend):
    """Files and folders on the file system; paths are file-system paths.

    What a file holds follows its suffix: TIFF (``.tif``, ``.tiff``) through
    tifffile for numpy arrays, PNG (``.png``, with the ``png`` extra) for 8-
    and 16-bit images, ``.npy`` through numpy, ``.json``, CSV (``.csv``) for
    a list of row dicts, text (``.txt``) for a ``str``, and bytes for any
    other suffix. The
    formats are a registry open to plugins (subclasses of ``FileFormat``,
    from ``platekit.storage._formats``); ``format="name"`` on
    :meth:`save` and :meth:`load` picks one by name instead of by suffix.
    Other keyword arguments go to the format: ``compression="zlib"`` to
    tifffile when saving, ``key=`` or ``series=`` when loading,
    ``mmap_mode="r"`` to numpy.

    Every write is atomic. Data goes to a hidden temporary file in the
    target's folder (``.{name}.{pid}.{n}.tmp``), which is then put in place
    with one rename, so a process killed at any moment leaves the old file
    or the complete new one, never part of one; on an error the temporary
    file is removed. Listings never show temporary files, including those a
    killed process left behind. ``fsync=True`` also flushes each file and
    its folder to the device before returning, so the data survives a power
    cut too, at the cost of speed.

    Symbolic links (:meth:`create_symlink`, :meth:`is_symlink`) are the
    file system's own. Everything but :meth:`is_symlink`, :meth:`delete`
    and :meth:`move` follows them: a link to a file loads, lists and copies
    as that file, a link to a folder lists as a folder, and :meth:`stat`
    describes the target. :meth:`delete` and :meth:`move` act on the link
    itself. Recursive listings do not descend into folders reached through
    links, so a link loop cannot make them endless; a copied folder gets
    the content behind its links, not the links.
    """

    _backend_type = "disk"

    def __init__(self, *, fsync: bool = False) -> None:
        self._fsync = fsync

    # -- reading -------------------------------------------------------------------

    def load(self, path: PathLike, *, format: str | None = None, **kwargs: Any) -> Any:
        source = os.fspath(path)
        try:
            info = os.stat(source)
        except (FileNotFoundError, NotADirectoryError):
            raise not_found(self, path) from None
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "is a folder, not a file, in the disk backend", source)
        fmt = format_for(source) if format is None else format_named(format)
        try:
            return fmt.read(source, **kwargs)
        except ValueError as exc:
            # The reader's own message names neither the file nor its format.
            raise ValueError(
                f"{source!r} is not a readable {fmt.name} file ({type(exc).__name__}: {exc}); "
                "it may be damaged, or hold something other than its suffix says: pass "
                "format=NAME to read it as another format"
            ) from exc

    def list_files(
        self,
        directory: PathLike,
        *,
        pattern: str | None = None,
        extensions: Iterable[str] | None = None,
        recursive: bool = False,
    ) -> list[str]:
        top = self._folder(directory)
        keep = name_filter(pattern, extensions)
        found = []
        folders = [top]
        while folders:
            folder = folders.pop()
            try:
                with os.scandir(folder) as scan:
                    entries = list(scan)
            except FileNotFoundError:
                if folder == top:
                    raise not_found(self, directory) from None
                continue  # a subfolder removed while this listing ran
            for entry in entries:
                name = entry.name
                if recursive and entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                    continue
                if is_temporary(name) or not entry.is_file():
                    continue
                if keep(name):
                    found.append(entry.path)
        return natural_sorted(found)

    def list_dir(self, path: PathLike) -> list[str]:
        folder = self._folder(path)
        return natural_sorted(name for name in os.listdir(folder) if not is_temporary(name))

    def exists(self, path: PathLike) -> bool:
        return os.path.exists(path)

    def is_file(self, path: PathLike) -> bool:
        return os.path.isfile(path)

    def is_dir(self, path: PathLike) -> bool:
        return os.path.isdir(path)

    def is_symlink(self, path: PathLike) -> bool:
        return os.path.islink(path)

    def stat(self, path: PathLike, *, follow_symlinks: bool = True) -> FileStat:
        if not follow_symlinks and os.path.islink(path):
            info = os.lstat(path)
            target = os.readlink(path)
            return FileStat("link", None, info.st_mtime, target, os.path.exists(path))
        try:
            info = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise not_found(self, path) from None
        if stat.S_ISDIR(info.st_mode):
            return FileStat("folder", None, info.st_mtime)
        return FileStat("file", info.st_size, info.st_mtime)

    def read_bytes(
        self, path: PathLike, *, sha256: str | None = None, max_bytes: int | None = None
    ) -> bytes:
        """The file's bytes as stored, in any format (see :meth:`StorageBackend.read_bytes`)."""
        check_request(sha256, max_bytes)
        source = os.fspath(path)
        try:
            with open(source, "rb") as file:
                return verified(source, file.read, sha256, max_bytes)
        except (FileNotFoundError, NotADirectoryError):
            raise not_found(self, path) from None

    # -- writing -------------------------------------------------------------------

    def accepts(self, data: Any, path: PathLike, *, format: str | None = None) -> bool:
        """Whether the format :meth:`save` would pick (by suffix, or ``format=``) takes ``data``."""
        target = os.fspath(path)
        return (format_for(target) if format is None else format_named(format)).accepts(data)

    def save(
        self,
        data: Any,
        path: PathLike,
        *,
        overwrite: bool = False,
        format: str | None = None,
        **kwargs: Any,
    ) -> None:
        target = os.fspath(path)
        fmt = format_for(target) if format is None else format_named(format)
        if not fmt.accepts(data):
            raise refusal(fmt, data, target, by_suffix=format is None)
        self._check_destination(target, is_folder=False, overwrite=overwrite)
        self._make_parents(target)

        def fill(file: BinaryIO) -> None:
            try:
                fmt.write(data, file, **kwargs)
            except TypeError as exc:
                raise TypeError(f"cannot save to {target!r} as {fmt.name}: {exc}") from exc

        self._write_atomically(target, fill, overwrite=overwrite)

    def delete(self, path: PathLike, *, recursive: bool = False) -> None:
        text = os.fspath(path)
        try:
            info = os.lstat(text)
        except (FileNotFoundError, NotADirectoryError):
            raise not_found(self, path) from None
        if not stat.S_ISDIR(info.st_mode):
            os.remove(text)  # a file, or a link (never what it points to)
            return
        if not recursive:
            raise IsADirectoryError(
                21, "is a folder; pass recursive=True to delete it and everything in it", text
            )
        import shutil

        shutil.rmtree(text)

    def ensure_directory(self, path: PathLike) -> str:
        text = os.fspath(path)
        try:
            os.makedirs(text, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise FileExistsError(
                17, "a file is in the way of this folder in the disk backend", text
            ) from None
        return text

    def copy(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        plan = self._plan_transfer(src, dst, overwrite)
        if plan is None:
            return
        source, target, is_folder = plan
        if not is_folder:
            self._copy_file(source, target, overwrite=overwrite)
            return
        # Each file is copied atomically; into an existing folder, the two merge.
        _merge_tree(source, target, self._copy_over)

    def move(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        plan = self._plan_transfer(src, dst, overwrite)
        if plan is None:
            return
        source, target, is_folder = plan
        if not is_folder:
            self._move_file(source, target, overwrite=overwrite)
            return
        if not os.path.lexists(target):
            try:
                os.rename(source, target)
                return
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
        # Into an existing folder, or onto another file system: file by file, then tidy up.
        _merge_tree(source, target, self._move_over)
        import shutil

        shutil.rmtree(source)

    def create_symlink(self, target: PathLike, link: PathLike, *, overwrite: bool = False) -> None:
        """Make ``link`` a symbolic link to ``target`` (see :meth:`StorageBackend.create_symlink`).

        The link holds the target's absolute path, so a relative ``target``
        means what it means to this call, wherever the link is. With
        ``overwrite=True`` a file or link at ``link`` is replaced in one
        step: a new link is made beside it and renamed over it. On Windows,
        making links needs a privilege or developer mode; without it the
        system's ``OSError`` is raised.
        """
        source, name = os.path.abspath(target), os.fspath(link)
        if not os.path.exists(source):
            raise not_found(self, target)
        try:
            info = os.lstat(name)
        except (FileNotFoundError, NotADirectoryError):
            info = None
        if info is not None:
            if not overwrite:
                raise FileExistsError(
                    17, "already exists in the disk backend; pass overwrite=True to replace", name
                )
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(
                    21, "is a folder in the disk backend; a link cannot replace it", name
                )
        self._make_parents(name)
        if info is None:
            try:
                os.symlink(source, name, target_is_directory=os.path.isdir(source))
            except FileExistsError:
                raise FileExistsError(
                    17, "already exists in the disk backend; pass overwrite=True to replace", name
                ) from None
            return
        temporary = _temporary_name(name)
        os.symlink(source, temporary, target_is_directory=os.path.isdir(source))
        try:
            os.replace(temporary, name)
        except BaseException:
            _remove_quietly(temporary)
            raise

    # -- helpers -------------------------------------------------------------------

    def _folder(self, path: PathLike) -> str:
        """``path`` as a string, after checking a folder is there."""
        text = os.fspath(path)
        try:
            info = os.stat(text)
        except (FileNotFoundError, NotADirectoryError):
            raise not_found(self, path) from None
        if not stat.S_ISDIR(info.st_mode):
            raise NotADirectoryError(20, "is a file, not a folder, in the disk backend", text)
        return text

    def _is_folder(self, path: PathLike) -> bool:
        """Whether ``path`` is a folder rather than a file; ``FileNotFoundError`` for neither."""
        try:
            return stat.S_ISDIR(os.stat(path).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            raise not_found(self, path) from None

    def _plan_transfer(
        self, src: PathLike, dst: PathLike, overwrite: bool
    ) -> tuple[str, str, bool] | None:
        """``(source, target, is_folder)`` for a copy or move, checked, with the
        folders above the target made; None when ``dst`` is ``src`` itself."""
        source, target = os.fspath(src), os.fspath(dst)
        is_folder = self._is_folder(src)
        self._check_destination(target, is_folder=is_folder, overwrite=overwrite, source=source)
        if os.path.realpath(source) == os.path.realpath(target):
            return None  # onto itself: already where it should be
        self._make_parents(target)
        return source, target, is_folder

    def _check_destination(
        self, target: str, *, is_folder: bool, overwrite: bool, source: str | None = None
    ) -> None:
        """Refuse, before any writing, what cannot end with ``target`` replaced."""
        if is_folder and source is not None:
            inner, outer = os.path.realpath(target), os.path.realpath(source)
            if inner.startswith(os.path.join(outer, "")):
                raise ValueError(f"cannot put the folder {source!r} inside itself ({target!r})")
        try:
            info = os.stat(target)
        except (FileNotFoundError, NotADirectoryError):
            return
        if not overwrite:
            raise FileExistsError(
                17, "already exists in the disk backend; pass overwrite=True to replace", target
            )
        if stat.S_ISDIR(info.st_mode) and not is_folder:
            raise IsADirectoryError(
                21, "is a folder in the disk backend; a file cannot replace it", target
            )
        if is_folder and not stat.S_ISDIR(info.st_mode):
            raise FileExistsError(
                17, "a file is in the way of the folder in the disk backend", target
            )

    @staticmethod
    def _make_parents(target: str) -> None:
        folder = os.path.dirname(target)
        if not folder:
            return
        try:
            os.makedirs(folder, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise NotADirectoryError(
                20, "a file is in the way of the folders above, in the disk backend", folder
            ) from None

    def _write_atomically(
        self, target: str, fill: Callable[[BinaryIO], None], *, overwrite: bool
    ) -> None:
        """Write a temporary file with ``fill``, then put it at ``target`` in one step."""
        temporary = _temporary_name(target)
        # "x": created by this call or not at all, so the name is this call's alone.
        file = open(temporary, "xb")  # noqa: SIM115 (closed below, before the rename)
        try:
            with file:
                fill(file)
                file.flush()
                if self._fsync:
                    os.fsync(file.fileno())
            self._publish(temporary, target, overwrite=overwrite)
        except BaseException:
            _remove_quietly(temporary)
            raise
        if self._fsync:
            _sync_folder(os.path.dirname(target))

    def _publish(self, ready: str, target: str, *, overwrite: bool) -> None:
        """Give the complete file ``ready`` the name ``target``, in one atomic step.

        Without ``overwrite``, a hard link claims ``target`` only if it is
        free, so two writers racing for a new name cannot both succeed;
        where links are unsupported, a check and a rename stand in.
        """
        if overwrite:
            os.replace(ready, target)
            return
        try:
            if _LINKS_LINKS and os.path.islink(ready):
                # Moving a symbolic link moves the link, not what it points to.
                os.link(ready, target, follow_symlinks=False)
            else:
                os.link(ready, target)
        except FileExistsError:
            raise FileExistsError(
                17, "already exists in the disk backend; pass overwrite=True to replace", target
            ) from None
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise
            if os.path.lexists(target):
                raise FileExistsError(
                    17, "already exists in the disk backend; pass overwrite=True to replace", target
                ) from None
            os.replace(ready, target)
            return
        os.remove(ready)

    def _copy_file(self, source: str, target: str, *, overwrite: bool) -> None:
        import shutil

        def fill(file: BinaryIO) -> None:
            with open(source, "rb") as original:
                shutil.copyfileobj(original, file, 1 << 20)

        self._write_atomically(target, fill, overwrite=overwrite)

    def _move_file(self, source: str, target: str, *, overwrite: bool) -> None:
        try:
            self._publish(source, target, overwrite=overwrite)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # Another file system: no rename reaches it.
            self._copy_file(source, target, overwrite=overwrite)
            os.remove(source)

    def _copy_over(self, source: str, target: str) -> str:
        self._copy_file(source, target, overwrite=True)
        return target

    def _move_over(self, source: str, target: str) -> str:
        self._move_file(source, target, overwrite=True)
        return target


def _merge_tree(source: str, target: str, copy_function: Callable[[str, str], str]) -> None:
    import shutil

    # Links are followed: the copy holds what they point to; links to nothing are skipped.
    shutil.copytree(
        source,
        target,
        dirs_exist_ok=True,
        ignore=_ignore_temporary,
        copy_function=copy_function,
        ignore_dangling_symlinks=True,
    )


def _ignore_temporary(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if is_temporary(name)]


def _sync_folder(folder: str) -> None:
    """Flush a folder's entries (a rename) to the device, where the system allows it."""
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return  # Windows cannot open a folder; its renames need no such flush
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
