from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache root; the real home is never touched."""
    root = tmp_path / "cache"
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(root))
    monkeypatch.delenv("PLATEKIT_DISABLE_REGISTRY_CACHE", raising=False)
    monkeypatch.delenv("PLATEKIT_SUBPROCESS_NO_GPU", raising=False)
    return root


#: Variables that would let a child process open a window on a display of the machine.
DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")

#: Runs ``platekit ARGV...`` in a child process (``env=`` replaces its environment).
Platekit = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def platekit_env(tmp_path: Path) -> dict[str, str]:
    """A child command's environment: cache and home in ``tmp_path``, and no display.

    Without a display, a viewer that got past its options stops at once instead of opening.
    """
    return _child_env(tmp_path)


@pytest.fixture
def platekit(platekit_env: dict[str, str]) -> Platekit:
    """``platekit(*argv, env=None, cwd=None)``: the ``platekit`` command in a child process.

    It runs with :func:`platekit_env` unless given ``env``, in ``cwd`` when given, bounded
    in time, its output captured as text.
    """

    def run(
        *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "platekit.registry", *argv],
            env=platekit_env if env is None else env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.fixture(scope="session")
def viewer_env() -> Callable[[str, Path], dict[str, str]]:
    """``viewer_env(display, folder)``: the environment of a viewer on the X ``display``.

    Mesa draws in software, and the cache and home are inside ``folder``.
    """

    def env(display: str, folder: Path) -> dict[str, str]:
        return {**_child_env(folder), "DISPLAY": display, "LIBGL_ALWAYS_SOFTWARE": "1"}

    return env


def _child_env(folder: Path) -> dict[str, str]:
    """This environment without a display, its cache and home inside ``folder``."""
    (folder / "home").mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key not in DISPLAY_VARIABLES}
    return {**env, "PLATEKIT_CACHE_DIR": str(folder / "cache"), "HOME": str(folder / "home")}


@pytest.fixture
def run_server() -> Iterator[Callable[[Any], Any]]:
    """Start a ZMQServer instance and run its loop in a thread; stopped after the test.

    ``run_server(server)`` binds the server's sockets, starts its loop and
    returns the server (its ``control_address`` is then set).
    """
    running: list[tuple[Any, threading.Thread]] = []

    def start(server: Any) -> Any:
        server.start()
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return server

    try:
        yield start
    finally:
        for server, thread in running:
            server.stop()
            thread.join(10)


# A third-party server distribution, as pip would leave it on sys.path: two
# modules (each a server), and a .dist-info folder announcing them in the
# platekit.zmq_servers entry-point group.
_PROBE = '''
"""The probe server: echoes, prints, fails and waits on request."""

import sys
import time

from platekit.zmq._protocol import Field, header
from platekit.zmq._server import ZMQServer


class ProbeServer(ZMQServer):
    _server_type = "probe"
    help = "a server for tests"
    data_socket = "ROUTER"
    schema = {
        "echo": {"text": Field("str")},
        "spew": {"size": Field("int")},
        "fail": {},
        "nap": {"seconds": Field("number")},
    }

    def __init__(self, *, greeting="hello", stall=0.0, **options):
        super().__init__(**options)
        self.greeting = greeting
        if stall:
            # A start that prints half a line, then takes its time.
            sys.stdout.write("warming up...")
            sys.stdout.flush()
            time.sleep(stall)
            print("the stall is over", file=sys.stderr, flush=True)

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--greeting", default="hello")
        parser.add_argument("--stall", type=float, default=0.0)

    def handle(self, request, buffers):
        kind = request["type"]
        if kind == "spew":
            # What a chatty job does: write to standard output.
            sys.stdout.write("x" * request["size"] + "\\n")
            sys.stdout.flush()
        elif kind == "fail":
            raise RuntimeError("the probe failed on purpose")
        elif kind == "nap":
            time.sleep(request["seconds"])
        text = request.get("text", "")
        return [header("echo", id=request.get("id"), text=text, frames=len(buffers))]

    def handle_data(self, identity, frames):
        return [header("echo", frames=len(frames))]

    def status(self):
        return {"greeting": self.greeting}
'''

_IDLE = '''
"""A second server of the same distribution, which serving the probe must not import."""

from platekit.zmq._server import ZMQServer


class IdleServer(ZMQServer):
    _server_type = "idle"
    help = "a server nobody starts"
'''

_ENTRY_POINTS = """
[platekit.zmq_servers]
probe = platekit_probe_servers:ProbeServer
idle = platekit_probe_idle:IdleServer
"""


@pytest.fixture(scope="session")
def probe_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the probe server distribution (modules and .dist-info)."""
    folder = tmp_path_factory.mktemp("probe-plugin")
    (folder / "platekit_probe_servers.py").write_text(textwrap.dedent(_PROBE))
    (folder / "platekit_probe_idle.py").write_text(textwrap.dedent(_IDLE))
    info = folder / "platekit_probe_servers-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: platekit-probe-servers\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(_ENTRY_POINTS.lstrip())
    (info / "RECORD").write_text("")
    return folder


@pytest.fixture
def probe_plugin(probe_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The probe distribution on PYTHONPATH, so launched servers can serve ``probe``."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(probe_folder) + (os.pathsep + path if path else ""))
    return probe_folder
