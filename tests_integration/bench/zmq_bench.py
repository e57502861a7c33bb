"""ZeroMQ benchmark: platekit-zmq's servers against bare pyzmq on the same machine.

``python -m nox -s bench`` can run it with the others. By hand, in an
environment with platekit-zmq installed::

    python tests_integration/bench/zmq_bench.py --quick

Each measurement is one function returning a :class:`Result`; :func:`main`
runs them all, prints their tables and verdicts, and writes them as reST
with ``--rst``.

``stream``: frames of uint16 pixels go over loopback TCP to a stream server
(``platekit serve stream --store memory``, in a subprocess) through the
``zmq_stream`` storage backend, in batches (``save_batch``) and one by one
(``save``), and the same frames through a bare pyzmq PUSH socket to a PULL
socket in a child process receiving without copies. Both sides are timed
from the first send to the receiver's last receipt (the bare receiver
answers once at the end over a second socket; the stream server
acknowledges every frame). The two take turns, round after round, so they
share the machine's state; throughput is the median over the rounds.

``control``: one ``ping`` at a time to an execution server, against a bare
pyzmq REQ socket sending the same bytes to a REP echo in a child process;
the median and 99th percentile of every request's round trip.

``viewer``: the same frames through the ``napari_stream`` backend into the
viewer of ``platekit view`` (napari, under a private Xvfb when there is no
display), against a stream server to memory, in turns; and ``convert``: a
conversion with ``stream_to`` that viewer against the same one without.

``launch``: wall time of ``launch_server("execution")``, which returns at
the server's first ``pong``, against ``python -c pass``, both with a warm
registry cache of their own, taking turns.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from bench_report import Target, rst_table, text_table

#: platekit's stream throughput against bare pyzmq's, at least.
STREAM_RATIO = 0.8
#: Absolute throughput wanted (MB/s) when bare pyzmq reaches it on this machine.
STREAM_MB_S = 1000.0
# Distinct frames cycled through a round, so frames in flight are different buffers.
DISTINCT_FRAMES = 8


@dataclass
class Result:
    """What one measurement found: a title, a table (text and reST), its targets."""

    title: str
    introduction: str
    headers: tuple[str, ...]
    rows: list[list[str]]
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        table = text_table(self.headers, self.rows)
        return "\n".join(
            [self.title, "", table, "", *self.notes, *(t.line() for t in self.targets)]
        )

    def rst(self) -> str:
        return "\n".join(
            [
                self.title,
                "~" * len(self.title),
                "",
                self.introduction,
                "",
                rst_table(self.headers, self.rows),
                "",
                *(f"{note}\n" for note in self.notes),
                *(f"- **{t.verdict}** {t.goal}: {t.measured}" for t in self.targets),
                "",
            ]
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200, help="frames per round (200)")
    parser.add_argument("--size", type=int, default=2048, help="frame width and height (2048)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each side, in turn (5)")
    parser.add_argument("--window", type=int, default=8, help="frames in flight in save_batch (8)")
    parser.add_argument("--pings", type=int, default=2000, help="pings per round (2000)")
    parser.add_argument(
        "--launches", type=int, default=10, help="server launches, and python -c pass runs (10)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="40 frames of 1024x1024, 500 pings, 3 launches"
    )
    parser.add_argument(
        "--only",
        metavar="NAMES",
        help="run only these measurements, comma-separated: stream, control, launch, viewer, "
        "convert_stream",
    )
    parser.add_argument("--rst", type=Path, help="write the results as reST to this file")
    parser.add_argument("--fail-on-miss", action="store_true", help="exit 1 when a target misses")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.size = 40, 1024
        args.pings, args.launches = 500, 3
    return args


# -- stream: the zmq_stream backend against bare pyzmq ----------------------------------------

# The bare receiver: PULL without copies, one reply per round over a PUSH of its own.
_BARE_RECEIVER = """\
import sys
import zmq

context = zmq.Context()
pull = context.socket(zmq.PULL)
pull_port = pull.bind_to_random_port("tcp://127.0.0.1")
done = context.socket(zmq.PUSH)
done_port = done.bind_to_random_port("tcp://127.0.0.1")
print(pull_port, done_port, flush=True)
frames, rounds = int(sys.argv[1]), int(sys.argv[2])
for _ in range(rounds):
    received = 0
    for _ in range(frames):
        message = pull.recv_multipart(copy=False)
        received += len(message[-1])
    done.send(str(received).encode())
