"""polystore's ``FileManager``: platekit's, with the calls polystore adds."""

from __future__ import annotations

import os
import posixpath
from collections import ChainMap

from platekit.storage._errors import BackendNotFoundError
from platekit.storage._file_manager import FileManager as _PlatekitFileManager
from platekit.storage.compat.base import VERIFIED_RESOURCE_MAX_BYTES
from platekit.storage.compat.exceptions import StorageResolutionError, UnknownBackendError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from platekit.storage._base import StorageBackend

    PathLike = str | os.PathLike[str]

#: The suffixes ``list_image_files`` keeps by default: the image formats platekit reads.
DEFAULT_IMAGE_EXTENSIONS = frozenset(
    {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".npy"}
)


class FileManager(_PlatekitFileManager):
    """platekit's :class:`~platekit.storage.FileManager` plus polystore's own calls.

    Every call of platekit's keeps its platekit meaning; ``list_files``
    also takes ``pattern``, ``extensions`` and ``recursive`` by position,
    as polystore's does.
    """

    @property
    def registry(self) -> Any:
        """Name -> backend: those given, under those added with ``register_backend``.

        A view of this file manager's own, not the mapping it was given.
        """
        return ChainMap(self._registered, self.backends)  # type: ignore[arg-type]

    def backend(self, name: str) -> StorageBackend:
        """platekit's; an unknown name raises :class:`UnknownBackendError` (a ``KeyError`` and
        polystore's ``StorageResolutionError``)."""
        try:
            return super().backend(name)
        except BackendNotFoundError as exc:  # not a backend that failed while being made
            raise UnknownBackendError(*exc.args) from None

    def _get_backend(self, backend: str) -> Any:
        return self.backend(backend)

    def resolve_listed_address(
        self, listed_address: PathLike, backend: str, *, directory: PathLike
    ) -> Any:
        """The address a listing entry of ``backend`` stands for (the backend's answer)."""
        found = self.backend(backend)
        resolve = getattr(found, "resolve_listed_address", None)
        return listed_address if resolve is None else resolve(listed_address, directory=directory)

    def contextual_save_kwargs(self, backend: str, *, images_dir: str | None) -> Any:
        """The keyword arguments ``backend`` wants for saves beside ``images_dir``."""
        found = self.backend(backend)
        wanted = getattr(found, "contextual_save_kwargs", None)
        return {} if wanted is None else wanted(images_dir=images_dir)

    def list_files(
        self,
        directory: PathLike,
        backend: str,
        pattern: str | None = None,
        extensions: Iterable[str] | None = None,
        recursive: bool = False,
    ) -> list[str]:
        return super().list_files(
            directory, backend, pattern=pattern, extensions=extensions, recursive=recursive
        )

    def list_image_files(
        self,
        directory: PathLike,
        backend: str,
        pattern: str | None = None,
        extensions: Iterable[str] = DEFAULT_IMAGE_EXTENSIONS,
        recursive: bool = False,
    ) -> list[str]:
        """The image files in ``directory``, as strings: ``list_files`` with image suffixes by
        default."""
        return [
            os.fspath(path)
            for path in self.list_files(directory, backend, pattern, extensions, recursive)
        ]

    def find_file_recursive(self, directory: PathLike, filename: str, backend: str) -> str | None:
        """The first file named ``filename`` below ``directory``, in natural order; or None."""
        for path in self.list_files(directory, backend, recursive=True):
            if posixpath.basename(os.fspath(path).replace("\\", "/")) == filename:
                return path
        return None

    def delete_all(self, path: PathLike, backend: str) -> bool:
        """Delete the file, or the folder and everything in it, at ``path``."""
        self.delete(path, backend, recursive=True)
        return True

    def load_text(self, file_path: PathLike, backend: str) -> str:
        """The text stored at ``file_path``; ``TypeError`` when it holds something else."""
        value = self.load(file_path, backend)
        if not isinstance(value, str):
            raise TypeError(f"Stored value at {os.fspath(file_path)} is not text.")
        return value

    def physical_source_path(
        self, backend_address: PathLike, backend: str, *, base_path: PathLike
    ) -> Any:
        """The file behind ``backend_address`` in the backend, or None when there is none."""
        found = getattr(self.backend(backend), "physical_source_path", None)
        if found is None:
            raise StorageResolutionError(
                f"Backend {backend!r} has no physical source paths: use a compat backend"
            )
        return found(backend_address, base_path=base_path)

    def read_verified_source_bytes(
        self,
        backend_address: PathLike,
        backend: str,
        *,
        base_path: PathLike,
        expected_sha256: str,
        max_bytes: int = VERIFIED_RESOURCE_MAX_BYTES,
    ) -> bytes:
        """The source's exact bytes, bounded and checked (platekit's ``read_bytes``)."""
        source = self.backend(backend)
        reader = getattr(source, "read_verified_source_bytes", None)
        if reader is not None:
            return reader(  # type: ignore[no-any-return]
                backend_address,
                base_path=base_path,
                expected_sha256=expected_sha256,
                max_bytes=max_bytes,
            )
        return source.read_bytes(backend_address, sha256=expected_sha256, max_bytes=max_bytes)


__all__ = ["DEFAULT_IMAGE_EXTENSIONS", "FileManager"]
