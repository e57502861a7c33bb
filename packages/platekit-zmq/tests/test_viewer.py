"""The viewer server and the napari_stream backend, with a real napari under Xvfb.

The display tests start their own X server (Xvfb, with Mesa's software
OpenGL) and skip, saying why, where napari, Qt or Xvfb is not installed
(in CI, where ``.ci/run`` installs them, they fail instead).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from platekit.storage import BackendRegistry
from platekit.zmq import InsecureBindError

#: The ``platekit`` fixture: runs the command in a child process.
Platekit = Callable[..., "subprocess.CompletedProcess[str]"]

# How long Xvfb may take to say which display it took (s).
XVFB_START_SECONDS = 20


def _display_stack_missing() -> str | None:
    install = "pip install 'platekit-microscopes[napari]'"
    for module in ("napari", "qtpy"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed ({install})"
    if all(importlib.util.find_spec(qt) is None for qt in ("PySide6", "PyQt6", "PyQt5")):
        return f"no Qt binding is installed ({install})"
    if shutil.which("Xvfb") is None:
        return "Xvfb is not installed (apt-get install xvfb libgl1-mesa-dri libegl1)"
    return None


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """An X display of a private Xvfb, stopped after the module's tests."""
    missing = _display_stack_missing()
    if missing and os.environ.get("CI"):
        # .ci/run installs the display stack: there, its absence is a failure, not a skip.
        pytest.fail(f"no display stack for napari in CI: {missing}")
    if missing:
        pytest.skip(f"no display stack for napari: {missing}")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        number = b""
        deadline = time.monotonic() + XVFB_START_SECONDS
        os.set_blocking(read, False)
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            try:
                number += os.read(read, 16)
            except BlockingIOError:
                time.sleep(0.05)
            if server.poll() is not None:
                break
        if not number.strip():
            pytest.skip("Xvfb did not start, so napari has no display")
        yield f":{number.decode().strip()}"
    finally:
        os.close(read)
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def viewer(
    display: str, viewer_env: Callable[[str, Path], dict[str, str]], tmp_path_factory: Any
) -> Iterator[Any]:
    from platekit.zmq import launch_server

    env = viewer_env(display, tmp_path_factory.mktemp("viewer"))
    handle = launch_server("viewer", timeout=90, env=env)
    try:
        yield handle
    finally:
        handle.stop(timeout=10)


def _backend(viewer: Any) -> Any:
    from platekit.zmq.napari_stream_backend import NapariStreamBackend

    return NapariStreamBackend(viewer.data_address, timeout=30)


def _layers(viewer: Any) -> dict[str, dict[str, Any]]:
    return {layer["name"]: layer for layer in viewer.request("layers")["layers"]}


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@pytest.mark.slow
def test_a_streamed_image_is_a_layer_the_screenshot_shows(viewer: Any) -> None:
    image = np.zeros((256, 256), np.uint16)
    image[32:96, 64:192] = 50_000  # a bright band twice as wide as high, in the upper half
    _backend(viewer).save(image, "B03/field1/DAPI")
    held = _layers(viewer)["B03/field1/DAPI"]
    assert held["shape"] == [256, 256] and held["dtype"] == "uint16"
    assert held["sha256"] == _sha(image)

    assert viewer.request("screenshot", path="shots/one")["path"] == "shots/one"
    shot = _backend(viewer).load("shots/one")
    assert shot.dtype == np.uint8 and shot.ndim == 3
    bright = shot[..., :3].max(axis=2) > 200
    rows, columns = np.nonzero(bright)
    assert rows.size > 100, "the screenshot shows no image"
    height = rows.max() - rows.min() + 1
    width = columns.max() - columns.min() + 1
    assert 1.6 < width / height < 2.4
    assert rows.mean() < shot.shape[0] / 2  # where the band is: above the middle
    assert not bright[-5:].any() and not bright[:, :5].any()  # the background stays dark
    # The viewer yields the CPU to the work it shows: its niceness is 10 above ours.
    pid = viewer.ping()["pid"]
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, ours + 10)


@pytest.mark.slow
def test_z_planes_of_one_image_go_into_one_layer_and_updates_replace(viewer: Any) -> None:
    backend = _backend(viewer)
    rng = np.random.default_rng(0)
    planes = rng.integers(0, 4000, (3, 64, 80), dtype=np.uint16)
    backend.save_batch(
        list(planes),
        ["C05/field2/GFP"] * 3,
        metadata=[{"z": z} for z in range(3)],
    )
    held = _layers(viewer)["C05/field2/GFP"]
    assert held["shape"] == [3, 64, 80]
    assert held["sha256"] == _sha(planes)

    again = planes[1] + 1
    backend.save(again, "C05/field2/GFP", metadata={"z": 1})
    updated = planes.copy()
    updated[1] = again
    assert _layers(viewer)["C05/field2/GFP"]["sha256"] == _sha(updated)
    np.testing.assert_array_equal(backend.load("C05/field2/GFP"), updated)

    with pytest.raises(ValueError, match="z=-1"):
        backend.save(planes[0], "C05/field2/GFP", metadata={"z": -1})
    with pytest.raises(ValueError, match="climbs out"):
        backend.save(planes[0], "../outside")


