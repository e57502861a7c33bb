"""Reading a source's exact bytes with proof of what was read: a size bound and a SHA-256."""

from __future__ import annotations

import hashlib
import os

from platekit.storage._errors import StorageValueError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    PathLike = str | os.PathLike[str]

_HEX = frozenset("0123456789abcdefABCDEF")


def check_request(sha256: str | None, max_bytes: int | None) -> None:
    """Refuse, before reading, a digest that is no SHA-256 or a bound that is no positive int."""
    if max_bytes is not None and (
        type(max_bytes) is not int or max_bytes <= 0  # bool is an int, and no bound
    ):
        raise StorageValueError(
            f"max_bytes must be a positive integer (a number of bytes), not {max_bytes!r}"
        )
    if sha256 is not None and (
        not isinstance(sha256, str) or len(sha256) != 64 or not set(sha256) <= _HEX
    ):
        raise StorageValueError(
            f"sha256 must be the 64 hexadecimal digits of a SHA-256 digest, not {sha256!r}"
        )


def verified(
    path: PathLike, read: Callable[[int], bytes], sha256: str | None, max_bytes: int | None
) -> bytes:
    """The bytes ``read(limit)`` gives, checked against ``max_bytes`` and ``sha256``.

    ``read`` returns at most ``limit`` bytes (-1: all of them), so a source
    larger than the bound is never read whole. Raises ``ValueError`` naming
    the path when the source holds more than ``max_bytes`` or its digest
    differs from ``sha256``.
    """
    check_request(sha256, max_bytes)
    data = read(-1 if max_bytes is None else max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:
        raise StorageValueError(
            f"{os.fspath(path)!r} holds more than the byte bound of {max_bytes} bytes "
            "(max_bytes); nothing was returned. Raise the bound if the source may be larger"
        )
    if sha256 is not None:
        found = hashlib.sha256(data).hexdigest()
        if found != sha256.lower():
            raise StorageValueError(
                f"{os.fspath(path)!r} was read, but its SHA256 does not match the digest expected: "
                f"expected {sha256.lower()}, read {found}. The source changed, or the expected "
                "digest is of another file"
            )
    return data
