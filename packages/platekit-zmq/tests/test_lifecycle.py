"""A server's life: ping, status, shutdown, signals, its launcher's death, --detach, failures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from platekit.zmq import (
    PROTOCOL_VERSION,
    Client,
    ServerError,
    ServerGone,
    ServerStartError,
    ZMQServer,
    __version__,
    launch_server,
)
from platekit.zmq._protocol import Field, header

HAVE_EXECUTION = (
    Path(__file__).parents[1] / "src" / "platekit" / "zmq" / "servers" / "execution.py"
).is_file()

# The servers every launched-process test runs against: the third-party probe
# server always, and the built-in execution server once it is there.
KINDS = ["probe", *(["execution"] if HAVE_EXECUTION else [])]


class Counter(ZMQServer):
    """An in-process server (no ``_server_type``, so it joins no registry)."""

    data_socket = "PUB"
    schema = {"add": {"n": Field("int")}, "explode": {}}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.total = 0

    def handle(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        if request["type"] == "explode":
            raise RuntimeError("exploded on request")
        self.total += request["n"]
        return [header("added", id=request.get("id"), total=self.total)]

    def queue_state(self) -> dict[str, Any]:
        return {"total": self.total}

    def status(self) -> dict[str, Any]:
        return {"adds": self.total}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped yet counts as ended)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except OSError:
        return False
    return False


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return not _alive(pid)


# -- in this process -------------------------------------------------------------------


def test_ping_answers_type_pid_version_uptime_ready_queue(
    run_server: Callable[[Any], Any],
) -> None:
    server = run_server(Counter())
    with Client(server.control_address, timeout=5) as client:
        pong = client.ping()
    assert pong["type"] == "pong"
    assert pong["pid"] == os.getpid()
    assert pong["version"] == __version__
    assert pong["protocol_version"] == PROTOCOL_VERSION
    assert pong["ready"] is True
    assert pong["uptime"] >= 0
    assert pong["queue"] == {"total": 0}
    assert pong["data_address"] == server.data_address
    assert server.data_address.startswith("tcp://127.0.0.1:")


def test_status_reports_ping_fields_and_the_servers_own(run_server: Callable[[Any], Any]) -> None:
    server = run_server(Counter())
    with Client(server.control_address, timeout=5) as client:
        assert client.request("add", n=3)["total"] == 3
        status = client.status()
    assert status["type"] == "status"
    assert status["adds"] == 3
    assert status["queue"] == {"total": 3}
    assert status["pid"] == os.getpid()


def test_shutdown_replies_then_ends_the_loop(run_server: Callable[[Any], Any]) -> None:
    server = run_server(Counter())
    address = server.control_address
    with Client(address, timeout=5) as client:
        reply = client.shutdown()
        assert reply["type"] == "ok"
        assert "stopping" in reply["message"]
    # The loop ends and closes its sockets: nothing answers any more.
    with Client(address, timeout=0.5) as client, pytest.raises(ServerGone):
        client.ping()


def test_a_failing_request_is_an_internal_error_and_the_server_serves_on(
    run_server: Callable[[Any], Any],
) -> None:
    server = run_server(Counter())
    with Client(server.control_address, timeout=5) as client:
        with pytest.raises(ServerError) as failed:
            client.request("explode")
        assert failed.value.code == "internal"
        assert "exploded on request" in str(failed.value)
        assert client.request("add", n=1)["total"] == 1
        assert client.ping()["ready"] is True


def test_the_client_times_out_when_nothing_listens() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    with Client(address, timeout=0.3) as client:
        with pytest.raises(ServerGone, match=r"no reply from .* within 0\.3 s"):
            client.ping()
        # The socket was replaced: the next request times out alike, not on a stale state.
        with pytest.raises(ServerGone):
            client.status()


@pytest.mark.slow
def test_late_replies_to_other_requests_do_not_extend_the_timeout() -> None:
    import threading

    import zmq

    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    chattering = threading.Event()
    done = threading.Event()

    def chatter() -> None:
        # Answers the request only with replies to some other request, for 3 s.
        if not router.poll(10_000):
            return
        identity = router.recv_multipart()[0]
        chattering.set()
        for _ in range(30):
            router.send_multipart([identity, b"", header("pong", id=999_999)])
            time.sleep(0.1)
        done.set()

    thread = threading.Thread(target=chatter, daemon=True)
    thread.start()
    try:
        with Client(f"tcp://127.0.0.1:{port}", timeout=0.5) as client:
            with pytest.raises(ServerGone):
                client.ping()
            assert chattering.is_set()
            assert not done.is_set(), "the client waited out the whole stream of late replies"
    finally:
        thread.join(10)
        router.close(linger=0)
        context.term()


@pytest.mark.parametrize("answer", [[b"\x00\xffnot json"], [b"[1, 2]"], []])
def test_a_reply_that_is_no_platekit_reply_is_a_clear_error(answer: list[bytes]) -> None:
    import threading

    import zmq

    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")

    def answer_once() -> None:
        if router.poll(10_000):
            identity = router.recv_multipart()[0]
            router.send_multipart([identity, b"", *answer])

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()
    try:
        with (
            Client(f"tcp://127.0.0.1:{port}", timeout=10) as client,
            pytest.raises(ServerError, match="is a platekit server listening") as failed,
        ):
            client.ping()
        assert failed.value.code == "malformed"
    finally:
        thread.join(10)
        router.close(linger=0)
        context.term()


# -- launched processes ----------------------------------------------------------------


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest, probe_plugin: Path) -> str:
    kind: str = request.param
    return kind


@pytest.mark.slow
def test_launch_server_returns_a_handle_that_answers_and_stops(kind: str) -> None:
    with launch_server(kind) as handle:
        pong = handle.ping()
        assert pong["server_type"] == kind
        assert pong["pid"] == handle.pid
        assert handle.address.startswith("tcp://127.0.0.1:")
        assert handle.status()["type"] == "status"
        code = handle.stop()
    assert code == 0
    assert not _alive(handle.pid)


@pytest.mark.slow
def test_server_options_become_init_arguments(probe_plugin: Path) -> None:
    with launch_server("probe", greeting="good evening") as handle:
        assert handle.status()["greeting"] == "good evening"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_server_cleanly(kind: str, signum: int) -> None:
    handle = launch_server(kind)
    try:
        handle.ping()
        handle.process.send_signal(signum)
        code = handle.process.wait(timeout=20)
    finally:
        handle.stop()
    assert code == 0
    log = handle.log_tail(200)
    assert "KeyboardInterrupt" not in log
    assert "zmq/_server.py" not in log


# Launches a server, says where it is, then waits to be killed.
_LAUNCHER = """
import sys, time
from platekit.zmq import launch_server
handle = launch_server(sys.argv[1], detach=sys.argv[2] == "detach")
print(handle.pid, handle.address, flush=True)
time.sleep(120)
"""


@pytest.fixture
def launched_by_another_process(
    probe_plugin: Path,
) -> Iterator[Callable[[str, bool], tuple[int, str]]]:
    """Start a server from a launcher process, kill the launcher, return the server's
    pid and address; the server is ended after the test, whatever happened."""
    servers: list[int] = []

    def launch(kind: str, detach: bool) -> tuple[int, str]:
        launcher = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, kind, "detach" if detach else "attached"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert launcher.stdout is not None
            line = launcher.stdout.readline()  # launch_server's own timeout bounds this
            pid_text, address = line.split()
            servers.append(int(pid_text))
        finally:
            launcher.kill()
            launcher.wait(10)
            if launcher.stdout is not None:
                launcher.stdout.close()
        return int(pid_text), address

    try:
        yield launch
    finally:
        for pid in servers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_the_server_stops_when_its_launcher_dies(
    kind: str, launched_by_another_process: Callable[[str, bool], tuple[int, str]]
) -> None:
    pid, _ = launched_by_another_process(kind, False)
    # Checked every second: gone within a few.
    assert _wait_gone(pid, 15), f"the server (pid {pid}) outlived its launcher"


@pytest.mark.slow
def test_a_detached_server_outlives_its_launcher_until_shut_down(
    kind: str, launched_by_another_process: Callable[[str, bool], tuple[int, str]]
) -> None:
    pid, address = launched_by_another_process(kind, True)
    # Longer than the launcher check (every second) takes to notice.
    time.sleep(3)
    assert _alive(pid)
    with Client(address, timeout=10) as client:
        assert client.ping()["pid"] == pid
        client.shutdown()
    assert _wait_gone(pid, 15)


@pytest.mark.slow
@pytest.mark.parametrize("detach", [False, True])
def test_serve_detach_ignores_the_launcher_it_was_given(probe_plugin: Path, detach: bool) -> None:
    import json

    # A launcher pid that is not this server's parent: as if its launcher had ended.
    command = [sys.executable, "-m", "platekit.zmq", "serve", "probe", "--announce"]
    command += ["--parent-pid", str(os.getpid() + 1_000_000)]
    if detach:
        command.append("--detach")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        address = json.loads(line.partition(" ")[2])["control"]
        if not detach:
            assert process.wait(timeout=15) == 0
            return
        time.sleep(3)  # longer than the launcher check takes to notice
        assert process.poll() is None
        with Client(address, timeout=10) as client:
            client.shutdown()
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.slow
def test_a_bad_option_is_a_start_error_with_the_log_tail(probe_plugin: Path) -> None:
    with pytest.raises(ServerStartError) as failed:
        launch_server("probe", no_such_option=3, timeout=30)
    message = str(failed.value)
    assert "the probe server exited with code 2" in message
    assert "unrecognized arguments: --no-such-option 3" in message


@pytest.mark.slow
def test_a_server_not_ready_in_time_is_a_start_error_saying_so(probe_plugin: Path) -> None:
    # No Python process binds its sockets within a millisecond.
    with pytest.raises(ServerStartError, match=r"the probe server did not answer within 0\.001 s"):
        launch_server("probe", timeout=0.001)


@pytest.mark.slow
def test_half_a_line_on_stdout_does_not_hold_the_launcher_past_its_timeout(
    probe_plugin: Path,
) -> None:
    with pytest.raises(ServerStartError, match=r"the probe server did not answer within 2 s") as e:
        launch_server("probe", stall=20, timeout=2)
    # Given up on while the server still stalled, not once its line was complete.
    assert "the stall is over" not in str(e.value)


@pytest.mark.slow
def test_a_server_that_printed_half_a_line_before_it_was_ready_is_launched(
    probe_plugin: Path,
) -> None:
    with launch_server("probe", stall=0.1) as handle:
        assert handle.ping()["server_type"] == "probe"


@pytest.mark.slow
def test_an_unknown_server_is_a_start_error_naming_the_known_ones(probe_plugin: Path) -> None:
    with pytest.raises(ServerStartError, match=r"no server 'nonesuch'; servers: .*probe"):
        launch_server("nonesuch", timeout=30)


@pytest.mark.slow
def test_a_server_printing_to_stdout_keeps_serving(probe_plugin: Path) -> None:
    # More than a pipe holds: nobody reads the server's stdout after it is ready.
    with launch_server("probe") as handle:
        handle.client.timeout = 10
        assert handle.request("spew", size=1_000_000)["type"] == "echo"
        assert handle.ping()["ready"] is True


@pytest.mark.slow
def test_a_stopped_server_is_gone_for_its_client(probe_plugin: Path) -> None:
    with launch_server("probe") as handle:
        handle.stop()
        with Client(handle.address, timeout=0.5) as client, pytest.raises(ServerGone):
            client.ping()


# The module each server lives in, and the modules of servers it must not import.
SERVER_MODULES = {
    "probe": "platekit_probe_servers",
    "execution": "platekit.zmq.servers.execution",
    "stream": "platekit.zmq.servers.stream",
    "idle": "platekit_probe_idle",
}


@pytest.mark.slow
def test_a_warm_child_imports_only_the_server_it_runs(kind: str) -> None:
    # The first launch discovers and writes the registry indexes; the second starts warm.
    with launch_server(kind) as handle:
        handle.ping()
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    handle = launch_server(kind, env=env)
    try:
        assert handle.ping()["server_type"] == kind
    finally:
        handle.stop(keep_log=True)
    # The log holds the imports of the server and of any worker process it started.
    log = Path(handle.log_path)
    imported = {
        line.rpartition("|")[2].strip()
        for line in log.read_text(encoding="utf-8").splitlines()
        if line.startswith("import time:")
    }
    log.unlink()
    assert SERVER_MODULES[kind] in imported
    # Other servers, of the same distribution or built in, stay unimported...
    others = {module for other, module in SERVER_MODULES.items() if other != kind}
    assert not others & imported
    # ...no registry ran discovery: the indexes answered...
    assert "platekit.registry._discovery" not in imported
    assert not [name for name in imported if name.startswith("platekit.microscopes.handlers")]
    if kind == "probe":
        # ...and a server without workers does not import what only its launcher needs.
        assert not {"subprocess", "tempfile"} & imported


def test_a_clean_stop_removes_the_log_and_a_failed_start_keeps_it(kind: str) -> None:
    with launch_server(kind) as handle:
        log = Path(handle.log_path)
        assert log.is_file()
    assert not log.exists()
    with pytest.raises(ServerStartError) as raised:
        launch_server(kind, no_such_option=1, timeout=20)
    kept = str(raised.value).split("its log (", 1)[1].split(")", 1)[0]
    assert Path(kept).is_file()
    Path(kept).unlink()
