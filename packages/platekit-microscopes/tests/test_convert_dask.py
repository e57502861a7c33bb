"""The dask executor against real Dask: a scheduler and two workers as processes, a LocalCluster.

Every output is compared, file by file and byte by byte, with a one-process
conversion of the same plates. Nothing legitimately differs: the chunks and
every metadata document are the same; only the empty ``.platekit-lock``
file is left out of the comparison, as it holds nothing.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from platekit.microscopes import (
    ConversionCancelled,
    Progress,
    convert,
    convert_screen,
    open_plate,
)
from platekit.microscopes.testing import write_plate

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

SMALL = {"wells": ["A01", "A02", "B01", "B02"], "sites": 2, "channels": 2, "shape": (64, 64)}
#: The longest any wait on the cluster's processes may take, in seconds.
WAIT = 60.0


def plates(root: Path, count: int, **options: object) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    chosen = {**SMALL, **options}
    return [write_plate("imagexpress", root / f"Plate{i}", seed=i, **chosen) for i in range(count)]  # type: ignore[arg-type]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (the lock file aside, which holds nothing) with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".platekit-lock"
    }


@dataclass
class Cluster:
    address: str
    workers: list[subprocess.Popen[bytes]]


def _dask() -> str:
    script = Path(sys.executable).parent / "dask"
    if not script.is_file():
        pytest.skip(f"no dask command next to {sys.executable}")
    return str(script)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, stopped at the end."""
    dask = _dask()
    scheduler_file = tmp_path / "scheduler.json"
    logs = open(tmp_path / "cluster.log", "wb")  # noqa: SIM115 - closed at the end
    common = {"stdout": logs, "stderr": subprocess.STDOUT, "env": os.environ.copy()}
    started = [
        subprocess.Popen(
            [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                # Its HTTP server (health, metrics) takes 8787 unless told otherwise, which
                # would push a LocalCluster started meanwhile onto another port, with a warning.
                "--dashboard-address",
                "127.0.0.1:0",
                "--scheduler-file",
                str(scheduler_file),
            ],
            **common,  # type: ignore[call-overload]
        )
    ]
    try:
        deadline = time.monotonic() + WAIT
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for name in ("one", "two"):
            started.append(
                subprocess.Popen(
                    [
                        dask,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                        "--name",
                        name,
                    ],
                    **common,  # type: ignore[call-overload]
                )
            )
        with distributed.Client(address, timeout=WAIT) as client:
            client.wait_for_workers(2, timeout=WAIT)
        yield Cluster(address, started[1:])
    finally:
        _stop(started)
        logs.close()


def test_a_screen_on_a_cluster_writes_what_one_process_writes(
    tmp_path: Path, cluster: Cluster
) -> None:
    sources = plates(tmp_path / "in", 3)
    alone = convert_screen(sources, tmp_path / "alone")
    seen: list[Progress] = []
    result = convert_screen(
        sources, tmp_path / "dask", executor="dask", scheduler=cluster.address, progress=seen.append
    )
    assert result.failed == {} and len(result.converted) == 3
    assert result.planes_written == alone.planes_written == 3 * 4 * 2 * 2
    assert tree(tmp_path / "dask") == tree(tmp_path / "alone")
    assert seen[-1].done == seen[-1].total == 48 and seen[-1].wells_done == 12
    assert len({p.done for p in seen}) > 2, "progress arrives as the workers write"


def test_a_worker_killed_mid_run_changes_nothing_in_the_output(
    tmp_path: Path, cluster: Cluster
) -> None:
    sources = plates(tmp_path / "in", 4, sites=4, shape=(256, 256))
    convert_screen(sources, tmp_path / "alone")
    killed: list[int] = []

    def kill_once(progress: Progress) -> None:
        if not killed and 0 < progress.done - progress.done_before < progress.total // 2:
            cluster.workers[0].send_signal(signal.SIGKILL)
            killed.append(progress.done)

    result = convert_screen(
        sources, tmp_path / "dask", executor="dask", scheduler=cluster.address, progress=kill_once
    )
    assert killed, "the worker was killed while the conversion ran"
    assert cluster.workers[0].wait(timeout=WAIT) == -signal.SIGKILL
    assert result.failed == {}
    assert tree(tmp_path / "dask") == tree(tmp_path / "alone")


