"""The wire protocol: JSON headers checked on receipt, raw array frames, error codes, no pickle."""

from __future__ import annotations

import ast
import json
import pickle
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zmq

from platekit.zmq import PROTOCOL_VERSION, Client, ServerError, ZMQServer, launch_server
from platekit.zmq import _protocol as protocol
from platekit.zmq._protocol import (
    CONTROL_SCHEMA,
    MAX_HEADER_BYTES,
    Field,
    ProtocolError,
    array_fields,
    array_from,
    error,
    header,
    parse,
    parts,
)

SCHEMA = {
    **CONTROL_SCHEMA,
    "put": {"name": Field("str"), "count": Field("int", required=False)},
    "scale": {"factor": Field("number")},
}


#: A well-formed ping, as text: encoded in anything but UTF-8 it is malformed.
PING = '{"protocol": 1, "type": "ping", "id": 1}'


def _code(frame: bytes, schema: Any = SCHEMA) -> str:
    with pytest.raises(ProtocolError) as failed:
        parse(frame, schema)
    return failed.value.code


def _raw(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields).encode()


# -- headers -----------------------------------------------------------------------------


def test_a_header_carries_the_protocol_version_and_type_and_parses_back() -> None:
    frame = header("put", id=7, name="A01", count=2)
    assert json.loads(frame) == {
        "protocol": PROTOCOL_VERSION,
        "type": "put",
        "id": 7,
        "name": "A01",
        "count": 2,
    }
    assert parse(frame, SCHEMA)["name"] == "A01"
    assert parse(memoryview(frame), SCHEMA)["count"] == 2


def test_an_error_reply_names_its_code_message_and_request() -> None:
    assert json.loads(error("busy", "the queue is full", 3)) == {
        "protocol": PROTOCOL_VERSION,
        "type": "error",
        "error": "busy",
        "message": "the queue is full",
        "id": 3,
    }
    assert "id" not in json.loads(error("malformed", "no"))


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\xff\xfe not utf-8",
        b"{not json",
        b"[1, 2, 3]",
        b'"a string"',
        b"null",
        pickle.dumps({"protocol": 1, "type": "ping"}),
        b"[" * 20_000 + b"]" * 20_000,
        b'{"protocol": 1, "type": "ping", "x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b'{"protocol": 1, "type": "ping", "id": ' + b"9" * 5000 + b"}",
        PING.encode("utf-16"),
        PING.encode("utf-16-le"),
        PING.encode("utf-32"),
        PING.encode("utf-32-be"),
        PING.encode("utf-8-sig"),
        b'{"protocol": 1, "type": "ping", "id": NaN}',
        b'{"protocol": 1, "type": "ping", "id": -Infinity}',
    ],
    ids=[
        "empty",
        "not-utf8",
        "not-json",
        "list",
        "string",
        "null",
        "pickle",
        "deep-list",
        "deep-field",
        "huge-int",
        "utf-16",
        "utf-16-le",
        "utf-32",
        "utf-32-be",
        "utf-8-bom",
        "nan",
        "infinity",
    ],
)
def test_what_is_not_a_json_object_is_malformed(frame: bytes) -> None:
    assert _code(frame) == "malformed"


@pytest.mark.parametrize("version", [None, 0, 2, "1", True, [1], 1.0, 1.5])
def test_another_protocol_version_is_refused_saying_which(version: Any) -> None:
    fields: dict[str, Any] = {"type": "ping"}
    if version is not None:
        fields["protocol"] = version
    with pytest.raises(ProtocolError) as failed:
        parse(_raw(fields), SCHEMA)
    assert failed.value.code == "protocol_version"
    assert f"speaks platekit protocol {PROTOCOL_VERSION}" in str(failed.value)
    assert repr(version) in str(failed.value)


@pytest.mark.parametrize("kind", [None, "pong", "PING", 3, ["ping"]])
def test_an_unknown_type_is_refused_listing_the_known_ones(kind: Any) -> None:
    fields = {"protocol": PROTOCOL_VERSION} | ({} if kind is None else {"type": kind})
    with pytest.raises(ProtocolError, match="this server takes ping, put, scale") as failed:
        parse(_raw(fields), SCHEMA)
    assert failed.value.code == "unknown_type"


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"type": "put"}, "needs the field 'name'"),
        ({"type": "put", "name": 3}, "field 'name' of a 'put' message must be str, got int"),
        ({"type": "put", "name": "A", "count": 1.5}, "must be int, got float"),
        ({"type": "put", "name": "A", "count": True}, "must be int, got bool"),
        ({"type": "scale", "factor": False}, "must be number, got bool"),
        ({"type": "scale", "factor": "2"}, "must be number, got str"),
        ({"type": "put", "name": "A", "nmae": "B"}, "has no field 'nmae'"),
        ({"type": "ping", "id": [1]}, "'id' must be a string or an integer"),
        ({"type": "ping", "id": 1.5}, "'id' must be a string or an integer"),
        ({"type": "ping", "id": True}, "'id' must be a string or an integer"),
    ],
)
def test_a_field_missing_unknown_or_of_the_wrong_type_is_invalid(
    fields: dict[str, Any], says: str
) -> None:
    with pytest.raises(ProtocolError, match=re.escape(says)) as failed:
        parse(_raw({"protocol": PROTOCOL_VERSION, **fields}), SCHEMA)
    assert failed.value.code == "invalid"


