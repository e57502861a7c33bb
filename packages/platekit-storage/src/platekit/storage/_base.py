"""StorageBackend: the one description of what every storage backend promises.

Every backend, built in or third party, keeps these promises; the shared
contract suite in :mod:`platekit.storage.testing` checks them.

Paths are strings or ``os.PathLike``; a backend returns paths as strings.
Folders are created as needed by :meth:`~StorageBackend.save`.
"""

from __future__ import annotations

import os
import types

from platekit.registry import AutoRegisterMeta, LazyDiscoveryDict, RegistryConfig
from platekit.storage._errors import (
    StorageFileNotFoundError,
    StorageNotImplementedError,
    StoragePermissionError,
    StorageValueError,
    raising_storage_errors,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from platekit.registry._sources import EntryPoint
    from platekit.storage._stat import FileStat

    PathLike = str | os.PathLike[str]

#: Set to 1 in subprocesses (servers, workers) to leave GPU and viewer backends out.
NO_GPU_ENV = "PLATEKIT_SUBPROCESS_NO_GPU"


def gpu_excluded() -> bool:
    """Whether ``PLATEKIT_SUBPROCESS_NO_GPU`` asks to leave GPU backends out."""
    return os.environ.get(NO_GPU_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class _BackendClasses(LazyDiscoveryDict):
    """The backend class registry. Entry points tagged ``[gpu]`` are not even
    imported when GPU backends are left out, and that selection keeps an
    index of its own."""

    def _accept_entry_point(self, entry_point: EntryPoint) -> bool:
        return not (gpu_excluded() and "gpu" in entry_point.extras)

    def _index_variant(self) -> str:
        return ".no-gpu" if gpu_excluded() else ""


#: Every storage backend class, by ``_backend_type``.
STORAGE_BACKENDS = _BackendClasses()


class StorageBackend(metaclass=AutoRegisterMeta):
    """Reads and writes data at paths. Subclasses register under ``_backend_type``.

    The methods below are the contract; each says what every backend must do.
    A method a backend does not override raises ``NotImplementedError``
    naming the backend. Backends that need a GPU or a viewer set
    ``_requires_gpu = True`` and are left out when
    ``PLATEKIT_SUBPROCESS_NO_GPU=1``.

    Every error of a standard kind (``FileNotFoundError``, ``ValueError``,
    ...) that a backend's public method raises, its own or the operating
    system's, leaves the method with
    :class:`~platekit.storage.StorageError` mixed in, so ``except
    StorageError`` catches every storage failure. Subclasses get this
    without doing anything: their public methods are wrapped when the class
    is defined.
    """

    __registry_config__ = RegistryConfig(
        registry_dict=STORAGE_BACKENDS,
        key_attribute="_backend_type",
        skip_if_no_key=True,
        registry_name="storage backend",
        discovery_package="platekit.storage.backends",
        entry_point_group="platekit.storage_backends",
        metadata_attributes=("_requires_gpu", "_read_only"),
    )

    #: The backend's name in registries and in FileManager calls.
    _backend_type: str | None = None
    #: True for backends that need a GPU or a viewer.
    _requires_gpu: bool = False
    #: True for backends that refuse every write.
    _read_only: bool = False

    @property
    def name(self) -> str:
        """The backend's name (its ``_backend_type``)."""
        return self._backend_type or type(self).__name__

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            public = not name.startswith("_") or name == "__init__"
            wrapped = getattr(value, "__storage_errors__", False)
            if public and isinstance(value, types.FunctionType) and not wrapped:
                setattr(cls, name, raising_storage_errors(value))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _missing(self, method: str) -> NotImplementedError:
        return StorageNotImplementedError(
            f"storage backend {self.name!r} ({type(self).__qualname__}) does not implement "
            f"{method}(); see platekit.storage.StorageBackend for what it must do"
        )

    # -- reading ---------------------------------------------------------------

    def load(self, path: PathLike, **kwargs: Any) -> Any:
        """The data stored at ``path``.

        Raises ``FileNotFoundError`` naming the path and the backend when
        nothing is there (:func:`~platekit.storage.not_found` makes it),
        ``IsADirectoryError`` when it is a folder, ``ValueError`` naming the
        path when what is there cannot be read as its format.
        """
        raise self._missing("load")

    def load_batch(self, paths: Sequence[PathLike], **kwargs: Any) -> list[Any]:
        """The data at each path, in order (as :meth:`load`, one by one)."""
        return [self.load(path, **kwargs) for path in paths]

    def list_files(
        self,
        directory: PathLike,
        *,
        pattern: str | None = None,
        extensions: Iterable[str] | None = None,
        recursive: bool = False,
    ) -> list[str]:
        """Paths of the files in ``directory``, in natural order (``A2`` before ``A10``).

        ``pattern`` is a shell pattern matched against each file name
        (``"A01_*"``); ``extensions`` keeps files whose name ends with one of
        the suffixes, without regard to case: a set (``{".tif", ".tiff"}``)
        or one string, with or without the dot, of one part or more
        (``"tif"``, ``".ome.tif"``); ``recursive`` descends
        into subfolders. Raises ``FileNotFoundError`` when ``directory`` does
        not exist, ``NotADirectoryError`` when it is a file, and ``ValueError``
        (saying extensions must be file suffixes) when an extension is not a
        suffix: not a string, empty, or dots alone such as ``"."``.
        :func:`~platekit.storage.name_filter` applies ``pattern`` and
        ``extensions`` exactly so; a backend should use it.
        """
        raise self._missing("list_files")

    def list_dir(self, path: PathLike) -> list[str]:
        """Names (not paths) of the files and folders directly in ``path``, in natural order.

        Raises ``FileNotFoundError`` or ``NotADirectoryError`` as :meth:`list_files`.
        """
        raise self._missing("list_dir")

    def exists(self, path: PathLike) -> bool:
        """Whether a file or folder is at ``path``."""
        raise self._missing("exists")

    def is_file(self, path: PathLike) -> bool:
        """Whether a file is at ``path`` (False when nothing is there)."""
        raise self._missing("is_file")

    def is_dir(self, path: PathLike) -> bool:
        """Whether a folder is at ``path`` (False when nothing is there)."""
        raise self._missing("is_dir")

    def is_symlink(self, path: PathLike) -> bool:
        """Whether ``path`` is a symbolic link (False when nothing is there).

        True for a link whose target is gone, too. A backend without links
        returns False for every path. Optional: the default raises
        ``NotImplementedError`` naming the backend.
        """
        raise self._missing("is_symlink")

    def stat(self, path: PathLike, *, follow_symlinks: bool = True) -> FileStat:
        """The kind, size and modification time of what is at ``path``.

        A :class:`~platekit.storage.FileStat`, after following a symbolic
        link. With ``follow_symlinks=False`` a link is described itself:
        kind ``"link"``, its ``target``, and ``target_exists`` False when
        the target is gone; anything else is described as before. Raises
        ``FileNotFoundError`` naming the path and the backend when nothing
        is there (when following, a link whose target is gone included).
        Optional: the default raises ``NotImplementedError`` naming the
        backend.
        """
        raise self._missing("stat")

    def read_bytes(
        self, path: PathLike, *, sha256: str | None = None, max_bytes: int | None = None
    ) -> bytes:
        """The exact bytes stored at ``path``, undecoded, checked as the caller asks.

        For provenance: ``max_bytes`` bounds how much is read (a larger source
        raises ``ValueError`` and is never read whole) and ``sha256`` (64
        hexadecimal digits) must be the digest of what was read, or
        ``ValueError`` says both digests. A bound that is not a positive
        integer, or a digest that is not one, raises ``ValueError`` before
        anything is read. ``FileNotFoundError`` and ``IsADirectoryError`` as
        :meth:`load`; ``TypeError`` when what is at ``path`` is not a stream
        of bytes (an object in memory). Optional: the default raises
        ``NotImplementedError`` naming the backend.
        """
        raise self._missing("read_bytes")

    # -- writing ---------------------------------------------------------------

    def accepts(self, data: Any, path: PathLike) -> bool:
        """Whether :meth:`save` would take ``data`` at ``path``, asked before saving.

        Looks only at the data and the path's name, not at what is there
        already: a taken path still gives ``FileExistsError`` on saving.
        Empty data (``[]``, ``b""``) is data like any other. The default is
        True; a backend that refuses some data narrows it.
        """
        return True

    def close(self) -> None:
        """Let go of what the backend holds (connections, handles, caches).

        :meth:`BackendRegistry.close` calls it for each backend it made.
        The default does nothing; a backend that holds resources overrides
        it. A closed backend need not work afterwards.
        """

    def save(self, data: Any, path: PathLike, *, overwrite: bool = False, **kwargs: Any) -> None:
        """Store ``data`` at ``path``, creating the folders above it.

        Raises ``FileExistsError`` when something is already there and
        ``overwrite`` is false; the old data stays as it was. A reader never
        sees half-written data.
        """
        raise self._missing("save")

    def save_batch(
        self,
        items: Sequence[Any],
        paths: Sequence[PathLike],
        *,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> None:
        """Store each item at the path in the same position (as :meth:`save`).

        Raises ``ValueError`` when the two sequences differ in length, before
        writing anything.
        """
        if len(items) != len(paths):
            raise StorageValueError(
                f"save_batch got {len(items)} items for {len(paths)} paths (the lengths differ); "
                "pass one path per item"
            )
        for item, path in zip(items, paths, strict=True):
            self.save(item, path, overwrite=overwrite, **kwargs)

    def delete(self, path: PathLike, *, recursive: bool = False) -> None:
        """Remove the file at ``path``, or the folder with ``recursive=True``.

        Raises ``FileNotFoundError`` when nothing is there and
        ``IsADirectoryError`` for a folder without ``recursive=True``.
        """
        raise self._missing("delete")

    def ensure_directory(self, path: PathLike) -> str:
        """Create the folder ``path`` and those above it if needed; return the path.

        Raises ``FileExistsError`` when a file is at ``path``.
        """
        raise self._missing("ensure_directory")

    def copy(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        """Copy the file or folder at ``src`` to ``dst``.

        Raises ``FileNotFoundError`` when ``src`` does not exist,
        ``FileExistsError`` when ``dst`` does and ``overwrite`` is false, and
        ``ValueError`` when ``dst`` is inside the folder ``src``. With
        ``overwrite=True``, ``dst`` equal to ``src`` leaves it as it is.
        """
        raise self._missing("copy")

    def move(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        """Move the file or folder at ``src`` to ``dst`` (errors as :meth:`copy`)."""
        raise self._missing("move")

    def create_symlink(self, target: PathLike, link: PathLike, *, overwrite: bool = False) -> None:
        """Make ``link`` a symbolic link to the file or folder ``target``.

        Creates the folders above ``link``. Raises ``FileNotFoundError`` when
        nothing is at ``target``, ``FileExistsError`` when something is at
        ``link`` and ``overwrite`` is false, and ``IsADirectoryError`` when
        a folder (not a link) is there even with ``overwrite``. A backend
        without links raises ``NotImplementedError`` saying so, which is also
        the default.
        """
        raise self._missing("create_symlink")


class ReadOnlyBackend(StorageBackend):
    """A backend that reads and lists but refuses every write with ``PermissionError``."""

    _read_only = True

    def _refuse(self, action: str, path: PathLike) -> PermissionError:
        return StoragePermissionError(
            f"storage backend {self.name!r} is read-only: cannot {action} {os.fspath(path)!r}; "
            "write through a read-write backend such as 'disk' or 'memory'"
        )

    def save(self, data: Any, path: PathLike, *, overwrite: bool = False, **kwargs: Any) -> None:
        raise self._refuse("save", path)

    def save_batch(
        self,
        items: Sequence[Any],
        paths: Sequence[PathLike],
        *,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> None:
        raise StoragePermissionError(
            f"storage backend {self.name!r} is read-only: cannot save a batch of "
            f"{len(paths)} path(s); write through a read-write backend such as 'disk' or 'memory'"
        )

    def delete(self, path: PathLike, *, recursive: bool = False) -> None:
        raise self._refuse("delete", path)

    def ensure_directory(self, path: PathLike) -> str:
        raise self._refuse("create the folder", path)

    def copy(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        raise self._refuse("copy to", dst)

    def move(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        raise self._refuse("move", src)

    def create_symlink(self, target: PathLike, link: PathLike, *, overwrite: bool = False) -> None:
        raise self._refuse("create the link", link)


def not_found(backend: StorageBackend, path: PathLike) -> FileNotFoundError:
    """The ``FileNotFoundError`` every backend raises for a missing ``path``.

    Its ``errno`` is ``ENOENT``, its message names the backend, and its
    ``filename`` is the path: ``raise not_found(self, path) from None``.
    """
    text = os.fspath(path)
    return StorageFileNotFoundError(
        2, f"no such file or folder in the {backend.name} backend", text
    )