def test_a_cancel_stops_the_tasks_and_the_same_call_finishes_it(
    tmp_path: Path, cluster: Cluster
) -> None:
    # Wells enough that many are still waiting when the first progress arrives, however
    # quickly the workers write (the first report of a task may come only as it ends).
    wells = [f"{row}{column:02d}" for row in "AB" for column in range(1, 13)]
    [source] = plates(tmp_path / "in", 1, wells=wells, sites=4, shape=(256, 256))
    stop = threading.Event()

    def cancel_soon(progress: Progress) -> None:
        if progress.done:
            stop.set()

    with pytest.raises(ConversionCancelled):
        convert(
            source,
            tmp_path / "out.zarr",
            executor="dask",
            scheduler=cluster.address,
            progress=cancel_soon,
            cancel=stop,
        )
    again = convert(source, tmp_path / "out.zarr", executor="dask", scheduler=cluster.address)
    assert again.wells_converted > 0
    assert tree(tmp_path / "out.zarr") == tree(convert(source, tmp_path / "alone.zarr").out)


def test_a_local_cluster_is_started_for_the_run_and_stopped_after_it(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    # Servers other tests' session fixtures started (an S3 server, say) are not the run's.
    earlier = {child.pid for child in psutil.Process().children(recursive=True)}
    sources = plates(tmp_path / "in", 2)
    result = convert_screen(sources, tmp_path / "dask", executor="dask", workers=2)
    assert result.failed == {}
    convert_screen(sources, tmp_path / "alone")
    assert tree(tmp_path / "dask") == tree(tmp_path / "alone")

    def workers() -> list[object]:
        # multiprocessing's resource tracker lives as long as this process, by design.
        return [
            child
            for child in psutil.Process().children(recursive=True)
            if child.pid not in earlier and "resource_tracker" not in " ".join(child.cmdline())
        ]

    deadline = time.monotonic() + WAIT
    while workers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers() == []


def _setup_probe() -> Any:
    """A task reporting how the process that runs it is set up: zarr's threads, malloc, profiler."""

    # Made here, so Dask sends the class itself: a worker need not import this module.
    class Probe:
        holds: tuple[str, ...] = ()

        def __call__(self, report: object, cancel: object) -> tuple[object, ...]:
            import dask
            import distributed
            import zarr

            wakes = distributed.get_worker().periodic_callbacks
            return (
                zarr.config.get("threading.max_workers"),
                os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                dask.config.get("distributed.worker.profile.enabled"),
                # How often, in ms, the worker's event loop wakes to time itself and to
                # sample the host.
                wakes["tick"].callback_time,
                wakes["monitor"].callback_time,
            )

    return Probe()


def _run_probe(executor: object) -> tuple[object, ...]:
    from platekit.microscopes.executors.dask import DaskExecutor

    assert isinstance(executor, DaskExecutor)
    outcomes: list[tuple[object, BaseException | None]] = []
    with executor:
        executor.run(
            [_setup_probe()], lambda _, got, error: outcomes.append((got, error)), print, None
        )
    [(got, error)] = outcomes
    assert error is None
    return got  # type: ignore[return-value]


def test_a_local_cluster_worker_uses_one_core_per_thread_and_a_plain_malloc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from platekit.microscopes.executors.dask import DaskExecutor

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    threads, trim, profiling, tick_ms, monitor_ms = _run_probe(DaskExecutor(workers=1))
    # One thread for tasks, one for zarr's encoding: not one per core of the machine.
    assert threads == 1
    assert trim is None, "Dask's trim threshold turns glibc's adaptive mmap threshold off"
    assert profiling is False
    # Dask's defaults, 20 ms and 500 ms, wake the worker 52 times a second at rest.
    assert (tick_ms, monitor_ms) == (1000, 2000)


def test_a_run_that_ends_without_a_task_while_dask_is_imported_starts_no_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from platekit.microscopes.executors import dask as dask_executor

    started: list[int] = []
    monkeypatch.setattr(
        dask_executor, "_local_cluster", lambda workers: started.append(workers) or (None, None)
    )
    imported = dask_executor._distributed

    def imported_once_the_run_has_ended() -> Any:
        # Called on the thread that starts the cluster: Dask's import ends after the run did.
        threading.current_thread().unwanted.wait(WAIT)  # type: ignore[attr-defined]
        return imported()

    monkeypatch.setattr(dask_executor, "_distributed", imported_once_the_run_has_ended)
    with dask_executor.DaskExecutor(workers=1) as executor:
        executor.run([], lambda *_: None, lambda _: None, None)  # nothing left to do
    assert started == []


def test_a_local_cluster_starts_as_the_executor_is_entered_before_any_task() -> None:
    psutil = pytest.importorskip("psutil")
    from platekit.microscopes.executors.dask import DaskExecutor

    earlier = {child.pid for child in psutil.Process().children(recursive=True)}

    def started() -> bool:
        # multiprocessing's resource tracker lives as long as this process, by design.
        return any(
            child.pid not in earlier and "resource_tracker" not in " ".join(child.cmdline())
            for child in psutil.Process().children(recursive=True)
        )

    executor = DaskExecutor(workers=1)
    with executor:
        # The run opens and plans its plates meanwhile: nothing is asked of the executor yet.
        deadline = time.monotonic() + WAIT
        while not started() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started(), "the worker process starts before the run gives any task"
        outcomes: list[object] = []
        executor.run([_setup_probe()], lambda *outcome: outcomes.append(outcome), print, None)
    assert len(outcomes) == 1


def test_a_local_cluster_that_does_not_start_is_one_sentence_before_any_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from platekit.microscopes.executors.dask import DaskExecutor

    def no_ports(**options: object) -> None:
        raise OSError("no free port on 127.0.0.1")

    monkeypatch.setattr(distributed, "LocalCluster", no_ports)
    outcomes: list[object] = []
    with DaskExecutor(workers=2) as executor, pytest.raises(ConnectionError) as raised:
        executor.run([_setup_probe()], lambda *outcome: outcomes.append(outcome), print, None)
    assert str(raised.value) == (
        "could not start a Dask LocalCluster of 2 workers on this machine (no free port on "
        "127.0.0.1); run the same command again, or give the scheduler of a running cluster"
    )
    assert outcomes == []


def test_a_worker_of_an_existing_cluster_sizes_zarrs_threads_to_its_own(cluster: Cluster) -> None:
    from platekit.microscopes.executors.dask import DaskExecutor

    threads, *_ = _run_probe(DaskExecutor(scheduler=cluster.address))
    assert threads == 1  # the fixture's workers run one thread each


def test_ctrl_c_on_a_local_cluster_is_one_line_and_the_same_command_finishes(
    tmp_path: Path,
) -> None:
    psutil = pytest.importorskip("psutil")
    [source] = plates(tmp_path / "in", 1, sites=4, shape=(512, 512))
    command = [sys.executable, "-m", "platekit.registry", "convert", "--executor", "dask"]
    command += ["--workers", "2", str(source), str(tmp_path / "out.zarr")]
    running = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    said = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        said.append(running.stderr.readline())  # type: ignore[union-attr]
        if "planes" in said[-1] and not said[-1].startswith("converting: 0/"):
            break
    # As a terminal does: to the whole process group, the cluster's workers too.
    os.killpg(running.pid, signal.SIGINT)
    _, rest = running.communicate(timeout=WAIT)
    assert running.returncode == 130
    assert "Traceback" not in rest
    assert [line for line in rest.splitlines() if not line.startswith("converting:")] == [
        "platekit: interrupted; run the same command again to finish the conversion"
    ]
    assert not psutil.pid_exists(running.pid) or psutil.Process(running.pid).status() == "zombie"
    finished = subprocess.run(command, capture_output=True, text=True, timeout=WAIT * 2)
    assert finished.returncode == 0, finished.stderr
    assert tree(tmp_path / "out.zarr") == tree(convert(source, tmp_path / "alone.zarr").out)


# -- what crosses to a worker --------------------------------------------------------------


def test_the_plan_backends_file_manager_registry_and_plate_cross_to_a_worker(
    tmp_path: Path, cluster: Cluster
) -> None:
    from operator import attrgetter, methodcaller

    from platekit.microscopes._plan import make_plan
    from platekit.microscopes._well_writer import backend_for
    from platekit.storage import BackendRegistry, FileManager

    [source] = plates(tmp_path / "in", 1)
    plate = open_plate(source)
    key = next(plate.planes())[0]
    registry = BackendRegistry()
    registry["disk"]  # a backend made already: the registry still crosses
    plan = make_plan(plate, tmp_path / "o.zarr", "0.5", 1, False)
    manager = FileManager(registry)
    # What each object does on the other side, and what that must give.
    uses = [
        (plate, methodcaller("read_plane", key), lambda got: (got == plate.read_plane(key)).all()),
        (plan, attrgetter("meta.wells"), lambda got: got == SMALL["wells"]),
        (registry, methodcaller("__getitem__", "disk"), lambda got: got.exists(str(source))),
        (manager, methodcaller("load", str(tmp_path / "note.txt"), "disk"), "sent".__eq__),
        (backend_for("0.5"), methodcaller("is_dir", str(tmp_path / "made.zarr")), bool),
        (registry["disk"], methodcaller("load", str(tmp_path / "note.txt")), "sent".__eq__),
    ]
    manager.save("sent", str(tmp_path / "note.txt"), "disk")
    backend_for("0.5").ensure_directory(str(tmp_path / "made.zarr"))
    for thing, use, check in uses:
        assert check(use(pickle.loads(pickle.dumps(thing)))), type(thing).__name__
    with distributed.Client(cluster.address, timeout=WAIT) as client:
        for thing, use, check in uses:
            got = client.submit(use, thing, pure=False).result(timeout=WAIT)
            assert check(got), type(thing).__name__
        # Every backend type offered, so one added later that does not pickle fails here.
        for name in registry:
            backend = registry[name]
            got = client.submit(attrgetter("name"), backend, pure=False).result(timeout=WAIT)
            assert got == name
        # And the other way: what a worker made, written there, is here.
        client.submit(
            methodcaller("save", "from a worker", str(tmp_path / "back.txt"), "disk"),
            manager,
            pure=False,
        ).result(timeout=WAIT)
    assert (tmp_path / "back.txt").read_text() == "from a worker"


# -- errors --------------------------------------------------------------------------------


def platekit(*args: str | Path, code: str = "") -> subprocess.CompletedProcess[str]:
    """``platekit ARGS`` in a fresh interpreter, after running ``code`` there."""
    script = f"{code}\nimport sys\nfrom platekit.registry._cli import main\nsys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_scheduler_that_does_not_answer_is_one_line_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    [source] = plates(tmp_path / "in", 1)
    address = f"tcp://127.0.0.1:{_free_port()}"
    failed = platekit(
        "convert", "--executor", "dask", "--scheduler", address, source, tmp_path / "o.zarr"
    )
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert f"no Dask scheduler answers at {address!r}" in failed.stderr
    assert not (tmp_path / "o.zarr").exists()


def test_an_unknown_executor_is_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    [source] = plates(tmp_path / "in", 1)
    failed = platekit("convert", "--executor", "spark", source, tmp_path / "o.zarr")
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert "'spark' is not an executor; choose one of dask, processes" in failed.stderr
    assert not (tmp_path / "o.zarr").exists()


def test_dask_not_installed_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    sources = plates(tmp_path / "in", 2)
    for out in (tmp_path / "o.zarr", tmp_path / "screen"):
        args = [*sources[: 1 if out.suffix else 2], out]
        failed = platekit(
            "convert",
            "--executor",
            "dask",
            *args,
            code="import sys; sys.modules['distributed'] = None",
        )
        assert failed.returncode == 1, failed.stderr
        assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
        assert "needs Dask distributed" in failed.stderr and "[dask]" in failed.stderr
        assert not out.exists()


def test_workers_with_a_scheduler_are_refused(tmp_path: Path) -> None:
    [source] = plates(tmp_path / "in", 1)
    with pytest.raises(ValueError, match="has its own: leave workers"):
        convert(source, tmp_path / "o.zarr", executor="dask", workers=2, scheduler="tcp://h:1")
    assert not (tmp_path / "o.zarr").exists()
