"""The execution server: jobs run, followed, cancelled, refused when busy; crashes survived."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from platekit.microscopes import PlaneKey
from platekit.microscopes.testing import expected_pixels, write_plate
from platekit.zmq import ServerError, ServerGone, launch_server
from platekit.zmq._submit import ServerBusy, cancel, job_status, submit, wait

# A third-party job distribution, as pip would leave it on sys.path: a job that
# crashes its own worker process, announced in the platekit.zmq_jobs group.
_CRASH_JOBS = '''
"""Jobs that end their worker process on purpose."""

import os
import signal

from platekit.zmq._jobs import Job
from platekit.zmq._protocol import Field


class CrashJob(Job):
    _job_name = "crash"
    help = "end the worker process: how=exit (os._exit(7)) or how=segv (SIGSEGV)"
    params = {"how": Field("str")}

    def run(self, params, progress, cancel):
        progress(0, 1)
        if params["how"] == "exit":
            os._exit(7)
        os.kill(os.getpid(), signal.SIGSEGV)
        return {}


class SpinJob(Job):
    _job_name = "spin"
    help = "compute without ever letting another thread of the worker run"
    params = {}

    def run(self, params, progress, cancel):
        progress(0, 1)
        # One C call holding the GIL for minutes: no Python thread of this process runs.
        return {"sum": sum(range(10**12))}


class StubbornJob(Job):
    _job_name = "stubborn"
    help = "sleep without ever looking at the cancel flag"
    params = {"seconds": Field("number")}

    def run(self, params, progress, cancel):
        import time

        progress(0, 1)
        time.sleep(params["seconds"])
        return {}
'''


@pytest.fixture
def crash_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The crash job distribution on PYTHONPATH, so launched servers and their workers run it."""
    folder = tmp_path / "crash-jobs"
    folder.mkdir()
    (folder / "platekit_crash_jobs.py").write_text(textwrap.dedent(_CRASH_JOBS))
    info = folder / "platekit_crash_jobs-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: platekit-crash-jobs\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        "[platekit.zmq_jobs]\n"
        "crash = platekit_crash_jobs:CrashJob\n"
        "stubborn = platekit_crash_jobs:StubbornJob\n"
        "spin = platekit_crash_jobs:SpinJob\n"
    )
    (info / "RECORD").write_text("")
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(folder) + (os.pathsep + path if path else ""))
    return folder


def until(predicate: Any, seconds: float = 30.0, interval: float = 0.05) -> Any:
    """The first true value of ``predicate()`` within ``seconds``; fails the test otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"not true within {seconds} s: {predicate}")


def running_record(address: str, job_id: str) -> dict[str, Any]:
    """The job's record once it is running with a worker pid."""

    def running() -> dict[str, Any] | None:
        record = job_status(address, job_id)
        assert record["state"] in ("queued", "running"), record
        return record if record["state"] == "running" and record["worker_pid"] else None

    return until(running)  # type: ignore[no-any-return]


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- plates --------------------------------------------------------------------------------

WELLS = ["A01", "A02", "B01", "B02"]


def plate(tmp_path: Path, wells: list[str] = WELLS, **spec: Any) -> Path:
    options: dict[str, Any] = {"sites": 2, "channels": 2, "shape": (32, 48), **spec}
    return write_plate("imagexpress", tmp_path / "plate", wells=wells, **options)


