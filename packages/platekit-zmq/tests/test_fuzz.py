"""Fuzzing the real servers: every malformed message gets its error reply, the server serves on.

The execution server (control socket) and the stream server (control and
data sockets) are launched as users launch them, and sent messages drawn by
hypothesis: random bytes, JSON that is no header, headers in UTF-16, UTF-32
or with a byte-order mark, protocols such as ``1.0`` or ``"1"``, unknown
types, fields missing or of the wrong type, deep nesting, oversize headers,
and requests of the server's own schema with values that may be wrong. A
message the protocol refuses gets exactly the error ``parse`` predicts; one
it accepts gets one of the replies its type has, never ``internal``. The
count of messages is fixed, each reply is awaited at most 10 s, and the
server's resident memory must stay bounded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from platekit.zmq import PROTOCOL_VERSION, ServerHandle, launch_server
from platekit.zmq._protocol import CONTROL_SCHEMA, MAX_HEADER_BYTES, ProtocolError, parse
from platekit.zmq.servers.execution import ExecutionServer
from platekit.zmq.servers.stream import BAD_PATH, DATA_SCHEMA, STORE_ERRORS

#: The messages sent to each server, all told.
MESSAGES = 4_000
#: The servers' message size limit in these tests: above it, ZeroMQ drops the message.
LIMIT = 1024 * 1024
#: How much a server's resident memory may grow over the whole run.
RSS_GROWTH_LIMIT = 50 * 1024 * 1024
#: Seconds a single reply is awaited.
REPLY_SECONDS = 10

_STORE_CODES = {"invalid", "too_large", BAD_PATH, *(code for code, _ in STORE_ERRORS)}
_ANSWERS = {"answer", *(f"error:{code}" for code in _STORE_CODES)}
_DONE = {"done", *(f"error:{code}" for code in _STORE_CODES)}

# What each server answers on each socket: its schema, and the replies each request type may get.
SERVERS: dict[str, dict[str, tuple[dict[str, Any], dict[str, set[str]]]]] = {
    "execution": {
        "control": (
            {**CONTROL_SCHEMA, **ExecutionServer.schema},
            {
                "ping": {"pong"},
                "status": {"status"},
                "submit": {
                    "accepted",
                    "error:invalid",
                    "error:busy",
                    "error:forbidden",
                    "error:unavailable",
                },
                "job": {"job", "error:not_found"},
                "jobs": {"jobs"},
                "cancel": {"ok", "error:not_found"},
            },
        ),
    },
    "stream": {
        "control": (dict(CONTROL_SCHEMA), {"ping": {"pong"}, "status": {"status"}}),
        "data": (
            DATA_SCHEMA,
            {
                "save": {"stored", *_ANSWERS - {"answer"}},
                "load": {"array", *_ANSWERS - {"answer"}},
                "list": {"files", *_ANSWERS - {"answer"}},
                "list_dir": {"names", *_ANSWERS - {"answer"}},
                "exists": _ANSWERS,
                "is_file": _ANSWERS,
                "is_dir": _ANSWERS,
                "delete": _DONE,
                "ensure_directory": _DONE,
                "copy": _DONE,
                "move": _DONE,
            },
        ),
    },
}
# Requests that would stop the server: never sent well-formed.
NOT_SENT = {"shutdown"}

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_ids = st.integers() | st.text(max_size=10) | _json
_protocols = st.sampled_from(
    [PROTOCOL_VERSION, 0, 2, -1, 2**70, 1.0, 1.5, "1", True, None, [1], {"v": 1}]
)
# Values of the right type for each field kind, mixed with any JSON at all.
_TYPED = {
    "str": st.sampled_from(["echo", "sleep", "convert", "nope", "a.tif", "d/a.tif", "../x", ""])
    | st.text(max_size=12),
    "int": st.integers(-5, 5) | st.integers(),
    "number": st.integers(0, 3) | st.floats(allow_nan=False, allow_infinity=False),
    "bool": st.booleans(),
    "object": st.dictionaries(st.sampled_from(["value", "seconds", "steps"]), st.integers(0, 1))
    | st.dictionaries(st.text(max_size=8), _json, max_size=3),
    "list": st.lists(st.integers(0, 4), max_size=3) | st.lists(_json, max_size=3),
    "any": _json,
}
_ENCODINGS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "utf-8-sig"]


def _requests(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Headers of this protocol, of a type the socket takes, with its fields, right or wrong."""

    def of(kind: str) -> st.SearchStrategy[dict[str, Any]]:
        fields = {
            name: _TYPED[field.kind] | _json if field.kind != "any" else _json
            for name, field in schema[kind].items()
        }
        return st.fixed_dictionaries(
            {"protocol": st.just(PROTOCOL_VERSION), "type": st.just(kind)},
            optional={**fields, "id": _ids},
        )

    return st.sampled_from(sorted(set(schema) - NOT_SENT)).flatmap(of)


