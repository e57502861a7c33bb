"""launch_server: a server in a subprocess, ready when this returns, stopped by its handle."""

from __future__ import annotations

import json
import os
import sys
import time

from platekit.zmq._client import Client, ServerGone

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from typing import Any

#: The line a server prints on stdout once its sockets are bound.
READY = "PLATEKIT-ZMQ-READY "
# What is kept of an unfinished line of the server's output while waiting for READY.
MAX_LINE_BYTES = 64 * 1024


class ServerStartError(RuntimeError):
    """The server process ended, or did not answer, before it was ready."""


class ServerHandle:
    """A launched server: its addresses, a client for it, and the process behind it."""

    def __init__(
        self,
        process: subprocess.Popen[str],
        ready: dict[str, Any],
        log: str,
        timeout: float,
        curve: dict[Any, Any] | None = None,
    ) -> None:
        self.process = process
        self.address: str = ready["control"]
        self.data_address: str = ready["data"]
        self.pid: int = process.pid
        self.log_path = log
        self.client = Client(self.address, timeout=timeout, curve=curve)

    def ping(self) -> dict[str, Any]:
        return self.client.ping()

    def status(self) -> dict[str, Any]:
        return self.client.status()

    def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        return self.client.request(kind, **fields)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server wrote to its standard error."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0, *, keep_log: bool = False) -> int:
        """Ask the server to shut down; terminate, then kill, it if it does not. The exit code.

        The server's log is removed when it stopped cleanly (exit code 0),
        unless ``keep_log``, and kept, for :meth:`log_tail` and for you,
        otherwise.
        """
        import subprocess

        if self.process.poll() is None:
            try:
                self.client.shutdown()
            except (ServerGone, OSError, RuntimeError):
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout)
        self.client.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.process.returncode == 0 and not keep_log:
            try:
                os.unlink(self.log_path)
            except OSError:
                pass
        return self.process.returncode

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ServerHandle pid {self.pid} at {self.address}>"


def serve_arguments(kind: str, options: dict[str, Any]) -> list[str]:
    """The ``platekit serve`` arguments for ``options`` (``workers=2`` → ``--workers 2``).

    A list repeats its option, named in the singular: ``read_roots=[a, b]``
    → ``--read-root a --read-root b``.
    """
    arguments = [kind]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, (list, tuple)):
            for item in value:
                arguments += [flag.removesuffix("s"), str(item)]
        elif value is True:
            arguments.append(flag)
        elif value is False or value is None:
            continue
        else:
            arguments += [flag, str(value)]
    return arguments


def launch_server(
    kind: str,
    *,
    timeout: float = 30.0,
    detach: bool = False,
    env: dict[str, str] | None = None,
    curve: dict[Any, Any] | None = None,
    **options: Any,
) -> ServerHandle:
    """Start ``python -m platekit.zmq serve KIND`` and return once it answers a ping.

    ``options`` become the server's command-line options (``bind``,
    ``port``, ``keys``, ``workers``, ``read_roots=[...]``, ...). The child gets
    ``PLATEKIT_SUBPROCESS_NO_GPU=1`` and stops by itself when this process
    ends, unless ``detach=True``. Raises :class:`ServerStartError` with the
    tail of the server's log when it exits or does not answer within
    ``timeout`` seconds.

    A server started with ``keys`` answers CURVE clients only: ``curve``
    holds the handle's client options (:func:`platekit.zmq.client_keys`),
    by default the first client key pair in the keys folder. Raises
    ``ValueError`` when there is none.
    """
    # Imported here: every server process imports this module (for READY), and uses neither.
    import subprocess
    import tempfile

    if curve is None and options.get("keys") is not None:
        curve = _folder_client_keys(options["keys"])
    arguments = serve_arguments(kind, options)
    command = [sys.executable, "-m", "platekit.zmq", "serve", *arguments, "--announce"]
    if not detach:
        command += ["--parent-pid", str(os.getpid())]
    child_env = dict(os.environ if env is None else env, PLATEKIT_SUBPROCESS_NO_GPU="1")
    # Kept after the server ends (delete=False): the log is what tells why it ended.
    with tempfile.NamedTemporaryFile(
        prefix=f"platekit-{kind}-", suffix=".log", delete=False, mode="w"
    ) as log:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=child_env,
            text=True,
            start_new_session=detach,
        )
    deadline = time.monotonic() + timeout
    ready = _read_ready(kind, process, deadline, log.name, timeout)
    handle = ServerHandle(
        process, ready, log.name, timeout=max(1.0, min(timeout, 10.0)), curve=curve
    )
    while True:
        try:
            handle.client.timeout = max(0.1, min(1.0, deadline - time.monotonic()))
            handle.ping()
            break
        except ServerGone:
            if process.poll() is not None or time.monotonic() > deadline:
                # Said before stopping it: a server that never answered did not just exit.
                failure = _failure(kind, process, log.name, timeout)
                handle.stop(timeout=1)
                raise ServerStartError(failure) from None
    handle.client.timeout = 10.0
    return handle


def _folder_client_keys(keys: Any) -> dict[Any, Any]:
    """CURVE options from a keys folder's first client key pair (``platekit zmq keys``)."""
    from pathlib import Path

    from platekit.zmq._security import SERVER_KEY, client_keys

    folder = Path(str(keys))
    secrets = sorted(folder.glob("*.key_secret"))
    clients = [path for path in secrets if path.stem != SERVER_KEY]
    server = folder / f"{SERVER_KEY}.key"
    if not clients or not server.is_file():
        raise ValueError(
            f"{folder} holds no client key pair to reach the server with; pass "
            "curve=client_keys(CLIENT.key_secret, SERVER.key) to launch_server"
        )
    return client_keys(clients[0], server)


def _read_ready(
    kind: str, process: subprocess.Popen[str], deadline: float, log: str, timeout: float
) -> dict[str, Any]:
    import selectors
    import subprocess

    assert process.stdout is not None
    # Raw reads of what is there, never readline: half a line must not outwait the deadline.
    descriptor = process.stdout.fileno()
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, min(0.2, deadline - time.monotonic()))):
                if process.poll() is not None:
                    break
                continue
            chunk = os.read(descriptor, 65536)
            if not chunk:
                # Its output closed: the server is ending; let it, to report its exit code.
                try:
                    process.wait(max(0.1, min(5.0, deadline - time.monotonic())))
                except subprocess.TimeoutExpired:
                    pass
                break
            *lines, pending = (pending + chunk).split(b"\n")
            pending = pending[-MAX_LINE_BYTES:]
            for line in lines:
                # Anywhere in the line: what the server printed before may lack its newline.
                _, found, announced = line.decode("utf-8", errors="replace").partition(READY)
                if found:
                    return json.loads(announced)  # type: ignore[no-any-return]
    # Said before killing it: a server that is still starting did not just exit.
    failure = _failure(kind, process, log, timeout)
    if process.poll() is None:
        process.kill()
        process.wait()
    process.stdout.close()
    raise ServerStartError(failure)


def _failure(kind: str, process: subprocess.Popen[str], log: str, timeout: float | None) -> str:
    code = process.poll()
    why = f"exited with code {code}" if code is not None else f"did not answer within {timeout} s"
    try:
        with open(log, encoding="utf-8", errors="replace") as handle:
            tail = "".join(handle.readlines()[-20:])
    except OSError:
        tail = ""
    return f"the {kind} server {why}; its log ({log}) ends with:\n{tail or '(nothing)'}"