def opened_by_ome_zarr(out: Path) -> list[str]:
    """The well paths ome-zarr-py reads from the plate ``out``."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    location = parse_url(str(out))
    assert location is not None
    nodes = list(Reader(location)())
    assert nodes, f"ome-zarr-py found nothing in {out}"
    attributes = location.root_attrs
    return [well["path"] for well in attributes.get("ome", attributes)["plate"]["wells"]]


def assert_plane(out: Path, key: PlaneKey, shape: tuple[int, int]) -> None:
    """The output holds the source's pixels for ``key`` (site and channel 1-based, first z/t)."""
    well = out / key.well[0] / str(int(key.well[1:])) / str(key.site - 1)
    image = dict(zarr.open_group(str(well), mode="r").attrs)
    axes = [axis["name"] for axis in image.get("ome", image)["multiscales"][0]["axes"]]
    array = zarr.open_array(str(well / "0"), mode="r")
    position = {"t": key.timepoint - 1, "c": key.channel - 1, "z": key.z_index - 1}
    np.testing.assert_array_equal(
        np.asarray(array[tuple(position[a] for a in axes[:-2])]), expected_pixels(key, shape)
    )


# -- conversion ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_submitted_conversion_completes_and_ome_zarr_opens_it(tmp_path: Path) -> None:
    source = plate(tmp_path)
    out = tmp_path / "out.zarr"
    with launch_server("execution", read_roots=[tmp_path], write_roots=[tmp_path]) as server:
        accepted = submit(server.address, "convert", {"plate": str(source), "out": str(out)})
        assert accepted["position"] == 0
        record = wait(server.address, accepted["job_id"], timeout=10)
    assert record["state"] == "completed", record
    result = record["result"]
    assert result["out"] == str(out)
    assert result["wells_converted"] == result["wells_total"] == 4
    assert result["planes_written"] == result["planes_total"] == 4 * 2 * 2
    assert result["absent"] == 0 and result["already_complete"] is False
    assert record["progress"]["done"] == record["progress"]["total"] == 16
    assert opened_by_ome_zarr(out) == ["A/1", "A/2", "B/1", "B/2"]
    assert_plane(out, PlaneKey("B02", 2, 2, 1, 1), (32, 48))