done.close(linger=5000)
pull.close()
context.term()
"""


class BareStream:
    """A bare pyzmq PUSH to a PULL in a child process: the baseline."""

    def __init__(self, frames: int, rounds: int) -> None:
        import zmq

        self.process = subprocess.Popen(
            [sys.executable, "-c", _BARE_RECEIVER, str(frames), str(rounds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        pull_port, done_port = map(int, self.process.stdout.readline().split())
        self.context = zmq.Context()
        self.push = self.context.socket(zmq.PUSH)
        self.push.connect(f"tcp://127.0.0.1:{pull_port}")
        self.done = self.context.socket(zmq.PULL)
        self.done.connect(f"tcp://127.0.0.1:{done_port}")

    def send(self, data: list[np.ndarray], count: int) -> float:
        """Seconds from the first send to the receiver's word that all ``count`` arrived."""
        header = b'{"protocol":1,"type":"frame"}'
        started = time.perf_counter()
        for n in range(count):
            self.push.send_multipart([header, data[n % len(data)]], copy=False)
        received = int(self.done.recv())
        elapsed = time.perf_counter() - started
        expected = sum(data[n % len(data)].nbytes for n in range(count))
        if received != expected:
            raise SystemExit(f"bare pyzmq: {received} bytes arrived of {expected}")
        return elapsed

    def close(self) -> None:
        self.push.close(linger=0)
        self.done.close(linger=0)
        self.context.term()
        self.process.wait(30)


