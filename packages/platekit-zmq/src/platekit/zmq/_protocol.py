"""The platekit wire protocol: JSON headers, raw buffers in frames of their own, checked on receipt.

A message is one ZeroMQ multipart message. Its first frame is a JSON object
(UTF-8) with at least ``"protocol"`` (this module's :data:`PROTOCOL_VERSION`)
and ``"type"``; an array travels in the frames after it, as its raw bytes,
described in the header (``dtype``, ``shape``). Nothing is ever pickled: a
peer can send bytes, never code. docs/zmq.rst writes the protocol down.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

#: The protocol version this package speaks; a peer speaking another is refused.
PROTOCOL_VERSION = 1
#: The largest JSON header accepted, in bytes.
MAX_HEADER_BYTES = 64 * 1024

# A field's type in a request schema: the Python types a JSON value may decode to.
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "number": (int, float),
    "bool": (bool,),
    "object": (dict,),
    "list": (list,),
    "any": (str, int, float, bool, dict, list, type(None)),
}


class ProtocolError(ValueError):
    """A message that breaks the protocol; ``code`` says how, for the error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Field:
    """One field of a request: its JSON type, and whether it must be there."""

    __slots__ = ("kind", "required")

    def __init__(self, kind: str, required: bool = True) -> None:
        if kind not in _TYPES:
            raise ValueError(f"unknown field type {kind!r}; use one of {sorted(_TYPES)}")
        self.kind = kind
        self.required = required


#: Request type -> field name -> Field: what a server accepts.
Schema = dict[str, dict[str, Field]]

#: The control requests every server answers.
CONTROL_SCHEMA: Schema = {"ping": {}, "status": {}, "shutdown": {}}


def header(kind: str, **fields: Any) -> bytes:
    """The JSON header frame of a message of type ``kind``."""
    return json.dumps(
        {"protocol": PROTOCOL_VERSION, "type": kind, **fields}, separators=(",", ":")
    ).encode()


def error(code: str, message: str, request_id: Any = None) -> bytes:
    """The header of an error reply: ``{"type": "error", "error": code, "message": ...}``."""
    fields: dict[str, Any] = {"error": code, "message": message}
    if request_id is not None:
        fields["id"] = request_id
    return header("error", **fields)


def parse(frame: bytes | memoryview, schema: Mapping[str, Mapping[str, Field]]) -> dict[str, Any]:
    """The checked header in ``frame``; :class:`ProtocolError` saying what is wrong otherwise.

    Checks, in order: size, UTF-8 JSON object, protocol version, a known
    ``type``, and each field of that type's schema (present when required,
    of its type); fields the schema does not name are refused too, so a typo
    is an error rather than silently ignored.
    """
    if len(frame) > MAX_HEADER_BYTES:
        raise ProtocolError(
            "too_large", f"the header is {len(frame)} bytes; at most {MAX_HEADER_BYTES} are taken"
        )
    decoded = _decode(frame)
    if not isinstance(decoded, dict):
        raise ProtocolError(
            "malformed", f"the header must be a JSON object, got {type(decoded).__name__}"
        )
    version = decoded.get("protocol")
    # An integer, exactly: 1.0 and true compare equal to 1 in Python, not on the wire.
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise ProtocolError(
            "protocol_version",
            f"this server speaks platekit protocol {PROTOCOL_VERSION}, the message says "
            f"{version!r}; use a platekit-zmq client of the same protocol version",
        )
    kind = decoded.get("type")
    if not isinstance(kind, str) or kind not in schema:
        raise ProtocolError(
            "unknown_type",
            f"unknown message type {kind!r}; this server takes {', '.join(sorted(schema))}",
        )
    fields = schema[kind]
    for name, value in decoded.items():
        if name in ("protocol", "type", "id"):
            continue
        field = fields.get(name)
        if field is None:
            raise ProtocolError("invalid", f"a {kind!r} message has no field {name!r}")
        if not _is_a(value, field.kind):
            raise ProtocolError(
                "invalid",
                f"field {name!r} of a {kind!r} message must be {field.kind}, "
                f"got {type(value).__name__}",
            )
    for name, field in fields.items():
        if field.required and name not in decoded:
            raise ProtocolError("invalid", f"a {kind!r} message needs the field {name!r}")
    request_id = decoded.get("id")
    if request_id is not None and (
        not isinstance(request_id, (str, int)) or isinstance(request_id, bool)
    ):
        raise ProtocolError("invalid", "field 'id' must be a string or an integer")
    return decoded