def test_optional_fields_may_be_left_out_and_numbers_take_ints() -> None:
    assert parse(_raw({"protocol": 1, "type": "put", "name": "A"}), SCHEMA)["name"] == "A"
    assert parse(_raw({"protocol": 1, "type": "scale", "factor": 2}), SCHEMA)["factor"] == 2


def test_a_header_above_the_limit_is_too_large_before_it_is_decoded() -> None:
    padding = "x" * MAX_HEADER_BYTES
    frame = _raw({"protocol": 1, "type": "put", "name": padding})
    with pytest.raises(ProtocolError, match=f"at most {MAX_HEADER_BYTES}") as failed:
        parse(frame, SCHEMA)
    assert failed.value.code == "too_large"


def test_a_message_without_frames_is_malformed() -> None:
    with pytest.raises(ProtocolError) as failed:
        parts([])
    assert failed.value.code == "malformed"
    first, rest = parts([b"{}", b"a", b"b"])
    assert first == b"{}" and rest == [b"a", b"b"]


def test_field_types_are_checked_when_a_schema_is_written() -> None:
    with pytest.raises(ValueError, match="unknown field type 'string'"):
        Field("string")


# -- arrays --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "<u2", ">u2", "float32", "int64", "bool", "c8"])
def test_an_array_travels_as_its_raw_bytes_and_arrives_without_a_copy(dtype: str) -> None:
    array = (np.arange(24) % 2).astype(dtype).reshape(2, 3, 4)
    fields = array_fields(array)
    assert json.loads(json.dumps(fields)) == fields
    frame = array.tobytes()
    back = array_from(frame, fields["dtype"], fields["shape"], max_items=10_000)
    np.testing.assert_array_equal(back, array)
    assert back.dtype == array.dtype
    assert np.shares_memory(back, np.frombuffer(frame, dtype=np.uint8))


def test_an_array_from_a_zmq_frame_shares_the_frames_memory() -> None:
    frame = zmq.Frame(np.arange(6, dtype="<u2").tobytes())
    back = array_from(frame, "<u2", [2, 3], max_items=100)
    assert back.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert np.shares_memory(back, np.frombuffer(frame.buffer, dtype=np.uint8))


@pytest.mark.parametrize(
    "dtype", ["O", "object", "|O", "V8", [["a", "<i4"]], "<U4", "S3", "M8[s]", "m8", 3, "nope"]
)
def test_only_plain_numeric_dtypes_are_accepted(dtype: Any) -> None:
    with pytest.raises(ProtocolError) as failed:
        array_from(b"\0" * 64, dtype, [4], max_items=100)
    assert failed.value.code == "invalid"


@pytest.mark.parametrize("shape", [3, "3", [2.0], [-1], [True], [1] * 33, None, {"a": 1}])
def test_a_shape_must_be_a_list_of_sizes(shape: Any) -> None:
    with pytest.raises(ProtocolError, match="must be a list of sizes"):
        array_from(b"\0" * 3, "u1", shape, max_items=100)


def test_a_frame_of_the_wrong_size_or_an_array_too_large_is_refused() -> None:
    with pytest.raises(ProtocolError, match=r"holds 5 bytes, but .* needs 6") as wrong:
        array_from(b"\0" * 5, "<u2", [3], max_items=100)
    assert wrong.value.code == "invalid"
    with pytest.raises(ProtocolError) as large:
        array_from(b"", "u1", [1000, 1000], max_items=10)
    assert large.value.code == "too_large"


_UNPICKLERS = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve"}
_PYOBJ = {"recv_pyobj", "send_pyobj", "recv_serialized", "send_serialized"}


