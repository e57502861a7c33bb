"""The ``fsspec`` backend: read-only access to anything fsspec reaches (s3://, file://, ...).

Paths are URLs (``s3://bucket/plate/Index.xml``) or paths of the backend's
own protocol. One backend speaks one protocol with one set of storage
options (credentials, endpoint); a backend made without arguments reads
local files. It refuses every write. It pickles as its protocol and
options, so a task sent to another process opens its own connection.

Needs fsspec (``platekit-storage[fsspec]``); S3 needs s3fs as well
(``platekit-storage[s3]``). Either missing is an ``ImportError`` saying
what to install.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat as stat_module
from typing import Any

from platekit.storage._base import ReadOnlyBackend, not_found
from platekit.storage._errors import (
    StorageIsADirectoryError,
    StorageNotADirectoryError,
    StorageOSError,
    StoragePermissionError,
    StorageValueError,
)
from platekit.storage._listing import name_filter
from platekit.storage._natural import natural_sorted
from platekit.storage._stat import FileStat
from platekit.storage._verified import check_request, verified

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import IO

    PathLike = str | os.PathLike[str]

# Where each protocol's implementation comes from, for the install hint.
_EXTRA_FOR = {"s3": "s3", "s3a": "s3"}


def _import_fsspec() -> Any:
    try:
        import fsspec
    except ImportError as exc:
        from platekit.registry._install import install_command

        raise ImportError(
            "reading from URLs needs fsspec, which is not installed: "
            f"{install_command('platekit-storage', 'fsspec')}"
        ) from exc
    return fsspec


def protocol_of(url: str) -> str:
    """The protocol of ``url`` (``"s3"`` for ``s3://bucket/key``), ``"file"`` for a plain path."""
    head, sep, _ = url.partition("://")
    return head.lower() if sep and head.isalnum() else "file"


def is_url(text: str | os.PathLike[str]) -> bool:
    """Whether ``text`` is a URL of an fsspec filesystem (``s3://...``), not a local path."""
    return protocol_of(os.fspath(text)) not in ("file", "local")


def local_path(text: str | os.PathLike[str]) -> str:
    """The path a local ``text`` names: a ``file://`` URL's path, and ``~`` the home folder,
    as fsspec takes them; any other path as it is."""
    text = os.fspath(text)
    # Path("file:///data") or Path("~/data") would make a folder "file:" or "~" in the
    # working directory.
    if "://" in text and not is_url(text):
        text = text.partition("://")[2]
    return os.path.expanduser(text)


def names_nothing(url: str) -> bool:
    """Whether ``url`` is a protocol alone, naming no bucket or path (``"s3://"``)."""
    return protocol_of(url) != "file" and not url.partition("://")[2].strip("/")


def filesystem(protocol: str, storage_options: dict[str, Any] | None = None) -> Any:
    """The fsspec filesystem for ``protocol`` with ``storage_options``.

    Raises ``ImportError`` naming what to install when fsspec, or the
    protocol's implementation (s3fs for ``s3``), is missing, and
    ``ValueError`` naming the protocol when fsspec knows no such protocol.
    """
    fsspec = _import_fsspec()
    try:
        return fsspec.filesystem(protocol, **(storage_options or {}))
    except ImportError as exc:
        from platekit.registry._install import install_command

        extra = _EXTRA_FOR.get(protocol)
        hint = (
            install_command("platekit-storage", extra)
            if extra
            else "install the fsspec implementation that fsspec's error names"
        )
        raise ImportError(
            f"reading {protocol}:// URLs needs a package that is not installed ({exc}); {hint}"
        ) from exc
    except ValueError as exc:
        raise ValueError(
            f"no fsspec filesystem for the protocol {protocol!r}; give a URL such as "
            "s3://bucket/path or a local path"
        ) from exc


# botocore's errors, known by name so that this module needs no botocore.
_NO_CREDENTIALS = ("NoCredentialsError", "PartialCredentialsError")
_UNREACHABLE = ("EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError")
#: Refused before any request is sent: a bucket name the service cannot take.
_INVALID = ("ParamValidationError",)
#: How botocore refuses an endpoint_url that is no URL, before any request.
_BAD_ENDPOINT = "Invalid endpoint: "
#: s3fs hands the storage options it does not know to botocore's session at the first request.
_UNKNOWN_OPTION = re.compile(
    r"^AioSession\.__init__\(\) got an unexpected keyword argument '(\w+)'"
)


@contextlib.contextmanager
def remote_errors(protocol: str, path: PathLike) -> Iterator[None]:
    """Missing credentials and an unreachable endpoint as one sentence each, naming the path.

    Turns botocore's errors into ``PermissionError`` (no credentials),
    ``OSError`` (no answer) and ``ValueError`` (an address the service refuses
    before asking, such as ``s3://`` or a bucket name with capitals, or a
    storage option s3fs does not take, or an ``endpoint_url`` that is no URL),
    each saying what to do; others pass unchanged.
    """
    try:
        yield
    except Exception as exc:
        # By any class it is of: aiohttp says a name that does not resolve with a subclass.
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        where = os.fspath(path)
        if not kinds.isdisjoint(_NO_CREDENTIALS):
            raise StoragePermissionError(
                f"no credentials for {where!r}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials, or pass the storage "
                "options key and secret (anon=true for a public bucket)"
                if protocol.startswith("s3")
                else f"no credentials for {where!r}; give them as the filesystem expects"
            ) from None
        if not kinds.isdisjoint(_INVALID):
            # botocore's first line is a heading; the next says what is wrong, then a pattern.
            lines = str(exc).splitlines()
            what = lines[1].split(": ", 1)[0].strip() if len(lines) > 1 else str(exc)
            raise StorageValueError(
                f"{where!r} is no address the {protocol} service takes ({what}); give it as "
                f"{protocol}://BUCKET/PATH, the bucket's name in lower case"
            ) from None
        unknown = _UNKNOWN_OPTION.search(str(exc)) if isinstance(exc, TypeError) else None
        if unknown:
            raise StorageValueError(
                f"the {protocol} filesystem takes no storage option {unknown.group(1)!r} (given "
                f"for {where!r}); check its spelling, or leave it out"
            ) from None
        if isinstance(exc, ValueError) and str(exc).startswith(_BAD_ENDPOINT):
            raise StorageValueError(
                f"the endpoint_url storage option {str(exc)[len(_BAD_ENDPOINT) :]!r} (for "
                f"{where!r}) is no URL; give the server's, such as http://HOST:PORT"
            ) from None
        if not kinds.isdisjoint(_UNREACHABLE):
            raise StorageOSError(
                f"cannot reach the {protocol} server for {where!r} ({exc}); check the "
                "endpoint_url storage option and the network"
            ) from None
        raise


class FsspecBackend(ReadOnlyBackend):
    """Reads, lists and describes files through one fsspec filesystem; refuses writes."""

    _backend_type = "fsspec"

    def __init__(self, protocol: str = "file", storage_options: dict[str, Any] | None = None):
        self.protocol = protocol
        self._options = dict(storage_options or {})
        self._fs: Any = None

    @classmethod
    def for_url(cls, url: str, storage_options: dict[str, Any] | None = None) -> FsspecBackend:
        """A backend for the protocol of ``url``, with ``storage_options``."""
        return cls(protocol_of(url), storage_options)

    @property
    def storage_options(self) -> dict[str, Any]:
        """The options the filesystem is made with (may hold credentials: never log them)."""
        return dict(self._options)

    @property
    def fs(self) -> Any:
        """The fsspec filesystem, made on first use (``ImportError`` as :func:`filesystem`)."""
        if self._fs is None:
            self._fs = filesystem(self.protocol, self._options)
        return self._fs

    @property
    def _local(self) -> bool:
        return self.protocol in ("file", "local")

    def __getstate__(self) -> dict[str, Any]:
        # The filesystem (sessions, sockets) is remade where the backend lands.
        return {"protocol": self.protocol, "_options": self._options, "_fs": None}

    def __repr__(self) -> str:
        # Storage options may hold credentials: only their names are shown.
        return f"<FsspecBackend {self.protocol!r} options={sorted(self._options)}>"

    def _path(self, path: PathLike) -> str:
        text = os.fspath(path)
        if self._local:
            return text[len("file://") :] if text.startswith("file://") else text
        return str(self.fs._strip_protocol(text)).rstrip("/")

    def _info(self, path: PathLike) -> dict[str, Any] | None:
        try:
            with remote_errors(self.protocol, path):
                return self.fs.info(self._path(path))  # type: ignore[no-any-return]
        except (FileNotFoundError, NotADirectoryError):
            return None

    # -- listing -------------------------------------------------------------------

    def entries(self, path: PathLike) -> tuple[list[str], list[str]]:
        """The names of the files and of the folders directly in ``path``, from one listing.

        Locally, files are regular files (or links to them): pipes, sockets,
        devices and links to nothing are left out.

        One request for a remote folder (pages of a long listing aside), one
        ``os.scandir`` for a local one; in listing order. Raises
        ``FileNotFoundError`` when ``path`` is no folder.
        """
        where = self._path(path)
        files: list[str] = []
        folders: list[str] = []
        if self._local:
            try:
                with os.scandir(where) as found:
                    for entry in found:
                        try:
                            if entry.is_dir():
                                folders.append(entry.name)
                            # Not a pipe, socket or link to nothing: opening a pipe waits for
                            # a writer forever, and none of them holds a file's bytes.
                            elif entry.is_file():
                                files.append(entry.name)
                        except OSError:
                            continue
            except (FileNotFoundError, NotADirectoryError):
                raise not_found(self, path) from None
            return files, folders
        try:
            with remote_errors(self.protocol, path):
                listed = self.fs.ls(where, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            raise not_found(self, path) from None
        prefix = where + "/"
        for item in listed:
            name = str(item["name"]).rstrip("/")
            if not name.startswith(prefix):
                continue  # a file listed as itself: ``where`` is no folder
            name = name[len(prefix) :]
            if name:
                (folders if item.get("type") == "directory" else files).append(name)
        if not files and not folders and not self.fs.isdir(where):
            raise not_found(self, path)
        return files, folders

    def list_dir(self, path: PathLike) -> list[str]:
        files, folders = self._checked_entries(path)
        return natural_sorted(files + folders)

    def list_files(
        self,
        directory: PathLike,
        *,
        pattern: str | None = None,
        extensions: Iterable[str] | str | None = None,
        recursive: bool = False,
    ) -> list[str]:
        keep = name_filter(pattern, extensions)
        root = os.fspath(directory).rstrip("/")
        files, folders = self._checked_entries(directory)
        found = [f"{root}/{name}" for name in files if keep(name)]
        if recursive:
            for folder in folders:
                found.extend(
                    self.list_files(
                        f"{root}/{folder}", pattern=pattern, extensions=extensions, recursive=True
                    )
                )
        return natural_sorted(found)

    def _checked_entries(self, path: PathLike) -> tuple[list[str], list[str]]:
        if self.is_file(path):
            raise StorageNotADirectoryError(
                20, "a file, not a folder, in the fsspec backend", os.fspath(path)
            )
        return self.entries(path)

    def exists(self, path: PathLike) -> bool:
        if self._local:
            return os.path.exists(self._path(path))
        return self._info(path) is not None

    def is_file(self, path: PathLike) -> bool:
        if self._local:
            return os.path.isfile(self._path(path))
        info = self._info(path)
        return info is not None and info.get("type") == "file"

    def is_dir(self, path: PathLike) -> bool:
        if self._local:
            return os.path.isdir(self._path(path))
        info = self._info(path)
        return info is not None and info.get("type") == "directory"

    def is_symlink(self, path: PathLike) -> bool:
        return self._local and os.path.islink(self._path(path))

    def stat(self, path: PathLike, *, follow_symlinks: bool = True) -> FileStat:
        if self._local:
            try:
                info = os.stat(self._path(path))
            except (FileNotFoundError, NotADirectoryError):
                raise not_found(self, path) from None
            if stat_module.S_ISDIR(info.st_mode):
                return FileStat("folder", None, info.st_mtime)
            return FileStat("file", info.st_size, info.st_mtime)
        found = self._info(path)
        if found is None:
            raise not_found(self, path)
        if found.get("type") == "directory":
            return FileStat("folder", None, None)
        modified: Any = found.get("LastModified") or found.get("mtime")
        mtime = float(modified.timestamp()) if hasattr(modified, "timestamp") else None
        return FileStat("file", found.get("size"), mtime)

    # -- reading -------------------------------------------------------------------

    def open(self, path: PathLike) -> IO[bytes]:
        """A binary file object reading ``path``, seekable; the caller closes it.

        Raises ``FileNotFoundError`` naming the path and the backend, and
        ``IsADirectoryError`` for a folder.
        """
        try:
            if self._local:
                return open(self._path(path), "rb")
            with remote_errors(self.protocol, path):
                return self.fs.open(self._path(path), "rb")  # type: ignore[no-any-return]
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            # Asked only on failure, so a read costs no request to describe the path first.
            if self.is_dir(path):
                raise StorageIsADirectoryError(
                    21, "a folder, not a file, in the fsspec backend", os.fspath(path)
                ) from None
            raise not_found(self, path) from None

    def load(self, path: PathLike, **kwargs: Any) -> bytes:
        """The bytes of the file at ``path`` (errors as :meth:`open`)."""
        return self.read_bytes(path)

    def read_bytes(
        self, path: PathLike, *, sha256: str | None = None, max_bytes: int | None = None
    ) -> bytes:
        check_request(sha256, max_bytes)
        with self.open(path) as file:
            return verified(os.fspath(path), file.read, sha256, max_bytes)