def _decode(frame: bytes | memoryview) -> Any:
    """The JSON value in ``frame``, read as UTF-8 only; ``ProtocolError("malformed")`` otherwise.

    ``json.loads`` of bytes would also take UTF-16, UTF-32 and a UTF-8
    byte-order mark, and NaN or Infinity, none of which is UTF-8 JSON.
    """
    try:
        text = bytes(frame).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError("malformed", f"the header is not UTF-8: {exc}") from None
    if text.startswith("\ufeff"):
        raise ProtocolError(
            "malformed", "the header starts with a byte-order mark; send UTF-8 without one"
        )
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise ProtocolError("malformed", f"the header is not UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError(
            "malformed", "the header nests arrays or objects too deeply to decode"
        ) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def id_of(frame: Any) -> str | int | None:
    """The ``id`` of a header that was refused, when it has a readable one (else ``None``).

    Error replies carry it, so a peer with several requests in flight knows
    which one was refused.
    """
    data = frame.bytes if hasattr(frame, "bytes") else frame
    if len(data) > MAX_HEADER_BYTES:
        return None
    try:
        decoded = _decode(data)
    except ProtocolError:
        return None
    found = decoded.get("id") if isinstance(decoded, dict) else None
    return found if isinstance(found, (str, int)) and not isinstance(found, bool) else None


def _is_a(value: object, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("int", "number"):
        return False
    return isinstance(value, _TYPES[kind])


def array_fields(array: Any) -> dict[str, Any]:
    """The header fields that describe ``array`` travelling in the next frame."""
    return {"dtype": array.dtype.str, "shape": list(array.shape)}


def array_from(frame: Any, dtype: object, shape: object, max_items: int) -> Any:
    """The numpy array in ``frame`` (a zmq Frame or bytes), without copying.

    Raises :class:`ProtocolError` for a dtype that is not a plain numeric one
    (object dtypes would be a way to smuggle code), a shape that is not a
    list of sizes, or a frame whose size does not match them.
    """
    import numpy as np

    try:
        parsed = np.dtype(dtype)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ProtocolError("invalid", f"{dtype!r} is not a numpy dtype") from None
    if parsed.kind not in "biufc" or parsed.hasobject or parsed.fields is not None:
        raise ProtocolError(
            "invalid", f"dtype {dtype!r} is not a plain numeric type (bool, int, uint, float)"
        )
    if (
        not isinstance(shape, (list, tuple))
        or len(shape) > 32
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise ProtocolError("invalid", f"shape {shape!r} must be a list of sizes")
    count = 1
    for size in shape:
        count *= size
    if count > max_items:
        raise ProtocolError("too_large", f"an array of shape {list(shape)} is larger than allowed")
    buffer = frame.buffer if hasattr(frame, "buffer") else memoryview(frame)
    if len(buffer) != count * parsed.itemsize:
        raise ProtocolError(
            "invalid",
            f"the frame holds {len(buffer)} bytes, but a {parsed} array of shape {list(shape)} "
            f"needs {count * parsed.itemsize}",
        )
    return np.frombuffer(buffer, dtype=parsed).reshape(shape)


def parts(frames: Sequence[Any]) -> tuple[bytes | memoryview, list[Any]]:
    """The header frame's bytes and the frames after it; ``ProtocolError`` for no frame."""
    if not frames:
        raise ProtocolError("malformed", "the message has no frames")
    first = frames[0]
    data = first.bytes if hasattr(first, "bytes") else first
    return data, list(frames[1:])
