"""The execution server's worker processes: each runs one job at a time and reports on a pipe.

Workers are started with ``spawn``: zarr-python runs an event loop in a
thread, and a process forked while that thread holds a lock can hang. Each
worker is started once and reused; it has a duplex pipe to the server and
a cancel event of its own. The server never blocks on a worker: it drains
the pipes when it has time (:meth:`WorkerPool.poll`), so a worker that
crashes (a segfault, ``os._exit``) is noticed there, its job reported, and
a fresh worker started in its place. The other way round, a worker ends
with the server even when the server is killed outright, mid-job
(:func:`~platekit.microscopes._parent.die_with_parent`).

What crosses the pipe is the job's name, its checked JSON parameters and
JSON results: the pipe pickles, but only between the server and the
processes it started itself, never anything from the wire.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Seconds a cancelled job has to stop by itself before its worker is killed.
CANCEL_GRACE_SECONDS = 3.0
#: Seconds a worker has to exit when the server stops, before it is killed.
STOP_SECONDS = 3.0
#: Progress reports a worker sends at most, per second (the last one always goes).
_PROGRESS_PER_SECOND = 20
#: The longest traceback text kept for a failed job, in characters.
MAX_TRACEBACK_CHARS = 16_000
#: Messages read from one worker per poll, so a chatty job cannot starve the server.
_MESSAGES_PER_POLL = 1000


class Worker:
    """One worker process: its end of the pipe, its cancel event, and the job it runs."""

    def __init__(self, context: Any) -> None:
        self.cancel = context.Event()
        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(
            target=worker_main,
            args=(child, self.cancel, os.getpid()),
            name="platekit-execution-worker",
        )
        self.process.start()
        # Only the worker holds its end now, so its death reads as end-of-file here.
        child.close()
        self.job_id: str | None = None
        self.cancel_requested: float | None = None

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def start_job(self, job_id: str, name: str, params: dict[str, Any]) -> None:
        """Hand the job to this (idle) worker. Raises ``OSError`` when the worker is gone."""
        self.cancel.clear()
        self.cancel_requested = None
        self.conn.send(("run", job_id, name, params))
        self.job_id = job_id

    def kill(self) -> int | None:
        """Kill the process now and reap it; its exit code."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(STOP_SECONDS)
        self.conn.close()
        return self.process.exitcode  # type: ignore[no-any-return]


class WorkerPool:
    """``size`` worker processes, replaced when they die.

    :meth:`poll` returns what happened since the last call as event dicts,
    each with ``kind`` and ``job_id``: ``progress`` (``done``, ``total``),
    ``end`` (``state`` completed, failed or cancelled, and ``result`` or
    ``error``), and ``died`` (``exit_code``, ``pid``) for a worker that
    ended while running a job.
    """

    def __init__(self, size: int) -> None:
        import multiprocessing

        self._context = multiprocessing.get_context("spawn")
        self.workers: list[Worker] = [Worker(self._context) for _ in range(size)]

    def idle(self) -> Worker | None:
        """A worker with no job, or ``None`` when all are busy."""
        for worker in self.workers:
            if worker.job_id is None:
                return worker
        return None

    def running(self) -> dict[str, Worker]:
        """Job id → the worker running it."""
        return {w.job_id: w for w in self.workers if w.job_id is not None}

    def cancel(self, job_id: str) -> bool:
        """Ask the worker running ``job_id`` to stop it; False when no worker runs it."""
        for worker in self.workers:
            if worker.job_id == job_id:
                worker.cancel.set()
                if worker.cancel_requested is None:
                    worker.cancel_requested = time.monotonic()
                return True
        return False

    def poll(self) -> list[dict[str, Any]]:
        """Everything the workers reported since the last call, without blocking."""
        events: list[dict[str, Any]] = []
        for index, worker in enumerate(self.workers):
            alive = self._drain(worker, events)
            if alive and not worker.process.is_alive():
                # Gone without closing the pipe yet: read what it sent before it went.
                self._drain(worker, events)
                alive = False
            overdue = (
                alive
                and worker.cancel_requested is not None
                and time.monotonic() - worker.cancel_requested > CANCEL_GRACE_SECONDS
            )
            if overdue and worker.job_id is not None:
                # The job ignores its cancel flag: stopping the process is the only way.
                worker.kill()
                events.append(
                    _end(
                        worker.job_id,
                        "cancelled",
                        error={
                            "type": "JobCancelled",
                            "message": f"the job did not stop within {CANCEL_GRACE_SECONDS:g} s "
                            f"of being cancelled, so its worker (pid {worker.pid}) was killed",
                        },
                    )
                )
                self.workers[index] = Worker(self._context)
            elif not alive:
                code = worker.kill()
                if worker.job_id is not None:
                    events.append(
                        {
                            "kind": "died",
                            "job_id": worker.job_id,
                            "exit_code": code,
                            "pid": worker.pid,
                        }
                    )
                self.workers[index] = Worker(self._context)
        return events

    def _drain(self, worker: Worker, events: list[dict[str, Any]]) -> bool:
        """Read the worker's waiting messages into ``events``; False when its pipe is closed."""
        for _ in range(_MESSAGES_PER_POLL):
            try:
                if not worker.conn.poll(0):
                    return True
                message = worker.conn.recv()
            except (EOFError, OSError):
                return False
            if message[0] == "progress":
                _, job_id, done, total = message
                events.append({"kind": "progress", "job_id": job_id, "done": done, "total": total})
            elif message[0] == "end":
                _, job_id, state, payload = message
                events.append(_end(job_id, state, **payload))
                if worker.job_id == job_id:
                    worker.job_id = None
                    worker.cancel_requested = None
        return True

    def close(self) -> None:
        """Stop every worker: cancel its job, ask it to exit, kill it if it does not in time."""
        for worker in self.workers:
            worker.cancel.set()
            try:
                worker.conn.send(("stop",))
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + STOP_SECONDS
        for worker in self.workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            worker.kill()
        self.workers = []