def measure_stream(args: argparse.Namespace) -> Result:
    """Throughput of the zmq_stream backend to a memory store, against bare pyzmq."""
    from platekit.zmq import launch_server
    from platekit.zmq.stream_backend import ZmqStreamBackend

    rng = np.random.default_rng(7)
    data = [
        rng.integers(0, 4096, (args.size, args.size), dtype=np.uint16)
        for _ in range(DISTINCT_FRAMES)
    ]
    count = args.frames
    paths = [f"plate/frame{n:04d}.tif" for n in range(count)]
    items = [data[n % len(data)] for n in range(count)]
    # Warm-up rounds for each side before the timed ones: connections, allocators.
    bare = BareStream(count, args.rounds + 1)
    seconds: dict[str, list[float]] = {"bare": [], "batch": [], "one by one": []}
    try:
        with launch_server("stream", store="memory") as server:
            backend = ZmqStreamBackend(server.data_address, window=args.window, timeout=60)

            def batch() -> float:
                started = time.perf_counter()
                backend.save_batch(items, paths, overwrite=True)
                return time.perf_counter() - started

            def one_by_one() -> float:
                started = time.perf_counter()
                for item, path in zip(items, paths, strict=True):
                    backend.save(item, path, overwrite=True)
                return time.perf_counter() - started

            sides = {
                "bare": lambda: bare.send(data, count),
                "batch": batch,
                "one by one": one_by_one,
            }
            for side in sides.values():
                side()
            for round_ in range(args.rounds):
                order = list(sides)
                order = order[round_ % len(order) :] + order[: round_ % len(order)]
                for name in order:
                    seconds[name].append(sides[name]())
            for n in (0, count // 2, count - 1):
                if not np.array_equal(backend.load(paths[n]), items[n]):
                    raise SystemExit(f"stream: frame {n} read back from the server differs")
            stored = server.status()
            backend.close()
    finally:
        bare.close()

    frame_mb = data[0].nbytes / 1e6
    rates = {name: count * frame_mb / statistics.median(values) for name, values in seconds.items()}
    bare_rate = rates["bare"]
    rows = [
        [
            "bare pyzmq" if name == "bare" else f"zmq_stream {name}",
            f"{rates[name]:.0f}",
            f"{min(count * frame_mb / s for s in values):.0f}",
            f"{max(count * frame_mb / s for s in values):.0f}",
            f"{rates[name] / bare_rate:.2f}",
        ]
        for name, values in seconds.items()
    ]
    batch_rate = rates["batch"]
    ratio = batch_rate / bare_rate
    targets = [
        Target(
            f"zmq_stream save_batch at least {STREAM_RATIO}x of bare pyzmq PUSH/PULL",
            ratio >= STREAM_RATIO,
            f"{ratio:.2f}x ({batch_rate:.0f} MB/s against {bare_rate:.0f} MB/s)",
        )
    ]
    goal = f"zmq_stream save_batch at least {STREAM_MB_S:.0f} MB/s"
    if bare_rate >= STREAM_MB_S:
        targets.append(Target(goal, batch_rate >= STREAM_MB_S, f"{batch_rate:.0f} MB/s"))
    else:
        targets.append(
            Target(goal, None, f"bare pyzmq reaches {bare_rate:.0f} MB/s on this machine")
        )
    facts = (
        f"{count} frames of {args.size}x{args.size} uint16 ({frame_mb:.1f} MB each, "
        f"{count * frame_mb:.0f} MB a round), {args.rounds} rounds per side, window "
        f"{args.window}; the server stored {stored['stored']} frames "
        f"({stored['stored_bytes'] / 1e9:.1f} GB) in all"
    )
    return Result(
        title="Streaming frames",
        introduction=(
            "Frames sent over loopback TCP through the ``zmq_stream`` storage backend to a "
            "stream server keeping them in memory (``save_batch`` with frames in flight, and "
            "``save`` waiting for each acknowledgement), against a bare pyzmq PUSH socket "
            "sending the same buffers to a PULL socket in a child process that receives "
            "without copying. Each side is timed from the first send to the receiver's last "
            "receipt, the sides taking turns round after round; MB/s is the median round "
            "(min and max beside it). " + facts + "."
        ),
        headers=("sender", "MB/s", "min MB/s", "max MB/s", "of bare"),
        rows=rows,
        targets=targets,
    )


# -- control: a ping's round trip against a bare REQ/REP echo ---------------------------------

# The bare echo: a REP socket sending every message back, until it is sent b"stop".
_BARE_ECHO = """\
import zmq

context = zmq.Context()
rep = context.socket(zmq.REP)
print(rep.bind_to_random_port("tcp://127.0.0.1"), flush=True)
while True:
    message = rep.recv()
    rep.send(message)
    if message == b"stop":
        break
rep.close()
context.term()
"""


def _percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def measure_control(args: argparse.Namespace) -> Result:
    """A ping's round trip to an execution server, against a bare pyzmq REQ/REP echo."""
    import zmq

    from platekit.zmq import Client, launch_server

    echo = subprocess.Popen([sys.executable, "-c", _BARE_ECHO], stdout=subprocess.PIPE, text=True)
    assert echo.stdout is not None
    port = int(echo.stdout.readline())
    context = zmq.Context()
    req = context.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(f"tcp://127.0.0.1:{port}")
    # The same bytes a platekit ping carries, so the two differ only in what is done with them.
    ping = b'{"protocol":1,"type":"ping","id":1}'
    seconds: dict[str, list[float]] = {"bare": [], "ping": []}
    try:
        with launch_server("execution") as server, Client(server.address, timeout=10) as client:

            def bare_round() -> None:
                for _ in range(args.pings):
                    started = time.perf_counter()
                    req.send(ping)
                    req.recv()
                    seconds["bare"].append(time.perf_counter() - started)

            def ping_round() -> None:
                for _ in range(args.pings):
                    started = time.perf_counter()
                    client.ping()
                    seconds["ping"].append(time.perf_counter() - started)

            # Untimed warm-up of both, then rounds in turn.
            for _ in range(100):
                req.send(ping)
                req.recv()
                client.ping()
            for round_ in range(args.rounds):
                order = [bare_round, ping_round] if round_ % 2 == 0 else [ping_round, bare_round]
                for side in order:
                    side()
            pid = client.ping()["pid"]
        req.send(b"stop")
        req.recv()
    finally:
        req.close(linger=0)
        context.term()
        echo.wait(30)

    def micro(values: list[float], fraction: float) -> float:
        return _percentile(values, fraction) * 1e6

    bare_median, bare_p99 = micro(seconds["bare"], 0.5), micro(seconds["bare"], 0.99)
    rows = [
        ["bare pyzmq REQ/REP echo", f"{bare_median:.0f}", f"{bare_p99:.0f}", "1.00", "1.00"],
    ]
    median, p99 = micro(seconds["ping"], 0.5), micro(seconds["ping"], 0.99)
    rows.append(
        [
            "platekit Client.ping()",
            f"{median:.0f}",
            f"{p99:.0f}",
            f"{median / bare_median:.2f}",
            f"{p99 / bare_p99:.2f}",
        ]
    )
    facts = (
        f"{args.rounds} rounds of {args.pings} requests per side, in turn, after 100 untimed; "
        f"the execution server ran as pid {pid}"
    )
    return Result(
        title="Control round trip",
        introduction=(
            "One ``ping`` at a time over loopback TCP to an execution server "
            "(``launch_server('execution')``): the client builds the JSON header, the server "
            "checks it and answers a ``pong`` with its type, pid, version, uptime, readiness and "
            "queue, and the client decodes it. Against it, a bare pyzmq REQ socket sending the "
            "same header bytes to a REP socket in a child process that sends them back. Times "
            "are per request, in microseconds: the median and the 99th percentile of every "
            "request of every round. " + facts + "."
        ),
        headers=("client", "median µs", "p99 µs", "median of bare", "p99 of bare"),
        rows=rows,
    )


# -- launch: launch_server("execution") to its first pong, against python -c pass -------------


def measure_launch(args: argparse.Namespace) -> Result:
    """Seconds from launch_server("execution") to its first pong, warm, against python -c pass."""
    import tempfile

    from platekit.zmq import launch_server

    seconds: dict[str, list[float]] = {"pass": [], "launch": []}
    with tempfile.TemporaryDirectory(prefix="platekit-bench-cache-") as cache:
        # A cache of the benchmark's own, warmed by the first, untimed launch.
        env = {**os.environ, "PLATEKIT_CACHE_DIR": cache}
        env.pop("PLATEKIT_DISABLE_REGISTRY_CACHE", None)

        def bare() -> None:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
            seconds["pass"].append(time.perf_counter() - started)

        def launch() -> None:
            started = time.perf_counter()
            server = launch_server("execution", env=env)  # returns after the first pong
            seconds["launch"].append(time.perf_counter() - started)
            server.stop()
            Path(server.log_path).unlink(missing_ok=True)

        with launch_server("execution", env=env) as server:
            server.ping()
        Path(server.log_path).unlink(missing_ok=True)
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        for round_ in range(args.launches):
            for side in (bare, launch) if round_ % 2 == 0 else (launch, bare):
                side()

    def milli(values: list[float]) -> list[str]:
        return [
            f"{statistics.median(values) * 1e3:.0f}",
            f"{min(values) * 1e3:.0f}",
            f"{max(values) * 1e3:.0f}",
        ]

    bare_median = statistics.median(seconds["pass"])
    launch_median = statistics.median(seconds["launch"])
    rows = [
        ["python -c pass", *milli(seconds["pass"]), "1.0"],
        [
            "launch_server('execution') to first pong",
            *milli(seconds["launch"]),
            f"{launch_median / bare_median:.1f}",
        ],
    ]
    return Result(
        title="Launching a server",
        introduction=(
            "Wall time from calling ``launch_server('execution')`` until it returns, which it "
            "does once the new server process has answered its first ``ping`` (the process "
            "starts, reads its registries from the warm cache, imports the execution server, "
            "binds, starts its worker pool and answers), against starting and ending "
            "``python -c pass``, the floor any subprocess pays. Both with a warm cache of "
            f"their own, taking turns, {args.launches} runs each; milliseconds, median with min "
            "and max."
        ),
        headers=("start", "median ms", "min ms", "max ms", "of python -c pass"),
        rows=rows,
    )


# -- viewer: frames into a napari viewer, and a conversion that shows its wells --------------

#: A conversion showing its wells in a viewer takes at most this much longer than without.
CONVERT_STREAM_SLOWDOWN = 1.10
# Layers the viewer benchmark cycles through, so the viewer updates several, as in a screen.
VIEWER_LAYERS = 4


@contextlib.contextmanager
def _display() -> Iterator[str | None]:
    """An X display for napari: the session's, else a private Xvfb, else ``None``."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if shutil.which("Xvfb") is None:
        yield None
        return
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read, "rb") as announced:
            number = announced.readline().strip().decode()
        yield f":{number}" if number else None
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user and system) the process ``pid`` has used, where /proc tells it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _viewer_env(display: str) -> dict[str, str]:
    return dict(os.environ, DISPLAY=display, LIBGL_ALWAYS_SOFTWARE="1")


def _no_viewer(title: str, why: str, target: str) -> Result:
    return Result(
        title=title,
        introduction=f"Not measured: {why}.",
        headers=("what", "measured"),
        rows=[["-", "not measured"]],
        targets=[Target(target, None, why)],
    )


def measure_viewer(args: argparse.Namespace) -> Result:
    """Frames per second into a napari viewer (napari_stream) against a stream server to memory."""
    import importlib.util

    from platekit.zmq import launch_server
    from platekit.zmq.napari_stream_backend import NapariStreamBackend
    from platekit.zmq.stream_backend import ZmqStreamBackend

    title = "Streaming frames into the napari viewer"
    if importlib.util.find_spec("napari") is None:
        return _no_viewer(title, "napari is not installed", "viewer frames per second")
    rng = np.random.default_rng(11)
    data = [
        rng.integers(0, 4096, (args.size, args.size), dtype=np.uint16)
        for _ in range(DISTINCT_FRAMES)
    ]
    count = args.frames
    items = [data[n % len(data)] for n in range(count)]
    paths = [f"B03/field1/C{n % VIEWER_LAYERS}" for n in range(count)]
    seconds: dict[str, list[float]] = {"viewer": [], "stream": []}
    with _display() as display:
        if display is None:
            return _no_viewer(title, "no display and no Xvfb", "viewer frames per second")
        with (
            launch_server("viewer", env=_viewer_env(display), timeout=120) as viewer,
            launch_server("stream", store="memory") as plain,
        ):
            backends = {
                "viewer": NapariStreamBackend(viewer.data_address, window=args.window, timeout=60),
                "stream": ZmqStreamBackend(plain.data_address, window=args.window, timeout=60),
            }

            def send(name: str) -> float:
                started = time.perf_counter()
                backends[name].save_batch(items, paths, overwrite=True)
                return time.perf_counter() - started

            for name in backends:
                send(name)
            for round_ in range(args.rounds):
                for name in sorted(backends, reverse=bool(round_ % 2)):
                    seconds[name].append(send(name))
            held = {layer["name"] for layer in viewer.request("layers")["layers"]}
            if held != set(paths):
                raise SystemExit(f"viewer: holds layers {sorted(held)}, not {sorted(set(paths))}")
            for backend in backends.values():
                backend.close()
    rates = {name: count / statistics.median(values) for name, values in seconds.items()}
    rows = [
        [
            "napari_stream to the viewer" if name == "viewer" else "zmq_stream to memory",
            f"{rates[name]:.1f}",
            f"{min(count / s for s in values):.1f}",
            f"{max(count / s for s in values):.1f}",
            f"{rates[name] / rates['stream']:.2f}",
        ]
        for name, values in seconds.items()
    ]
    return Result(
        title=title,
        introduction=(
            f"{count} frames of {args.size}x{args.size} uint16 a round, through ``save_batch`` "
            f"(window {args.window}), to the viewer of ``platekit view`` (napari under "
            f"{'Xvfb' if not os.environ.get('DISPLAY') else 'the display'}, {VIEWER_LAYERS} layers "
            "updated in turn) and to a stream server keeping them in memory, taking turns over "
            f"{args.rounds} rounds; frames per second is the median round. The viewer "
            "acknowledges a frame once it is in its layer; the window shows the newest data "
            "of each layer whenever it is ready."
        ),
        headers=("sender", "frames/s", "min", "max", "of memory"),
        rows=rows,
        targets=[
            Target(
                "viewer frames per second (no target yet)",
                None,
                f"{rates['viewer']:.1f} frames/s against {rates['stream']:.1f} to memory",
            )
        ],
    )


def measure_convert_stream(args: argparse.Namespace) -> Result:
    """A conversion's time with stream_to a viewer, against the same conversion without."""
    import importlib.util
    import shutil as shell
    import tempfile

    from platekit.microscopes import convert
    from platekit.microscopes.testing import write_plate
    from platekit.zmq import launch_server

    title = "A conversion showing its wells in the viewer"
    goal = f"convert(stream_to=viewer) at most {CONVERT_STREAM_SLOWDOWN:.2f}x the time without"
    if importlib.util.find_spec("napari") is None:
        return _no_viewer(title, "napari is not installed", goal)
    wells = [f"{row}{column:02d}" for row in "AB" for column in range(1, 5)]
    shape = (args.size, args.size)
    seconds: dict[str, list[float]] = {"without": [], "stream_to": [], "stream_to memory": []}
    with tempfile.TemporaryDirectory(prefix="platekit-bench-") as folder, _display() as display:
        if display is None:
            return _no_viewer(title, "no display and no Xvfb", goal)
        source = write_plate(
            "imagexpress", Path(folder) / "plate", wells=wells, channels=2, shape=shape
        )
        with (
            launch_server("viewer", env=_viewer_env(display), timeout=120) as viewer,
            launch_server("stream", store="memory") as plain,
        ):
            # The plain stream server tells the sending's own cost from the viewer's.
            address = {
                "without": None,
                "stream_to": viewer.data_address,
                "stream_to memory": plain.data_address,
            }

            def run(name: str) -> float:
                out = Path(folder) / f"{name}.zarr"
                shell.rmtree(out, ignore_errors=True)
                started = time.perf_counter()
                convert(source, out, stream_to=address[name])
                return time.perf_counter() - started

            for name in address:
                run(name)
            viewer_pid = viewer.ping()["pid"]
            viewer_cpu = _cpu_seconds(viewer_pid)
            for round_ in range(args.rounds):
                turn = round_ % len(address)
                for name in [*address][turn:] + [*address][:turn]:
                    seconds[name].append(run(name))
            if viewer_cpu is not None:
                viewer_cpu = (_cpu_seconds(viewer_pid) or 0.0) - viewer_cpu
            shown = len(viewer.request("layers")["layers"])
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    ratio = medians["stream_to"] / medians["without"]
    labels = {
        "without": "without",
        "stream_to": "stream_to the viewer",
        "stream_to memory": "stream_to a stream server (memory)",
    }
    rows = [
        [
            labels[name],
            f"{medians[name]:.2f}",
            f"{min(values):.2f}",
            f"{max(values):.2f}",
            f"{medians[name] / medians['without']:.2f}",
        ]
        for name, values in seconds.items()
    ]
    return Result(
        title=title,
        introduction=(
            f"One worker converting a {len(wells)}-well ImageXpress plate of 2 channels of "
            f"{args.size}x{args.size} uint16 planes, with ``stream_to`` the viewer of "
            "``platekit view`` (napari under Xvfb), with ``stream_to`` a stream server "
            "keeping the wells in memory (what sending costs without a viewer) and without, "
            "taking turns over "
            f"{args.rounds} rounds; seconds are the median round. The viewer held {shown} "
            "layers at the end"
            + (
                f" and used {viewer_cpu / args.rounds:.2f} s of CPU per conversion it showed, "
                f"on a machine of {os.cpu_count()} CPUs whose load average was "
                f"{os.getloadavg()[0]:.1f}"
                if viewer_cpu is not None
                else ""
            )
            + "."
        ),
        headers=("conversion", "seconds", "min", "max", "of without"),
        rows=rows,
        targets=[
            Target(
                goal,
                ratio <= CONVERT_STREAM_SLOWDOWN,
                f"{ratio:.2f}x ({medians['stream_to']:.2f} s against {medians['without']:.2f} s)",
            )
        ],
    )


#: Every measurement, in the order they run.
MEASUREMENTS = (
    measure_stream,
    measure_control,
    measure_launch,
    measure_viewer,
    measure_convert_stream,
)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = set(args.only.split(",")) if args.only else None
    results = [
        measure(args)
        for measure in MEASUREMENTS
        if chosen is None or measure.__name__.removeprefix("measure_") in chosen
    ]
    facts = (
        f"Python {platform.python_version()}, pyzmq {_pyzmq_versions()}, {os.cpu_count()} CPUs, "
        f"{datetime.date.today().isoformat()}"
    )
    print("\n\n".join([facts, *(result.text() for result in results)]))
    if args.rst is not None:
        text = [
            "ZeroMQ servers",
            "--------------",
            "",
            ".. Written by tests_integration/bench/zmq_bench.py; run the bench session again",
            "   rather than editing this file.",
            "",
            facts + ".",
            "",
            *(result.rst() for result in results),
        ]
        args.rst.parent.mkdir(parents=True, exist_ok=True)
        args.rst.write_text("\n".join(text), encoding="utf-8")
    missed = [t for result in results for t in result.targets if t.passed is False]
    if missed and args.fail_on_miss:
        return 1
    return 0


def _pyzmq_versions() -> str:
    import zmq

    return f"{zmq.pyzmq_version()} (libzmq {zmq.zmq_version()})"


if __name__ == "__main__":
    sys.exit(main())
