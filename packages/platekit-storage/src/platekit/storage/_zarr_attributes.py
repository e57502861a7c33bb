"""The user attributes of Zarr nodes: checked to be JSON, read, and rewritten atomically.

A Zarr v3 node keeps them under ``"attributes"`` in its ``zarr.json``; a Zarr
v2 node in a ``.zattrs`` document of their own. A rewrite goes to a temporary
file in the node's folder and replaces the document with ``os.replace``, so
a reader sees the old document or the new one, never half of one.
"""

from __future__ import annotations

import json
import math
import os
import reprlib

from platekit.storage._zarr_nodes import METADATA, STAGING, V2_ATTRIBUTES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: Deeper nesting than this is refused (it also stops a list that contains itself).
_MAX_DEPTH = 64


def json_attributes(attributes: object, where: str) -> dict[str, Any]:
    """``attributes`` as a plain JSON dict; ``TypeError`` naming the key that is not JSON.

    JSON here means dicts with string keys, lists and tuples, strings, finite
    numbers, booleans and None; ``where`` names the node in the message.
    """
    if not isinstance(attributes, dict):
        raise TypeError(
            f"the attributes of {where!r} must be a dict of JSON-safe values, "
            f"not {type(attributes).__name__}"
        )
    for key, value in attributes.items():
        if not isinstance(key, str):
            raise TypeError(f"attribute names of {where!r} must be strings, not {key!r}")
        problem = _not_json(value, 0)
        if problem is not None:
            raise TypeError(
                f"attribute {key!r} of {where!r} is not JSON-safe: {problem}. Store dicts, "
                "lists, strings, finite numbers, booleans and None (numpy values: .tolist())"
            )
    # A round trip makes tuples lists and leaves nothing shared with the caller.
    result: dict[str, Any] = json.loads(json.dumps(attributes, allow_nan=False))
    return result


def _not_json(value: object, depth: int) -> str | None:
    """Why ``value`` is not JSON, or None when it is."""
    if depth > _MAX_DEPTH:
        return f"nested deeper than {_MAX_DEPTH} levels"
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a finite number"
    if isinstance(value, (list, tuple)):
        for item in value:
            problem = _not_json(item, depth + 1)
            if problem is not None:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"it holds a dict with the non-string key {key!r}"
            problem = _not_json(item, depth + 1)
            if problem is not None:
                return problem
        return None
    return f"it holds a value of type {type(value).__name__} ({reprlib.repr(value)})"


def read_attributes(folder: str, zarr_format: int) -> dict[str, Any]:
    """The user attributes of the node in ``folder`` (``{}`` when it has none)."""
    name = METADATA if zarr_format == 3 else V2_ATTRIBUTES
    try:
        with open(os.path.join(folder, name), "rb") as file:
            document = json.loads(file.read())
    except FileNotFoundError:
        if zarr_format == 3:
            raise
        return {}  # a v2 node without .zattrs has no attributes
    found = document.get("attributes") if zarr_format == 3 else document
    return dict(found) if isinstance(found, dict) else {}


def write_attributes(
    folder: str, zarr_format: int, attributes: dict[str, Any], merge: bool
) -> None:
    """Replace (or, with ``merge``, update the top-level keys of) the node's user attributes.

    Raises ``FileNotFoundError`` when the node's folder or its v3 ``zarr.json`` is gone.
    """

    def combined(old: dict[str, Any]) -> dict[str, Any]:
        return {**old, **attributes} if merge else attributes

    if zarr_format == 3:

        def change(document: Any) -> Any:
            if not isinstance(document, dict):
                raise FileNotFoundError(os.path.join(folder, METADATA))
            old = document.get("attributes")
            return {**document, "attributes": combined(old if isinstance(old, dict) else {})}

        _rewrite(folder, METADATA, change)
    else:
        _rewrite(folder, V2_ATTRIBUTES, lambda old: combined(old if isinstance(old, dict) else {}))


def _rewrite(folder: str, name: str, change: Callable[[Any], Any]) -> None:
    """Replace the JSON document ``name`` in ``folder`` by ``change(old)`` (old: None if absent).

    Where the platform allows, every step goes through one handle on the
    folder: a node replaced meanwhile by another one (renamed aside, the new
    one renamed in) then gets nothing, instead of the old node's metadata.
    """
    by_handle = hasattr(os, "O_DIRECTORY") and {os.open, os.rename, os.unlink} <= os.supports_dir_fd
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY) if by_handle else None

    def at(entry: str) -> str:
        return entry if directory is not None else os.path.join(folder, entry)

    try:
        try:
            handle = os.open(at(name), os.O_RDONLY, dir_fd=directory)
        except FileNotFoundError:
            old = None
        else:
            with os.fdopen(handle, "rb") as source:
                old = json.loads(source.read())
        content = json.dumps(change(old), indent=2, ensure_ascii=False).encode()
        temporary = f"{STAGING}{os.urandom(6).hex()}"
        handle = os.open(
            at(temporary), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666, dir_fd=directory
        )
        try:
            with os.fdopen(handle, "wb") as sink:
                sink.write(content)
            os.replace(at(temporary), at(name), src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            try:
                os.unlink(at(temporary), dir_fd=directory)
            except FileNotFoundError:
                pass
            raise
    finally:
        if directory is not None:
            os.close(directory)