def _end(job_id: str, state: str, **payload: Any) -> dict[str, Any]:
    return {"kind": "end", "job_id": job_id, "state": state, **payload}


def describe_exit(code: int | None) -> str:
    """``-11 -> "signal SIGSEGV (-11)"``, ``3 -> "exit code 3"``."""
    if code is None:
        return "an unknown exit code"
    if code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"signal {name} ({code})"
    return f"exit code {code}"


# -- in the worker process ------------------------------------------------------------------


def worker_main(conn: Any, cancel: Any, server_pid: int) -> None:
    """A worker's life: run the jobs the server sends, one at a time, until told to stop."""
    import signal

    from platekit.microscopes._parent import die_with_parent

    # A server killed outright (SIGKILL) cannot stop its workers: they end with it, even
    # in the middle of a job, so none goes on writing into an output nobody watches.
    die_with_parent()
    if os.getppid() != server_pid:
        os._exit(1)
    os.environ["PLATEKIT_SUBPROCESS_NO_GPU"] = "1"
    # Ctrl-C in a terminal reaches the whole process group; the server decides for its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] != "run":
            return
        _, job_id, name, params = message
        state, payload = _run_job(conn, cancel, job_id, name, params)
        try:
            conn.send(("end", job_id, state, payload))
        except OSError:
            return


def _run_job(
    conn: Any, cancel: Any, job_id: str, name: str, params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Run one job; its end state and what goes with it (``result`` or ``error``)."""
    import json
    import traceback

    from platekit.zmq._jobs import ZMQ_JOBS, JobCancelled

    last = float("-inf")

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done < total and now - last < 1 / _PROGRESS_PER_SECOND:
            return
        last = now
        conn.send(("progress", job_id, int(done), int(total)))

    try:
        result = ZMQ_JOBS[name]().run(params, progress, cancel)
        json.dumps(result)
        if not isinstance(result, dict):
            raise TypeError(f"the {name!r} job returned {type(result).__name__}, not a dict")
    except BaseException as exc:
        if isinstance(exc, JobCancelled) or cancel.is_set():
            return "cancelled", {"error": {"type": "JobCancelled", "message": str(exc)}}
        text = traceback.format_exc()
        if len(text) > MAX_TRACEBACK_CHARS:
            text = "...\n" + text[-MAX_TRACEBACK_CHARS:]
        error = {"type": type(exc).__name__, "message": str(exc), "traceback": text}
        return "failed", {"error": error}
    return "completed", {"result": result}