@pytest.mark.slow
def test_a_failed_conversion_reports_its_error_type_message_and_traceback(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-plate"
    with launch_server("execution", read_roots=[tmp_path], write_roots=[tmp_path]) as server:
        job_id = submit(
            server.address, "convert", {"plate": str(missing), "out": str(tmp_path / "o.zarr")}
        )["job_id"]
        record = wait(server.address, job_id, timeout=10)
        # The worker survives a failing job: the next one runs.
        echo = submit(server.address, "echo", {"value": "after"})["job_id"]
        assert wait(server.address, echo)["result"] == {"value": "after"}
    assert record["state"] == "failed"
    error = record["error"]
    assert error["type"] in ("FileNotFoundError", "UnknownPlateError", "PlateError"), error
    assert "no-such-plate" in error["message"]
    assert error["traceback"].startswith("Traceback") and error["type"] in error["traceback"]


@pytest.mark.slow
def test_cancel_stops_a_running_conversion_and_the_rerun_resumes_it(tmp_path: Path) -> None:
    wells = [f"{row}{column:02d}" for row in "AB" for column in range(1, 7)]
    source = plate(tmp_path, wells=wells, z=8, shape=(64, 64))
    planes_per_well = 2 * 2 * 8
    out = tmp_path / "out.zarr"
    params = {"plate": str(source), "out": str(out)}
    with launch_server("execution", read_roots=[tmp_path], write_roots=[tmp_path]) as server:
        job_id = submit(server.address, "convert", params)["job_id"]

        def past_the_first_well() -> dict[str, Any] | None:
            record = job_status(server.address, job_id)
            assert record["state"] in ("queued", "running"), record
            progress = record["progress"] or {"done": 0}
            return record if progress["done"] > planes_per_well else None

        until(past_the_first_well, interval=0.02)
        reply = cancel(server.address, job_id)
        assert reply["state"] == "running", "the conversion ended before it could be cancelled"
        cancelled = wait(server.address, job_id, timeout=10, max_wait=30)
        assert cancelled["state"] == "cancelled"
        assert cancelled["error"]["type"] == "JobCancelled"
        assert cancelled["progress"]["done"] < cancelled["progress"]["total"]
        # Stopped, not finished: the plate's own metadata is written only at the end.
        root = json.loads((out / "zarr.json").read_text())
        assert "plate" not in root.get("attributes", {}).get("ome", {})

        rerun = wait(server.address, submit(server.address, "convert", params)["job_id"])
    assert rerun["state"] == "completed", rerun
    result = rerun["result"]
    assert 0 < result["wells_converted"] < result["wells_total"] == len(wells)
    assert result["planes_written"] == result["wells_converted"] * planes_per_well
    assert opened_by_ome_zarr(out) == [f"{w[0]}/{int(w[1:])}" for w in wells]
    for well in (wells[0], wells[-1]):
        assert_plane(out, PlaneKey(well, 2, 2, 8, 1), (64, 64))


# -- progress ------------------------------------------------------------------------------


def subscribe(data_address: str) -> Any:
    import zmq

    socket = zmq.Context.instance().socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(data_address)
    socket.setsockopt(zmq.SUBSCRIBE, b"")
    return socket


def events_until_end(
    socket: Any, job_id: str, seconds: float = 30.0
) -> list[dict[str, Any]] | None:
    """The job's PUB messages, up to and including its final state; ``None`` if it never came."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not socket.poll(100):
            continue
        topic, body = socket.recv_multipart()
        event = json.loads(body)
        assert topic == event["job_id"].encode()
        if event["job_id"] != job_id:
            continue
        events.append(event)
        if event["type"] == "state" and event["state"] in ("completed", "failed", "cancelled"):
            return events
    return None


@pytest.mark.slow
def test_progress_is_published_in_order_and_ends_with_completion() -> None:
    with launch_server("execution") as server:
        socket = subscribe(server.data_address)
        try:
            # A subscription takes a moment to reach the server: wait until one job is seen whole.
            def subscribed() -> bool:
                job_id = submit(server.address, "echo", {"value": 1})["job_id"]
                return events_until_end(socket, job_id, seconds=1) is not None

            until(subscribed, seconds=20)
            job_id = submit(server.address, "sleep", {"seconds": 0.6, "steps": 6})["job_id"]
            events = events_until_end(socket, job_id)
        finally:
            socket.close(linger=0)
    assert events is not None, "the job's end was never published"
    states = [e["state"] for e in events if e["type"] == "state"]
    assert states == ["queued", "running", "completed"]
    progress = [e for e in events if e["type"] == "progress"]
    done = [e["done"] for e in progress]
    assert done == sorted(done) and done[-1] == 6
    assert all(e["total"] == 6 for e in progress)
    assert len(progress) >= 3  # reported as it happens, not only at the end
    # Progress comes between the job starting and its end.
    kinds = [e["type"] if e["type"] == "progress" else e["state"] for e in events]
    assert kinds[:2] == ["queued", "running"] and kinds[-1] == "completed"
    assert events[-1]["result"] == {"seconds": 0.6, "steps": 6}


@pytest.mark.slow
def test_wait_reports_progress_in_order_even_after_joining_late() -> None:
    seen: list[tuple[int, int]] = []
    with launch_server("execution") as server:
        job_id = submit(server.address, "sleep", {"seconds": 0.8, "steps": 8})["job_id"]
        time.sleep(0.3)  # part of it is over before the client starts following it
        record = wait(
            server.address, job_id, on_progress=lambda done, total, rate: seen.append((done, total))
        )
        # A job that ended before wait() started is seen as ended, not waited for forever.
        assert wait(server.address, job_id, timeout=5, max_wait=5)["state"] == "completed"
    assert record["state"] == "completed"
    assert seen and seen[-1] == (8, 8)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


# -- queue and cancel ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_full_queue_answers_busy_with_its_length() -> None:
    with launch_server("execution", workers=1, queue=2) as server:
        long = {"seconds": 60, "steps": 60}
        positions = [submit(server.address, "sleep", long)["position"] for _ in range(3)]
        assert positions == [0, 1, 2]
        with pytest.raises(ServerBusy) as busy:
            submit(server.address, "sleep", long)
        assert busy.value.code == "busy"
        assert busy.value.queue_length == 2 and busy.value.capacity == 2
        assert "2" in str(busy.value)
        queue = server.ping()["queue"]
        assert queue == {"queued": 2, "running": 1, "capacity": 2, "workers": 1}
        # Once there is room again, submitting works again.
        waiting = [j for j in server.request("jobs")["jobs"] if j["state"] == "queued"]
        assert cancel(server.address, waiting[0]["job_id"])["state"] == "cancelled"
        assert submit(server.address, "echo", {"value": 0})["position"] == 2


@pytest.mark.slow
def test_cancel_takes_a_queued_job_out_and_stops_a_running_one() -> None:
    with launch_server("execution", workers=1) as server:
        first = submit(server.address, "sleep", {"seconds": 60, "steps": 2})["job_id"]
        second = submit(server.address, "sleep", {"seconds": 60})["job_id"]
        assert job_status(server.address, second)["position"] == 1
        assert cancel(server.address, second)["state"] == "cancelled"
        assert job_status(server.address, second)["state"] == "cancelled"
        running_record(server.address, first)
        assert cancel(server.address, first)["state"] == "running"
        record = wait(server.address, first, timeout=10, max_wait=20)
        assert record["state"] == "cancelled" and record["error"]["type"] == "JobCancelled"
        # Cancelling what has ended changes nothing.
        assert cancel(server.address, first)["state"] == "cancelled"
        # The worker that was cancelled runs the next job.
        assert wait(server.address, submit(server.address, "echo", {"value": 2})["job_id"])[
            "result"
        ] == {"value": 2}


@pytest.mark.slow
def test_a_job_that_ignores_cancel_is_stopped_by_killing_its_worker(crash_jobs: Path) -> None:
    with launch_server("execution") as server:
        job_id = submit(server.address, "stubborn", {"seconds": 120})["job_id"]
        pid = running_record(server.address, job_id)["worker_pid"]
        cancel(server.address, job_id)
        record = wait(server.address, job_id, timeout=10, max_wait=30)
        assert record["state"] == "cancelled"
        assert "killed" in record["error"]["message"]
        until(lambda: process_gone(pid))
        assert (
            wait(server.address, submit(server.address, "echo", {"value": 3})["job_id"])["state"]
            == "completed"
        )


# -- crashes -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSEGV])
def test_a_worker_killed_mid_job_fails_the_job_and_the_server_serves_on(signum: int) -> None:
    with launch_server("execution", workers=1) as server:
        job_id = submit(server.address, "sleep", {"seconds": 60})["job_id"]
        pid = running_record(server.address, job_id)["worker_pid"]
        os.kill(pid, signum)
        record = wait(server.address, job_id, timeout=10, max_wait=30)
        assert record["state"] == "failed"
        assert record["error"]["type"] == "WorkerDied"
        assert record["error"]["exit_code"] == -signum
        assert signal.Signals(signum).name in record["error"]["message"]
        assert server.ping()["ready"] is True
        after = wait(server.address, submit(server.address, "echo", {"value": 4})["job_id"])
        assert after["state"] == "completed" and after["worker_pid"] != pid


@pytest.mark.slow
@pytest.mark.parametrize(("how", "code"), [("exit", 7), ("segv", -signal.SIGSEGV)])
def test_a_job_that_crashes_its_worker_is_failed_and_the_server_serves_on(
    crash_jobs: Path, how: str, code: int
) -> None:
    with launch_server("execution", workers=1) as server:
        record = wait(server.address, submit(server.address, "crash", {"how": how})["job_id"])
        assert record["state"] == "failed"
        assert record["error"]["type"] == "WorkerDied" and record["error"]["exit_code"] == code
        after = wait(server.address, submit(server.address, "sleep", {"seconds": 0})["job_id"])
        assert after["state"] == "completed"


@pytest.mark.slow
def test_a_server_killed_mid_job_is_an_error_for_the_waiting_client() -> None:
    server = launch_server("execution")
    try:
        job_id = submit(server.address, "sleep", {"seconds": 60})["job_id"]
        worker = running_record(server.address, job_id)["worker_pid"]
        killer = threading.Timer(0.5, os.kill, (server.pid, signal.SIGKILL))
        killer.start()
        try:
            with pytest.raises(ServerGone):
                wait(server.address, job_id, timeout=1.0, max_wait=30)
        finally:
            killer.join()
        # Its worker does not outlive it.
        until(lambda: process_gone(worker), seconds=10)
    finally:
        server.stop()


@pytest.mark.slow
def test_a_worker_busy_in_c_code_dies_with_its_killed_server(crash_jobs: Path) -> None:
    # The job holds the GIL, so no thread of the worker can notice the server is gone:
    # only the operating system can end the worker as its parent dies.
    server = launch_server("execution")
    worker = None
    try:
        job_id = submit(server.address, "spin", {})["job_id"]
        worker = running_record(server.address, job_id)["worker_pid"]
        time.sleep(0.5)  # well inside the job's C call
        os.kill(server.pid, signal.SIGKILL)
        server.process.wait(10)
        until(lambda: process_gone(worker), seconds=20)
    finally:
        server.stop()
        if worker is not None and not process_gone(worker):
            os.kill(worker, signal.SIGKILL)


@pytest.mark.slow
def test_stopping_the_server_cancels_its_jobs_and_ends_its_workers() -> None:
    with launch_server("execution", workers=2) as server:
        job_id = submit(server.address, "sleep", {"seconds": 60})["job_id"]
        running_record(server.address, job_id)
        pids = server.status()["worker_pids"]
        assert len(pids) == 2
    assert server.process.returncode == 0
    until(lambda: all(process_gone(pid) for pid in pids), seconds=10)


# -- requests that are refused -------------------------------------------------------------


@pytest.mark.slow
def test_bad_submissions_are_refused_naming_what_is_wrong(tmp_path: Path) -> None:
    convert = {"plate": str(tmp_path / "p"), "out": str(tmp_path / "o.zarr")}
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("nope", {}, "'nope'"),
        ("sleep", {}, "'seconds'"),
        ("sleep", {"seconds": "ten"}, "'seconds'"),
        ("sleep", {"seconds": 1, "naps": 2}, "'naps'"),
        ("sleep", {"seconds": -1}, "'seconds'"),
        ("convert", {**convert, "levels": 0}, "'levels'"),
        ("convert", {**convert, "ngff": "0.3"}, "'ngff'"),
        ("convert", {**convert, "out": "relative.zarr"}, "absolute"),
    ]
    with launch_server("execution") as server:
        for job, params, named in cases:
            with pytest.raises(ServerError) as refused:
                submit(server.address, job, params)
            assert refused.value.code == "invalid", (job, params)
            assert named in str(refused.value), (job, params, str(refused.value))
        with pytest.raises(ServerError) as unknown:
            job_status(server.address, "0123456789ab")
        assert unknown.value.code == "not_found"
        # Nothing refused was queued, and the server still runs jobs.
        assert server.request("jobs")["jobs"] == []
        final = wait(server.address, submit(server.address, "echo", {"value": None})["job_id"])
        assert final["result"] == {"value": None}, final


@pytest.mark.slow
def test_the_job_listing_holds_every_job_without_tracebacks(tmp_path: Path) -> None:
    with launch_server("execution", read_roots=[tmp_path], write_roots=[tmp_path]) as server:
        ok = submit(server.address, "echo", {"value": "x"})["job_id"]
        bad = submit(
            server.address,
            "convert",
            {"plate": str(tmp_path / "p"), "out": str(tmp_path / "o.zarr")},
        )["job_id"]
        wait(server.address, ok)
        wait(server.address, bad)
        listed = {job["job_id"]: job for job in server.request("jobs")["jobs"]}
        status = server.status()
    assert listed[ok]["state"] == "completed" and listed[bad]["state"] == "failed"
    assert "traceback" not in listed[bad]["error"] and listed[bad]["error"]["type"]
    assert status["job_counts"] == {"completed": 1, "failed": 1}


# -- the registry --------------------------------------------------------------------------


def test_the_job_registry_lists_the_built_in_jobs_without_importing_zmq_or_numpy() -> None:
    code = """
import json, sys
from platekit.zmq._jobs import ZMQ_JOBS
keys = sorted(ZMQ_JOBS)
helps = {k: ZMQ_JOBS.metadata(k)["help"] for k in keys}
import platekit.zmq.jobs.builtin, platekit.zmq.servers.execution, platekit.zmq.servers._pool
heavy = sorted(m for m in ("zmq", "numpy", "zarr", "multiprocessing") if m in sys.modules)
print(json.dumps([keys, helps, heavy]))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    keys, helps, heavy = json.loads(result.stdout)
    assert {"convert", "sleep", "echo"} <= set(keys)
    assert all(helps[key] for key in ("convert", "sleep", "echo"))
    assert heavy == []


def test_a_job_checks_its_parameters_and_fills_in_defaults() -> None:
    from platekit.zmq._jobs import ZMQ_JOBS
    from platekit.zmq._protocol import ProtocolError

    sleep = ZMQ_JOBS["sleep"]()
    assert sleep.check({"seconds": 2}) == {"seconds": 2, "steps": 10}
    with pytest.raises(ProtocolError, match="'steps'"):
        sleep.check({"seconds": 2, "steps": True})
    convert = ZMQ_JOBS["convert"]()
    checked = convert.check({"plate": "/p", "out": "/o.zarr"})
    assert checked["ngff"] == "0.5" and checked["levels"] == 1 and checked["overwrite"] is False


def test_the_sleep_job_stops_when_cancelled() -> None:
    from platekit.zmq._jobs import ZMQ_JOBS, JobCancelled

    reports: list[tuple[int, int]] = []
    flag = threading.Event()

    def progress(done: int, total: int) -> None:
        reports.append((done, total))
        if done == 2:
            flag.set()

    with pytest.raises(JobCancelled, match="2 of 100"):
        ZMQ_JOBS["sleep"]().run({"seconds": 50, "steps": 100}, progress, flag)
    assert reports == [(0, 100), (1, 100), (2, 100)]


def test_the_server_forgets_the_oldest_finished_jobs_beyond_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from platekit.zmq.servers import execution

    monkeypatch.setattr(execution, "MAX_FINISHED_RECORDS", 5)
    # Not started: no sockets and no workers, so submitted jobs wait until cancelled.
    server = execution.ExecutionServer(queue=2)

    def ask(kind: str, **fields: Any) -> dict[str, Any]:
        (frame,) = server.handle({"type": kind, "id": 1, **fields}, [])
        return json.loads(frame)  # type: ignore[no-any-return]

    ids = []
    for n in range(8):
        job_id = ask("submit", job="echo", params={"value": n})["job_id"]
        assert ask("cancel", job_id=job_id)["state"] == "cancelled"
        ids.append(job_id)
    listed = [job["job_id"] for job in ask("jobs")["jobs"]]
    assert listed == ids[-5:]
    from platekit.zmq._protocol import ProtocolError

    with pytest.raises(ProtocolError, match="forgotten"):
        ask("job", job_id=ids[0])
    # Waiting jobs are never forgotten, however many finish.
    waiting = ask("submit", job="echo", params={"value": "wait"})["job_id"]
    for n in range(6):
        ask("cancel", job_id=ask("submit", job="echo", params={"value": n})["job_id"])
    assert ask("job", job_id=waiting)["state"] == "queued"
    assert ask("job", job_id=waiting)["position"] == 1
