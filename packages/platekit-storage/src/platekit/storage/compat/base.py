"""What polystore's backends share, as platekit backends: its method names and call forms.

:class:`PolystoreCalls` is mixed into each compat backend in front of the
platekit backend it adapts; platekit's own methods stay underneath, so a
compat backend is a full platekit backend too.
"""

from __future__ import annotations

import os
from pathlib import Path

from platekit.storage._base import ReadOnlyBackend, StorageBackend
from platekit.storage.compat.exceptions import StorageResolutionError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    PathLike = str | os.PathLike[str]

#: polystore's default byte bound for read_verified_source_bytes (64 MiB).
VERIFIED_RESOURCE_MAX_BYTES = 64 * 1024 * 1024


class PolystoreCalls:
    """polystore's backend methods over a platekit backend's."""

    def list_files(
        self,
        directory: PathLike,
        pattern: str | None = None,
        extensions: Iterable[str] | None = None,
        recursive: bool = False,
    ) -> list[str]:
        """As platekit's, with polystore's positional ``pattern, extensions, recursive``."""
        found: list[str] = super().list_files(  # type: ignore[misc]
            directory, pattern=pattern, extensions=extensions, recursive=recursive
        )
        return found

    def delete_all(self, path: PathLike) -> None:
        """Remove the file, or the folder and everything in it, at ``path``."""
        self.delete(path, recursive=True)  # type: ignore[attr-defined]

    def stat(self, path: PathLike) -> dict[str, Any]:
        """polystore's record: ``type`` (file, directory, symlink or missing), ``path``,
        ``exists``, and ``target`` for a link."""
        backend: StorageBackend = self  # type: ignore[assignment]
        record: dict[str, Any] = {"path": str(path)}
        if backend.is_symlink(path):
            itself = super().stat(path, follow_symlinks=False)  # type: ignore[misc]
            target, exists = itself.target, bool(itself.target_exists)
            return {**record, "type": "symlink", "target": target, "exists": exists}
        if backend.is_dir(path):
            return {**record, "type": "directory", "exists": True}
        if backend.is_file(path):
            return {**record, "type": "file", "exists": True}
        return {**record, "type": "missing", "exists": False}

    def accepts_payload(self, data: Any, identifier: PathLike) -> bool:
        """Whether the backend takes ``data`` at ``identifier`` (platekit's ``accepts``)."""
        return bool(self.accepts(data, identifier))  # type: ignore[attr-defined]

    def resolve_listed_address(self, listed_address: PathLike, *, directory: PathLike) -> Any:
        """The address a listing entry stands for: the entry itself (no backend here renames)."""
        del directory
        return listed_address

    def contextual_save_kwargs(self, *, images_dir: str | None) -> dict[str, Any]:
        """Keyword arguments this backend wants for saves beside ``images_dir``: none."""
        del images_dir
        return {}

    def load_text(self, file_path: PathLike) -> str:
        """The text stored at ``file_path``; ``TypeError`` when it holds something else."""
        value = self.load(file_path)  # type: ignore[attr-defined]
        if not isinstance(value, str):
            raise TypeError(f"Stored value at {os.fspath(file_path)} is not text.")
        return value

    def physical_source_path(self, backend_address: PathLike, *, base_path: PathLike) -> Any:
        """The file behind ``backend_address``: itself when absolute, else under ``base_path``."""
        address = Path(backend_address)
        return address if address.is_absolute() else Path(base_path) / address

    def read_verified_source_bytes(
        self,
        backend_address: PathLike,
        *,
        base_path: PathLike,
        expected_sha256: str,
        max_bytes: int = VERIFIED_RESOURCE_MAX_BYTES,
    ) -> bytes:
        """platekit's :meth:`~platekit.storage.StorageBackend.read_bytes`, as polystore calls it."""
        from platekit.storage._verified import check_request

        check_request(expected_sha256, max_bytes)
        physical = self.physical_source_path(backend_address, base_path=base_path)
        if physical is None:
            raise StorageResolutionError(
                f"Opaque source {os.fspath(backend_address)!r} has no physical byte resource."
            )
        return self.read_bytes(  # type: ignore[attr-defined, no-any-return]
            physical, sha256=expected_sha256, max_bytes=max_bytes
        )


__all__ = [
    "VERIFIED_RESOURCE_MAX_BYTES",
    "PolystoreCalls",
    "ReadOnlyBackend",
    "StorageBackend",
]