def test_no_module_of_the_package_imports_a_pickler_or_sends_python_objects() -> None:
    source = Path(protocol.__file__).parent
    found = []
    for path in sorted(source.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name.partition(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.partition(".")[0]]
            elif isinstance(node, ast.Attribute) and node.attr in _PYOBJ:
                names = [node.attr]
            found += [
                f"{path.name}:{node.lineno} {name}"
                for name in names
                if name in _UNPICKLERS or name in _PYOBJ
            ]
    assert found == []


# -- on the wire ---------------------------------------------------------------------------


class Keeper(ZMQServer):
    """An in-process server with a request of its own (no key: it joins no registry)."""

    data_socket = "ROUTER"
    schema = {"put": {"name": Field("str")}}

    def handle(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        return [header("stored", id=request.get("id"), name=request["name"], frames=len(buffers))]

    def handle_data(self, identity: bytes, frames: list[Any]) -> list[Any]:
        try:
            request = parse(parts(frames)[0], {"put": {"name": Field("str")}})
        except ProtocolError as exc:
            return [error(exc.code, str(exc))]
        return [header("stored", name=request["name"])]


@pytest.fixture
def raw(run_server: Callable[[Any], Any]) -> Iterator[Callable[..., dict[str, Any]]]:
    """Send raw frames to a running Keeper from a DEALER; the reply header as a dict."""
    server = run_server(Keeper())
    context = zmq.Context()
    sockets: dict[str, Any] = {}

    def send(*frames: bytes, socket: str = "control") -> dict[str, Any]:
        if socket not in sockets:
            dealer = context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            address = server.control_address if socket == "control" else server.data_address
            dealer.connect(address)
            sockets[socket] = dealer
        dealer = sockets[socket]
        dealer.send_multipart([b"", *frames])
        assert dealer.poll(10_000), "the server did not answer within 10 s"
        reply = dealer.recv_multipart()
        assert reply[0] == b""
        decoded: dict[str, Any] = json.loads(reply[1])
        return decoded

    try:
        yield send
    finally:
        for dealer in sockets.values():
            dealer.close(linger=0)
        context.term()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x80\x04not json", "malformed"),
        (pickle.dumps(["ping"]), "malformed"),
        (b'{"protocol": 99, "type": "ping"}', "protocol_version"),
        (b'{"protocol": 1.0, "type": "ping"}', "protocol_version"),
        (PING.encode("utf-16"), "malformed"),
        (PING.encode("utf-32"), "malformed"),
        (PING.encode("utf-8-sig"), "malformed"),
        (b'{"protocol": 1, "type": "launch_missiles"}', "unknown_type"),
        (b'{"protocol": 1, "type": "put", "name": 5}', "invalid"),
        (b'{"protocol": 1, "type": "put"}', "invalid"),
        (
            b'{"protocol": 1, "type": "ping", "pad": "' + b"x" * MAX_HEADER_BYTES + b'"}',
            "too_large",
        ),
    ],
)
def test_every_bad_message_gets_an_error_reply_and_the_server_serves_on(
    raw: Callable[..., dict[str, Any]], frame: bytes, code: str
) -> None:
    reply = raw(frame)
    assert reply["type"] == "error"
    assert reply["protocol"] == PROTOCOL_VERSION
    assert reply["error"] == code
    assert reply["message"]
    assert raw(header("ping", id=1))["type"] == "pong"


@pytest.mark.parametrize(
    "fields",
    [
        {"protocol": 2, "type": "ping", "id": 41},
        {"protocol": 1, "type": "nope", "id": "r-41"},
        {"protocol": 1, "type": "put", "id": 41},
        {"protocol": 1, "type": "put", "name": 1, "id": 41},
    ],
)
def test_an_error_reply_carries_the_id_of_the_request_it_refuses(
    raw: Callable[..., dict[str, Any]], fields: dict[str, Any]
) -> None:
    reply = raw(_raw(fields))
    assert reply["type"] == "error"
    assert reply["id"] == fields["id"]


def test_an_empty_message_is_malformed_and_a_request_id_comes_back(
    raw: Callable[..., dict[str, Any]],
) -> None:
    assert raw()["error"] == "malformed"
    assert raw(header("ping", id="abc"))["id"] == "abc"
    assert raw(header("put", id=4, name="A01"), b"pixels")["frames"] == 1


def test_the_data_socket_answers_bad_messages_too(raw: Callable[..., dict[str, Any]]) -> None:
    assert raw(b"junk", socket="data")["error"] == "malformed"
    assert raw(header("put", name="A01"), socket="data") == {
        "protocol": PROTOCOL_VERSION,
        "type": "stored",
        "name": "A01",
    }


@pytest.mark.slow
def test_a_client_of_another_protocol_version_is_told_so(
    probe_plugin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with launch_server("probe") as handle:
        # What a platekit-zmq speaking the next protocol would send.
        with monkeypatch.context() as patch:
            patch.setattr(protocol, "PROTOCOL_VERSION", PROTOCOL_VERSION + 1)
            with (
                Client(handle.address, timeout=10) as client,
                pytest.raises(ServerError) as refused,
            ):
                client.ping()
        assert refused.value.code == "protocol_version"
        assert str(refused.value) == (
            f"this server speaks platekit protocol {PROTOCOL_VERSION}, the message says "
            f"{PROTOCOL_VERSION + 1}; use a platekit-zmq client of the same protocol version"
        )
        assert handle.ping()["type"] == "pong"
