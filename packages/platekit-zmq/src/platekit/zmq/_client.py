"""Client: requests to a server's control socket, each with a timeout, never blocking forever."""

from __future__ import annotations

import itertools

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

#: Seconds a request waits for its reply by default.
DEFAULT_TIMEOUT = 10.0


class ServerGone(TimeoutError):
    """No reply within the timeout: the server is not running, stuck, or unreachable."""


class ServerError(RuntimeError):
    """The server answered with an error reply; ``code`` is its ``error`` field."""

    def __init__(self, code: str, message: str, reply: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.reply = reply


def check_timeout(timeout: object) -> float:
    """``timeout`` as seconds to wait; ``ValueError`` naming it unless it is a positive number."""
    import math

    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        seconds = math.nan
    else:
        seconds = float(timeout)
    # NaN fails both comparisons, so it is refused too; infinity would wait forever.
    if not 0 < seconds < math.inf:
        raise ValueError(
            f"--timeout {timeout!r} is not a time to wait; give the seconds to wait for each "
            f"reply, a number above 0 (default {DEFAULT_TIMEOUT:g})"
        )
    return seconds


class Client:
    """Talks to one server's control socket at ``address`` (``tcp://127.0.0.1:PORT``).

    Every request waits at most ``timeout`` seconds, then raises
    :class:`ServerGone`; an error reply raises :class:`ServerError`. An
    address of another form raises ``ValueError`` (``AddressError``) saying
    what to give instead, and so does a ``timeout`` that is not above 0.
    ``curve`` holds CURVE socket options (see
    :func:`platekit.zmq.client_keys`) for a server bound beyond loopback.
    """

    def __init__(
        self, address: str, *, timeout: float = DEFAULT_TIMEOUT, curve: dict[Any, Any] | None = None
    ) -> None:
        import zmq
        from platekit.zmq._address import check_address

        self.address = check_address(address)
        self.timeout = check_timeout(timeout)
        self._curve = curve or {}
        self._context: Any = zmq.Context.instance()
        self._socket: Any = None
        self._ids = itertools.count(1)

    def _connect(self) -> Any:
        import zmq
        from platekit.zmq._address import connect

        if self._socket is None:
            socket = self._context.socket(zmq.DEALER)
            socket.setsockopt(zmq.LINGER, 0)
            for option, value in self._curve.items():
                socket.setsockopt(option, value)
            connect(socket, self.address)
            self._socket = socket
        return self._socket

    def request(self, kind: str, buffers: Sequence[Any] = (), **fields: Any) -> dict[str, Any]:
        """Send a ``kind`` request and return the reply's header.

        Raises :class:`ServerGone` when no reply comes within the timeout
        (the socket is then replaced, so a late reply is never taken for the
        next one) and :class:`ServerError` for an error reply.
        """
        import json
        import time

        import zmq
        from platekit.zmq._protocol import header

        socket = self._connect()
        request_id = next(self._ids)
        socket.send_multipart([b"", header(kind, id=request_id, **fields), *buffers], copy=False)
        # One deadline for the request: late replies to earlier requests do not extend it.
        deadline = time.monotonic() + self.timeout
        while True:
            # The wait is in the receive itself (0: do not wait), one call rather than two.
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            socket.setsockopt(zmq.RCVTIMEO, left_ms)
            try:
                frames = socket.recv_multipart()
            except zmq.Again:
                self.close()
                raise ServerGone(
                    f"no reply from {self.address} within {self.timeout:g} s to {kind!r}; "
                    + self._why_no_reply()
                ) from None
            body = frames[1:] if frames and frames[0] == b"" else frames
            try:
                reply = json.loads(body[0]) if body else None
            except (ValueError, RecursionError):
                reply = None
            if not isinstance(reply, dict):
                raise ServerError(
                    "malformed",
                    f"{self.address} answered {kind!r} with something that is not a platekit "
                    "reply (a JSON object); is a platekit server listening there?",
                    {},
                )
            if reply.get("id") not in (request_id, None):
                continue  # a reply to an earlier request that timed out
            if reply.get("type") == "error":
                raise ServerError(reply.get("error", "error"), reply.get("message", ""), reply)
            return reply

    def _why_no_reply(self) -> str:
        # A CURVE server drops a client without keys (or with unlisted ones) without a word.
        if self._curve:
            return (
                "is the server running, and is this client's public key in its allow-list "
                "(KEYS_FOLDER/clients/)?"
            )
        return (
            "is the server running (start one with 'platekit serve KIND')? A server started "
            "with --keys requires CURVE keys and answers no one without them: pass "
            "--client-key CLIENT.key_secret --server-key KEYS_FOLDER/server.key "
            "(in Python, curve=client_keys(CLIENT.key_secret, SERVER.key))"
        )

    def ping(self) -> dict[str, Any]:
        """The server's ``pong``: type, pid, version, uptime, ready, queue, data address."""
        return self.request("ping")

    def status(self) -> dict[str, Any]:
        return self.request("status")

    def shutdown(self) -> dict[str, Any]:
        return self.request("shutdown")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