def test_the_backend_is_left_out_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "napari_stream" in BackendRegistry()
    monkeypatch.setenv("PLATEKIT_SUBPROCESS_NO_GPU", "1")
    registry = BackendRegistry()
    assert "napari_stream" not in registry and "zmq_stream" in registry
    with pytest.raises(KeyError, match="PLATEKIT_SUBPROCESS_NO_GPU"):
        registry["napari_stream"]


def test_the_backend_says_where_its_address_comes_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLATEKIT_NAPARI_STREAM", raising=False)
    with pytest.raises(RuntimeError, match="PLATEKIT_NAPARI_STREAM"):
        BackendRegistry()["napari_stream"].save(np.zeros((2, 2)), "A01/DAPI")


def test_the_viewer_binds_beyond_loopback_only_with_keys() -> None:
    from platekit.zmq.servers.viewer import ViewerServer

    with pytest.raises(InsecureBindError):
        ViewerServer(bind="0.0.0.0")


@pytest.mark.parametrize("nice", [-1, 20, True])
def test_a_niceness_outside_0_to_19_is_refused_naming_it(nice: object) -> None:
    from platekit.zmq.servers.viewer import ViewerServer

    with pytest.raises(ValueError, match=f"--nice {nice!r}"):
        ViewerServer(nice=nice)  # type: ignore[arg-type]


def test_view_without_a_display_is_one_line(platekit: Platekit) -> None:
    done = platekit("view")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "display" in lines[0] or "napari" in lines[0]


def test_view_help_lists_the_viewer_server_options(platekit: Platekit) -> None:
    done = platekit("view", "--help")
    assert done.returncode == 0, done.stderr
    for option in ("--title", "--nice", "--bind", "--port", "--keys", "--max-message-bytes"):
        assert option in done.stdout, option


def test_an_unknown_option_to_view_is_one_error_line(platekit: Platekit) -> None:
    done = platekit("view", "--colour", "red")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    # argparse shows the command's usage, then says what is wrong in one line.
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors == ["platekit view: error: unrecognized arguments: --colour red"], done.stderr


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--title", "plate 7", "--nice", "25"], "platekit view: --nice 25 is not a niceness"),
        (["--bind", "0.0.0.0"], "platekit view: binding 0.0.0.0"),
    ],
)
def test_view_hands_its_options_to_the_viewer(
    platekit: Platekit, options: list[str], said: str
) -> None:
    # Refused by the viewer server itself, before any window: the options reached it.
    done = platekit("view", *options)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(said), done.stderr


def _free_port_pair() -> int:
    """A port N, free together with N + 1 (the viewer's data port), at the time of asking."""
    import socket

    for _ in range(20):
        with socket.socket() as control, socket.socket() as data:
            control.bind(("127.0.0.1", 0))
            port = control.getsockname()[1]
            try:
                data.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return int(port)
    pytest.skip("found no two free neighbouring ports on 127.0.0.1")


def _first_line(process: subprocess.Popen[bytes], seconds: float) -> str:
    """The first line ``process`` writes to its standard output, waiting at most ``seconds``."""
    import selectors

    assert process.stdout is not None
    read = b""
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in read and time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    break
                read += chunk
    return read.decode(errors="replace").split("\n")[0]