def _headers(schema: dict[str, Any]) -> st.SearchStrategy[bytes]:
    requests = _requests(schema)
    types = st.sampled_from([*schema, "Ping", "", "nope", "error", "pong"]) | _json
    extra = st.dictionaries(st.text(max_size=8), _json, max_size=2)
    shapes = st.fixed_dictionaries(
        {}, optional={"protocol": _protocols | _json, "type": types, "id": _ids}
    )
    return st.one_of(
        st.binary(max_size=512),  # random bytes
        _json.map(lambda value: json.dumps(value).encode()),  # JSON that is not a header
        st.tuples(shapes, extra).map(lambda pair: json.dumps(pair[1] | pair[0]).encode()),
        # A request of another protocol, or of protocol 1.0.
        st.tuples(requests, _protocols).map(
            lambda pair: json.dumps({**pair[0], "protocol": pair[1]}).encode()
        ),
        st.tuples(requests, extra).map(lambda pair: json.dumps(pair[1] | pair[0]).encode()),
        requests.map(lambda value: json.dumps(value).encode()),
        requests.map(lambda value: json.dumps(value).encode()),
        # A request the server would take, in an encoding it must not.
        st.tuples(requests, st.sampled_from(_ENCODINGS)).map(
            lambda pair: json.dumps(pair[0]).encode(pair[1])
        ),
        st.integers(500, MAX_HEADER_BYTES // 2).map(lambda depth: b"[" * depth + b"]" * depth),
        st.integers(MAX_HEADER_BYTES + 1, 2 * MAX_HEADER_BYTES).map(  # headers above the limit
            lambda size: b'{"protocol": 1, "type": "ping", "pad": "' + b"x" * size + b'"}'
        ),
    )


def _messages(kind: str) -> st.SearchStrategy[tuple[str, list[bytes], list[bytes]]]:
    sockets = SERVERS[kind]
    return st.sampled_from(sorted(sockets)).flatmap(
        lambda socket: st.tuples(
            st.just(socket),
            st.lists(_headers(sockets[socket][0]), min_size=0, max_size=1),
            st.lists(st.binary(max_size=64), max_size=2),  # frames after the header
        )
    )


def _rss(pid: int) -> int:
    """The resident memory of process ``pid``, in bytes, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/{pid}/status has no VmRSS line")


def _expected(kind: str, socket: str, frames: list[bytes]) -> set[str]:
    """The replies ``frames`` may get: a reply type, or ``error:CODE``."""
    schema, replies = SERVERS[kind][socket]
    if not frames:
        return {"error:malformed"}
    try:
        request = parse(frames[0], schema)
    except ProtocolError as exc:
        return {f"error:{exc.code}"}
    assume(request["type"] not in NOT_SENT)
    return replies[request["type"]]


class Peer:
    """A DEALER on each of the server's sockets, sending raw frames, waiting for one reply."""

    def __init__(self, handle: ServerHandle) -> None:
        self.context = zmq.Context()
        self.addresses = {"control": handle.address, "data": handle.data_address}
        self.sockets: dict[str, Any] = {}

    def ask(self, socket: str, frames: list[bytes]) -> dict[str, Any]:
        if socket not in self.sockets:
            dealer = self.context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(self.addresses[socket])
            self.sockets[socket] = dealer
        dealer = self.sockets[socket]
        dealer.send_multipart([b"", *frames])
        assert dealer.poll(REPLY_SECONDS * 1000), f"no reply to {frames[:1]!r}..."
        reply = dealer.recv_multipart()
        assert not dealer.poll(0), "more than one reply to one message"
        assert reply[0] == b"", reply
        decoded: dict[str, Any] = json.loads(reply[1])
        # Only an array comes with a frame after its header.
        assert len(reply) == (3 if decoded.get("type") == "array" else 2), reply
        return decoded

    def close(self) -> None:
        for dealer in self.sockets.values():
            dealer.close(linger=0)
        self.context.term()


@pytest.fixture(params=sorted(SERVERS))
def fuzzed(request: pytest.FixtureRequest) -> Iterator[tuple[str, ServerHandle]]:
    kind: str = request.param
    with launch_server(kind, max_message_bytes=LIMIT) as handle:
        yield kind, handle


@pytest.mark.slow
def test_malformed_messages_each_get_their_reply_in_bounded_memory(
    fuzzed: tuple[str, ServerHandle],
) -> None:
    kind, server = fuzzed
    peer = Peer(server)
    sent = dict.fromkeys(SERVERS[kind], 0)
    try:
        # Warm up, so the measurement starts from a server that has answered before.
        for _ in range(200):
            for socket in SERVERS[kind]:
                peer.ask(socket, [b"warm up"])
        before = _rss(server.pid)

        @settings(
            max_examples=MESSAGES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(_messages(kind))
        def fuzz(message: tuple[str, list[bytes], list[bytes]]) -> None:
            socket, header, buffers = message
            frames = [*header, *buffers]
            expected = _expected(kind, socket, frames)
            reply = peer.ask(socket, frames)
            sent[socket] += 1
            assert reply["protocol"] == PROTOCOL_VERSION
            got = f"error:{reply['error']}" if reply["type"] == "error" else reply["type"]
            assert got in expected, (frames[:1], reply)
            if reply["type"] == "error":
                assert reply["message"]

        fuzz()
        after = _rss(server.pid)
    finally:
        peer.close()
    assert sum(sent.values()) >= MESSAGES // 2
    assert all(sent.values()), sent
    assert server.ping()["ready"] is True
    assert after - before < RSS_GROWTH_LIMIT, (
        f"the {kind} server grew from {before >> 20} MiB to {after >> 20} MiB"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("header", "code"),
    [
        (b'{"protocol": 1, "type": "ping"}'.decode().encode("utf-16"), "malformed"),
        (b'{"protocol": 1, "type": "ping"}'.decode().encode("utf-32"), "malformed"),
        (b'{"protocol": 1, "type": "ping"}'.decode().encode("utf-8-sig"), "malformed"),
        (b'{"protocol": 1.0, "type": "ping"}', "protocol_version"),
        (b'{"protocol": "1", "type": "ping"}', "protocol_version"),
        (b'{"protocol": 1, "type": "ping", "id": NaN}', "malformed"),
    ],
)
def test_each_family_the_protocol_forbids_is_refused_by_both_servers(
    fuzzed: tuple[str, ServerHandle], header: bytes, code: str
) -> None:
    kind, server = fuzzed
    peer = Peer(server)
    try:
        for socket in SERVERS[kind]:
            reply = peer.ask(socket, [header])
            assert reply["type"] == "error" and reply["error"] == code, (socket, reply)
    finally:
        peer.close()
    assert server.ping()["ready"] is True


@pytest.mark.slow
def test_a_message_above_the_size_limit_is_refused_and_the_server_serves_on(
    fuzzed: tuple[str, ServerHandle],
) -> None:
    _, server = fuzzed
    context = zmq.Context()
    try:
        for size in (LIMIT + 1, 4 * LIMIT, 16 * LIMIT):
            # One socket each: ZeroMQ drops the connection that carried the message.
            dealer = context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(server.address)
            dealer.send_multipart([b"", b'{"protocol": 1, "type": "ping"}', b"\0" * size])
            assert not dealer.poll(1_000), f"a {size}-byte message was answered"
            dealer.close(linger=0)
            assert server.ping()["ready"] is True
        # Just under the limit is taken: a ping with a large buffer frame after it.
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(server.address)
        dealer.send_multipart([b"", b'{"protocol": 1, "type": "ping"}', b"\0" * (LIMIT // 2)])
        assert dealer.poll(REPLY_SECONDS * 1000)
        assert json.loads(dealer.recv_multipart()[1])["type"] == "pong"
        dealer.close(linger=0)
    finally:
        context.term()
