"""Fuzzing: every malformed message gets its error reply; the server serves on, memory bounded."""

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
from platekit.zmq._protocol import CONTROL_SCHEMA, MAX_HEADER_BYTES, Field, ProtocolError, parse

#: The messages the fuzzing sends, all told.
MESSAGES = 10_000
#: The server's message size limit in these tests: above it, ZeroMQ drops the message.
LIMIT = 1024 * 1024
#: How much the server's resident memory may grow over the whole run.
RSS_GROWTH_LIMIT = 50 * 1024 * 1024

# The probe server's schema (tests/conftest.py), to know what each message deserves.
PROBE_SCHEMA = {
    **CONTROL_SCHEMA,
    "echo": {"text": Field("str")},
    "spew": {"size": Field("int")},
    "fail": {},
    "nap": {"seconds": Field("number")},
}
# Requests that would stop, stall or flood the server: never sent well-formed.
NOT_SENT = {"shutdown", "spew", "nap", "fail"}

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_types = st.sampled_from(["ping", "status", "echo", "Ping", "", "nope", "error", "pong"]) | _json
_fields = {
    "id": st.integers() | st.text(max_size=10) | _json,
    "text": st.text(max_size=10) | _json,
    "size": _json,
    "seconds": _json,
}
_extra = st.dictionaries(st.text(max_size=8), _json, max_size=2)
# Anything that might be a header: any protocol, any type, any fields.
_shapes = st.fixed_dictionaries(
    {},
    optional={
        "protocol": st.sampled_from([PROTOCOL_VERSION, 0, 2, "1", True, None]) | _json,
        "type": _types,
        **_fields,
    },
)
# Headers of this protocol, of types the server knows, with fields that may be wrong.
_requests = st.fixed_dictionaries(
    {"protocol": st.just(PROTOCOL_VERSION), "type": _types}, optional=_fields
)
_headers = st.one_of(
    st.binary(max_size=512),  # random bytes
    _json.map(lambda value: json.dumps(value).encode()),  # JSON that is not a header
    st.tuples(_shapes, _extra).map(lambda pair: json.dumps(pair[1] | pair[0]).encode()),
    st.tuples(_requests, _extra).map(lambda pair: json.dumps(pair[1] | pair[0]).encode()),
    _requests.map(lambda value: json.dumps(value).encode()),
    st.integers(500, MAX_HEADER_BYTES // 2).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(MAX_HEADER_BYTES + 1, 4 * MAX_HEADER_BYTES).map(  # headers above the limit
        lambda size: b'{"protocol": 1, "type": "ping", "pad": "' + b"x" * size + b'"}'
    ),
)
_messages = st.tuples(
    st.sampled_from(["control"] * 9 + ["data"]),
    st.lists(_headers, min_size=0, max_size=1),
    st.lists(st.binary(max_size=64), max_size=3),  # frames after the header
)


def _rss(pid: int) -> int:
    """The resident memory of process ``pid``, in bytes, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/{pid}/status has no VmRSS line")


def _expected(frames: list[bytes]) -> str:
    """What the server answers ``frames`` on its control socket: an error code or a reply type."""
    if not frames:
        return "malformed"
    try:
        request = parse(frames[0], PROBE_SCHEMA)
    except ProtocolError as exc:
        return exc.code
    assume(request["type"] not in NOT_SENT)
    return {"ping": "pong", "status": "status", "echo": "echo"}[request["type"]]


@pytest.fixture
def fuzzed(probe_plugin: Path) -> Iterator[ServerHandle]:
    with launch_server("probe", max_message_bytes=LIMIT) as handle:
        yield handle


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
        assert dealer.poll(10_000), f"no reply within 10 s to {frames[:1]!r}..."
        reply = dealer.recv_multipart()
        assert reply[0] == b"" and len(reply) == 2, reply
        assert not dealer.poll(0), "more than one reply to one message"
        decoded: dict[str, Any] = json.loads(reply[1])
        return decoded

    def close(self) -> None:
        for dealer in self.sockets.values():
            dealer.close(linger=0)
        self.context.term()


@pytest.mark.slow
def test_ten_thousand_malformed_messages_each_get_their_reply_in_bounded_memory(
    fuzzed: ServerHandle,
) -> None:
    peer = Peer(fuzzed)
    sent = {"control": 0, "data": 0}
    try:
        # Warm up, so the measurement starts from a server that has answered before.
        for _ in range(200):
            peer.ask("control", [b"warm up"])
            peer.ask("data", [b"warm up"])
        before = _rss(fuzzed.pid)

        @settings(
            max_examples=MESSAGES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(_messages)
        def fuzz(message: tuple[str, list[bytes], list[bytes]]) -> None:
            socket, header, buffers = message
            frames = [*header, *buffers]
            reply = peer.ask(socket, frames)
            sent[socket] += 1
            assert reply["protocol"] == PROTOCOL_VERSION
            if socket == "data":
                assert reply["type"] == "echo" and reply["frames"] == len(frames)
                return
            expected = _expected(frames)
            if reply["type"] == "error":
                assert reply["error"] == expected, reply
                assert reply["message"]
            else:
                assert reply["type"] == expected, reply

        fuzz()
        after = _rss(fuzzed.pid)
    finally:
        peer.close()
    assert sent["control"] + sent["data"] >= MESSAGES
    assert sent["data"] > 0
    pong = fuzzed.ping()
    assert pong["ready"] is True
    assert after - before < RSS_GROWTH_LIMIT, (
        f"the server grew from {before >> 20} MiB to {after >> 20} MiB"
    )


@pytest.mark.slow
def test_a_message_above_the_size_limit_is_refused_and_the_server_serves_on(
    fuzzed: ServerHandle,
) -> None:
    context = zmq.Context()
    try:
        for size in (LIMIT + 1, 4 * LIMIT, 16 * LIMIT):
            # One socket each: ZeroMQ drops the connection that carried the message.
            dealer = context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(fuzzed.address)
            dealer.send_multipart([b"", b'{"protocol": 1, "type": "ping"}', b"\0" * size])
            assert not dealer.poll(1_000), f"a {size}-byte message was answered"
            dealer.close(linger=0)
            assert fuzzed.ping()["ready"] is True
        # Just under the limit is taken: a ping with a large buffer frame after it.
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(fuzzed.address)
        dealer.send_multipart([b"", b'{"protocol": 1, "type": "ping"}', b"\0" * (LIMIT // 2)])
        assert dealer.poll(10_000)
        assert json.loads(dealer.recv_multipart()[1])["type"] == "pong"
        dealer.close(linger=0)
    finally:
        context.term()