@pytest.mark.slow
def test_view_opens_a_viewer_with_the_options_given(
    display: str, viewer_env: Callable[[str, Path], dict[str, str]], tmp_path: Path
) -> None:
    from platekit.zmq._client import Client

    env = viewer_env(display, tmp_path)
    port = _free_port_pair()
    argv = ["view", "--title", "plate 7", "--nice", "5", "--port", str(port)]
    log = tmp_path / "view.log"
    with log.open("wb") as errors:
        view = subprocess.Popen(
            [sys.executable, "-m", "platekit.registry", *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    try:
        line = _first_line(view, 90)
        control = f"tcp://127.0.0.1:{port}"
        assert line.startswith(f"viewer server listening: control {control},"), (
            line,
            log.read_text(errors="replace")[-2000:],
        )
        with Client(control, timeout=60) as client:
            status = client.status()
            assert status["window"] is True
            ours = os.getpriority(os.PRIO_PROCESS, 0)
            assert os.getpriority(os.PRIO_PROCESS, status["pid"]) == min(19, ours + 5)
            if shutil.which("xwininfo"):  # x11-utils: the window's title, as X knows it
                tree = subprocess.run(
                    ["xwininfo", "-display", display, "-root", "-tree"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                ).stdout
                assert '"plate 7": (' in tree, tree
            client.shutdown()
        assert view.wait(30) == 0
    finally:
        if view.poll() is None:
            view.kill()
            view.wait(10)
        assert view.stdout is not None
        view.stdout.close()


@pytest.mark.slow
def test_a_conversion_shows_each_well_in_the_viewer(viewer: Any, tmp_path: Path) -> None:
    from platekit.microscopes import convert, open_plate
    from platekit.microscopes.testing import write_plate

    source = write_plate(
        "imagexpress",
        tmp_path / "p",
        wells=["A01", "B03"],
        sites=2,
        channels=2,
        z=2,
        shape=(24, 32),
    )
    convert(source, tmp_path / "out.zarr", stream_to=viewer.data_address)
    plate = open_plate(source)
    held = _layers(viewer)
    for well in ("A01", "B03"):
        for site in (1, 2):
            for number, channel in plate.metadata.channels.items():
                stack = np.stack([plate.read(well, site, number, z) for z in (1, 2)])
                layer = held[f"{well}/field{site}/{channel.name}"]
                assert layer["shape"] == [2, 24, 32]
                assert layer["sha256"] == _sha(stack)


@pytest.mark.slow
def test_a_conversion_streams_to_a_plain_stream_server_too(tmp_path: Path) -> None:
    from platekit.microscopes import convert
    from platekit.microscopes.testing import write_plate
    from platekit.zmq import ZmqStreamBackend, launch_server

    source = write_plate("opera_phenix", tmp_path / "p", wells=["C02"], channels=2, shape=(16, 16))
    with launch_server("stream") as server:
        convert(source, tmp_path / "out.zarr", stream_to=server.data_address)
        stored = ZmqStreamBackend(server.data_address).list_files("C02", recursive=True)
    assert len(stored) == 2 and all(path.startswith("C02/field1/") for path in stored)


@pytest.mark.slow
def test_a_viewer_that_is_gone_does_not_stop_the_conversion(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import socket

    from platekit.microscopes import convert
    from platekit.microscopes.testing import write_plate

    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = write_plate("imagexpress", tmp_path / "p", wells=["A01", "A02", "A03"], shape=(8, 8))
    with caplog.at_level(logging.WARNING, logger="platekit.microscopes"):
        result = convert(source, tmp_path / "out.zarr", stream_to=f"tcp://127.0.0.1:{port}")
    assert result.wells_converted == 3
    told = [r for r in caplog.records if f"tcp://127.0.0.1:{port}" in r.getMessage()]
    assert len(told) == 1, [r.getMessage() for r in told]


# Launches a viewer, says its pid, then waits to be killed.
_LAUNCHER = """
import os, sys, time
from platekit.zmq import launch_server
handle = launch_server("viewer", timeout=90)
print(handle.pid, flush=True)
time.sleep(120)
"""


def _gone(pid: int, seconds: float) -> bool:
    """Whether the process ``pid`` ends (or is a zombie) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_viewer_ends_with_the_process_that_launched_it(
    display: str, viewer_env: Callable[[str, Path], dict[str, str]], tmp_path: Path
) -> None:
    import signal

    env = viewer_env(display, tmp_path)
    launcher = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER], env=env, stdout=subprocess.PIPE, text=True
    )
    pid = 0
    try:
        assert launcher.stdout is not None
        pid = int(launcher.stdout.readline())  # bounded by launch_server's own timeout
    finally:
        launcher.kill()
        launcher.wait(10)
        if launcher.stdout is not None:
            launcher.stdout.close()
    try:
        assert _gone(pid, 30), f"the viewer (pid {pid}) outlived its launcher"
    finally:
        if pid and not _gone(pid, 0.1):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_signal_closes_the_viewer_cleanly(
    display: str, viewer_env: Callable[[str, Path], dict[str, str]], tmp_path: Path
) -> None:
    import signal

    from platekit.zmq import launch_server

    env = viewer_env(display, tmp_path)
    handle = launch_server("viewer", timeout=90, env=env)
    try:
        handle.process.send_signal(signal.SIGTERM)
        code = handle.process.wait(30)
    finally:
        handle.stop(timeout=5)
    assert code == 0, handle.log_tail(50)
    assert "Traceback" not in handle.log_tail(200)


def test_without_a_qt_binding_the_viewer_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from platekit.zmq.servers.viewer import ViewerServer, ViewerUnavailable

    real = importlib.util.find_spec
    bindings = {"PySide6", "PyQt6", "PyQt5", "PySide2"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in bindings else real(name, *a)
    )
    with pytest.raises(ViewerUnavailable, match=r"Qt binding.*platekit-microscopes\[napari\]"):
        ViewerServer()
