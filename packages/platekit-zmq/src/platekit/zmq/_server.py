"""ZMQServer: the registry of platekit's servers, and the loop every one of them runs.

A server binds two sockets: **control** (ROUTER; ``ping``, ``status``,
``shutdown`` and the server's own requests, each answered) and **data**
(its kind says which: the execution server publishes progress on a PUB
socket, the stream server takes images on a ROUTER). The loop polls both
with a short timeout, so it notices a stop request, a signal, or the death
of the process that launched it within about a second, and it answers every
malformed message with an error reply instead of falling over.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from platekit.registry import AutoRegisterMeta, LazyDiscoveryDict, RegistryConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from platekit.zmq._protocol import Schema

#: Every server class, by ``_server_type``.
ZMQ_SERVERS = LazyDiscoveryDict()

#: The largest message a server accepts by default (bytes): one 8-bit 16k x 16k image.
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: The largest value of ZeroMQ's 64-bit socket options (MAXMSGSIZE) and of its int ones (HWM).
ZMQ_INT64_MAX = 2**63 - 1
ZMQ_INT_MAX = 2**31 - 1
#: How long one poll waits (ms): the longest a stop request or a signal waits to be seen.
POLL_MS = 100
#: How often the launching process is checked (s).
PARENT_CHECK_SECONDS = 1.0


def _check_message_bytes(limit: object) -> None:
    """Refuse a frame limit that would turn away requests the protocol allows.

    ZeroMQ reads -1 as no limit, which would let any client fill the server's memory, and
    anything below a header's largest size as a reason to drop requests without a reply.
    """
    from platekit.zmq._protocol import MAX_HEADER_BYTES

    if isinstance(limit, bool) or not isinstance(limit, int) or limit < MAX_HEADER_BYTES:
        raise ValueError(
            f"--max-message-bytes {limit!r} is not a limit the server can take; give a number "
            f"of bytes from {MAX_HEADER_BYTES} (the largest header) up, such as the default "
            f"{DEFAULT_MAX_MESSAGE_BYTES}"
        )
    if limit > ZMQ_INT64_MAX:
        raise ValueError(
            f"--max-message-bytes {limit} is more than ZeroMQ can count ({ZMQ_INT64_MAX}); "
            f"give a smaller number of bytes, such as the default {DEFAULT_MAX_MESSAGE_BYTES}"
        )


class ZMQServer(metaclass=AutoRegisterMeta):
    """A platekit server in its own process. Subclasses register under ``_server_type``.

    A subclass sets ``_server_type``, ``help`` and ``data_socket`` (``"PUB"``
    or ``"ROUTER"``), extends :attr:`schema` with its own requests and
    answers them in :meth:`handle`, answers data messages in
    :meth:`handle_data` (ROUTER data sockets), and may do periodic work in
    :meth:`tick`. Options given on the command line (``--option value``)
    arrive as keyword arguments of ``__init__``.
    """

    __registry_config__ = RegistryConfig(
        registry_dict=ZMQ_SERVERS,
        key_attribute="_server_type",
        skip_if_no_key=True,
        registry_name="zmq server",
        discovery_package="platekit.zmq.servers",
        entry_point_group="platekit.zmq_servers",
        metadata_attributes=("help",),
    )

    #: The server's kind: ``platekit serve KIND``.
    _server_type: str | None = None
    #: One line for ``platekit serve --help``.
    help: str = ""
    #: The data socket's ZeroMQ type: "PUB" or "ROUTER".
    data_socket: str = "PUB"
    #: Requests on the control socket, beyond ping, status and shutdown.
    schema: Schema = {}  # noqa: RUF012 - subclasses replace it, nobody mutates it

    def __init__(
        self,
        *,
        bind: str = "127.0.0.1",
        port: int = 0,
        keys: str | None = None,
        parent_pid: int | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        from platekit.zmq._address import AddressError, check_interface
        from platekit.zmq._security import check_bind

        bind = check_interface(bind)
        if not isinstance(port, int) or not 0 <= port <= 65534:
            raise AddressError(
                f"--port {port!r} is not a port the server can take; give a number from 1 to "
                "65534 (the data socket takes the next one), or 0 for free ports"
            )
        if bind == "ipc" and port:
            raise AddressError(
                f"--port {port!r} has no meaning with --bind ipc, whose sockets are files in the "
                "temporary folder, not ports; leave --port out, or bind an interface such as "
                "127.0.0.1"
            )
        check_bind(bind, keys)
        _check_message_bytes(max_message_bytes)
        self.bind = bind
        self.port = port
        self.keys = keys
        self.parent_pid = parent_pid
        self.max_message_bytes = max_message_bytes
        self.started = time.time()
        self.ready = False
        self.control_address = ""
        self.data_address = ""
        self._stopping = False
        self._context: Any = None
        self._control: Any = None
        self._data: Any = None
        self._auth: Any = None

    # -- the parts a subclass fills in ------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        """Add the server's own ``platekit serve KIND`` options (keyword arguments of __init__)."""

    def handle(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        """The reply frames to a control request of this server's own schema."""
        from platekit.zmq._protocol import ProtocolError

        raise ProtocolError("unknown_type", f"{self.name} takes no {request['type']!r} request")

    def handle_data(self, identity: bytes, frames: list[Any]) -> list[Any] | None:
        """The reply to a message on a ROUTER data socket, or ``None`` for no reply."""
        return None

    def tick(self) -> None:
        """Periodic work, called after every poll (at least every ``POLL_MS``)."""

    def queue_state(self) -> dict[str, Any]:
        """What ``ping`` reports of the server's queue."""
        return {}

    def status(self) -> dict[str, Any]:
        """What ``status`` reports, beyond what ``ping`` does."""
        return {}

    def close(self) -> None:
        """Release what the server holds beyond its sockets (worker processes, stores)."""

    # -- running ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"the {self._server_type or type(self).__name__} server"

    def start(self) -> None:
        """Bind both sockets (and start CURVE authentication when keys were given)."""
        import zmq

        self._context = zmq.Context()
        try:
            security: dict[Any, Any] = {}
            if self.keys is not None:
                security = self._start_curve(zmq)
            self._control = self._socket(zmq.ROUTER, security)
            self._data = self._socket(getattr(zmq, self.data_socket), security)
            self.control_address = self._bind(self._control, self.port)
            self.data_address = self._bind(self._data, self.port + 1 if self.port else 0)
        except BaseException:
            # A refused bind or key folder leaves nothing open behind it.
            self.shutdown()
            raise
        self.ready = True

    def _start_curve(self, zmq: Any) -> dict[Any, Any]:
        from platekit.zmq._security import server_keys
        from zmq.auth.thread import ThreadAuthenticator

        public, secret, allowed = server_keys(self.keys or "")
        self._auth = ThreadAuthenticator(self._context)
        self._auth.start()
        self._auth.configure_curve(domain="*", location=str(allowed))
        return {zmq.CURVE_SERVER: 1, zmq.CURVE_PUBLICKEY: public, zmq.CURVE_SECRETKEY: secret}

    def _socket(self, kind: int, security: dict[Any, Any]) -> Any:
        import zmq

        socket = self._context.socket(kind)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        if ":" in self.bind:
            # Without it ZeroMQ cannot bind an IPv6 interface ("No such device").
            socket.setsockopt(zmq.IPV6, 1)
        for option, value in security.items():
            socket.setsockopt(option, value)
        return socket

    def _bind(self, socket: Any, port: int) -> str:
        if self.bind == "ipc":
            import tempfile

            path = tempfile.mktemp(prefix="platekit-", suffix=".sock")
            address = f"ipc://{path}"
            socket.bind(address)
            return address
        import zmq

        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        try:
            if port:
                socket.bind(f"tcp://{host}:{port}")
            else:
                port = socket.bind_to_random_port(f"tcp://{host}")
        except zmq.ZMQError as exc:
            where = f"{self.bind} port {port}" if port else self.bind
            raise OSError(
                exc.errno,
                f"cannot bind {where}: {exc.strerror}; give another --port, or a --bind "
                "address of this machine",
            ) from None
        return f"tcp://{host}:{port}"

    def stop(self) -> None:
        """Ask the loop to end after the current message."""
        self._stopping = True

    def serve_forever(self) -> None:
        """Answer messages until :meth:`stop`, ``shutdown``, SIGTERM/SIGINT or the launcher ends."""
        import threading

        import zmq

        # Only the main thread may set signal handlers; a loop in another thread ends by stop().
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: self.stop())
        poller = zmq.Poller()
        poller.register(self._control, zmq.POLLIN)
        if self.data_socket == "ROUTER":
            poller.register(self._data, zmq.POLLIN)
        checked = time.monotonic()
        try:
            while not self._stopping:
                events = dict(poller.poll(POLL_MS))
                if self._control in events:
                    self._answer_control()
                if self._data in events:
                    self._answer_data()
                self.tick()
                now = time.monotonic()
                if now - checked >= PARENT_CHECK_SECONDS:
                    checked = now
                    if not self._parent_alive():
                        print(
                            f"{self.name}: the process that launched it is gone; stopping",
                            file=sys.stderr,
                        )
                        self.stop()
        finally:
            self.shutdown()

    def _parent_alive(self) -> bool:
        if self.parent_pid is None:
            return True
        if os.getppid() != self.parent_pid:
            return False
        try:
            os.kill(self.parent_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def shutdown(self) -> None:
        """Close the sockets and everything else the server holds."""
        self.ready = False
        try:
            self.close()
        finally:
            for socket in (self._control, self._data):
                if socket is not None:
                    socket.close(linger=0)
            if self._auth is not None:
                self._auth.stop()
            if self._context is not None:
                self._context.term()
            self._control = self._data = self._context = self._auth = None
            # ZeroMQ leaves an ipc:// socket's file behind; nobody else will remove it.
            for address in (self.control_address, self.data_address):
                if address.startswith("ipc://"):
                    try:
                        os.unlink(address[len("ipc://") :])
                    except OSError:
                        pass

    # -- answering --------------------------------------------------------------------------

    def _answer_control(self) -> None:
        import zmq

        # Several messages may be waiting; answer a bounded number per poll.
        for _ in range(100):
            try:
                frames = self._control.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            envelope, body = _split_envelope(frames)
            reply = self._reply_to(body)
            try:
                self._control.send_multipart([*envelope, *reply], zmq.NOBLOCK, copy=False)
            except zmq.ZMQError:
                # The peer went away, or its queue is full: the reply is dropped, not the server.
                pass
            if self._stopping:
                return

    def _reply_to(self, frames: Sequence[Any]) -> list[Any]:
        from platekit.zmq._protocol import (
            CONTROL_SCHEMA,
            ProtocolError,
            error,
            header,
            id_of,
            parse,
            parts,
        )

        request_id = None
        try:
            first, buffers = parts(frames)
            request = parse(first, {**CONTROL_SCHEMA, **self.schema})
            request_id = request.get("id")
            kind = request["type"]
            if kind == "ping":
                return [header("pong", id=request_id, **self.ping())]
            if kind == "status":
                return [header("status", id=request_id, **self.ping(), **self.status())]
            if kind == "shutdown":
                self.stop()
                return [header("ok", id=request_id, message=f"{self.name} is stopping")]
            reply = self.handle(request, buffers)
            return reply
        except ProtocolError as exc:
            if request_id is None and frames:
                request_id = id_of(frames[0])
            return [error(exc.code, str(exc), request_id)]
        except Exception as exc:
            # A bug or a failure while answering must not end the server.
            return [error("internal", f"{type(exc).__name__}: {exc}", request_id)]

    def _answer_data(self) -> None:
        import zmq
        from platekit.zmq._protocol import error

        for _ in range(100):
            try:
                frames = self._data.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            envelope, body = _split_envelope(frames)
            try:
                reply = self.handle_data(envelope[0].bytes if envelope else b"", body)
            except Exception as exc:
                reply = [error("internal", f"{type(exc).__name__}: {exc}")]
            if reply is not None:
                try:
                    self._data.send_multipart([*envelope, *reply], zmq.NOBLOCK, copy=False)
                except zmq.ZMQError:
                    pass

    def ping(self) -> dict[str, Any]:
        """What ``ping`` answers: type, pid, version, uptime, readiness, queue, data address."""
        from platekit.zmq import __version__
        from platekit.zmq._protocol import PROTOCOL_VERSION

        return {
            "server_type": self._server_type,
            "pid": os.getpid(),
            "version": __version__,
            "protocol_version": PROTOCOL_VERSION,
            "uptime": round(time.time() - self.started, 3),
            "ready": self.ready and not self._stopping,
            "queue": self.queue_state(),
            "data_address": self.data_address,
        }


def _split_envelope(frames: list[Any]) -> tuple[list[Any], list[Any]]:
    """A ROUTER message's routing frames (identity and delimiter) and its body."""
    for index, frame in enumerate(frames):
        if index and len(frame) == 0:
            return frames[: index + 1], frames[index + 1 :]
    # A DEALER peer without a delimiter: the identity alone routes the reply.
    return frames[:1], frames[1:]
