"""The execution server: jobs by name, run in worker processes, with progress, cancel and a queue.

Control requests, beyond ping, status and shutdown:

``submit {job, params}``
    ``accepted {job_id, position}`` (position 0: already running; n: n-th in
    the queue), or the error ``busy`` (with ``queue_length`` and
    ``capacity``) when the queue is full, or ``invalid`` naming the bad
    parameter or unknown job.
``job {job_id}``
    ``job`` with the job's record: ``state`` (queued, running, completed,
    failed, cancelled), ``progress`` ``{done, total, rate}``, ``result``,
    ``error`` ``{type, message, traceback}``, the times it was
    ``submitted``, ``started`` and ``finished``, and ``worker_pid``.
``jobs``
    ``jobs`` with every record the server keeps, without tracebacks.
``cancel {job_id}``
    ``ok``: a queued job is cancelled at once; a running one is stopped
    within about a second (its worker is killed if it does not stop in
    time) and then reported cancelled.

The data socket (PUB) publishes, as each thing happens, ``[job id,
header]`` messages: ``progress {job_id, done, total, rate}`` and ``state
{job_id, state, result, error}``; subscribe to a job id to follow one job.
A worker that dies while running a job fails the job with the error type
``WorkerDied`` and its exit code, and is replaced; the server keeps serving.
"""

from __future__ import annotations

import os
import time
from collections import deque

from platekit.zmq._protocol import Field
from platekit.zmq._server import ZMQServer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from platekit.zmq._protocol import Schema
    from platekit.zmq.servers._pool import WorkerPool

#: Finished jobs whose records are kept (the oldest are forgotten first).
MAX_FINISHED_RECORDS = 1000
#: The states a job ends in.
FINISHED = ("completed", "failed", "cancelled")


class ExecutionServer(ZMQServer):
    """Runs named jobs (``convert``, ``sleep``, ``echo``, plugins) in ``workers`` processes.

    At most ``queue`` jobs wait for a worker; one more is refused with
    ``busy`` rather than queued without bound. A job's path parameters must
    lie inside ``read_roots`` and ``write_roots`` (after resolving links),
    and its overwrite parameter needs ``allow_overwrite``; otherwise
    ``submit`` is refused with ``forbidden``. Raises ``ValueError`` for
    fewer than one worker, a negative queue, or a root that is not a folder.
    """

    _server_type = "execution"
    help = "runs jobs (plate conversion, ...) in worker processes, with progress and cancel"
    data_socket = "PUB"
    schema: Schema = {  # noqa: RUF012 - declared on ZMQServer, read-only by convention
        "submit": {"job": Field("str"), "params": Field("object", required=False)},
        "job": {"job_id": Field("str")},
        "jobs": {},
        "cancel": {"job_id": Field("str")},
    }

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            metavar="N",
            help="worker processes, each running one job at a time (default 1)",
        )
        parser.add_argument(
            "--queue",
            type=int,
            default=16,
            metavar="N",
            help="jobs that may wait for a worker; more are refused as busy (default 16)",
        )
        parser.add_argument(
            "--read-root",
            dest="read_roots",
            action="append",
            metavar="DIR",
            help="a folder jobs may read plates from, with everything below it (repeatable; "
            "without one, jobs may read nothing)",
        )
        parser.add_argument(
            "--write-root",
            dest="write_roots",
            action="append",
            metavar="DIR",
            help="a folder jobs may write outputs into (repeatable; without one, jobs may "
            "write nothing)",
        )
        parser.add_argument(
            "--allow-overwrite",
            action="store_true",
            help="let a job replace an existing output (convert's overwrite=true), which "
            "deletes it; refused otherwise",
        )

    def __init__(
        self,
        *,
        workers: int = 1,
        queue: int = 16,
        read_roots: list[str] | None = None,
        write_roots: list[str] | None = None,
        allow_overwrite: bool = False,
        **options: Any,
    ) -> None:
        from platekit.zmq.servers._roots import Roots

        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers!r}")
        if not isinstance(queue, int) or queue < 0:
            raise ValueError(f"--queue must be 0 or more, got {queue!r}")
        self.roots = Roots(read_roots, write_roots, allow_overwrite=allow_overwrite)
        super().__init__(**options)
        self.workers = workers
        self.capacity = queue
        self._pool: WorkerPool | None = None
        self._records: dict[str, dict[str, Any]] = {}
        self._queue: deque[str] = deque()
        self._finished: deque[str] = deque()
        # job id -> (done, monotonic time) of its first progress report, for the rate.
        self._origins: dict[str, tuple[int, float]] = {}

    def start(self) -> None:
        from platekit.zmq.servers._pool import WorkerPool

        super().start()
        self._pool = WorkerPool(self.workers)

    # -- requests ---------------------------------------------------------------------------

    def handle(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        from platekit.zmq._protocol import header

        kind, request_id = request["type"], request.get("id")
        if kind == "submit":
            return [self._submit(request["job"], request.get("params", {}), request_id)]
        if kind == "jobs":
            records = [_summary(record) for record in self._records.values()]
            return [header("jobs", id=request_id, jobs=records)]
        record = self._record(request["job_id"])
        if kind == "job":
            return [header("job", id=request_id, **self._public(record))]
        return [self._cancel(record, request_id)]

    def _submit(self, name: str, params: dict[str, Any], request_id: Any) -> bytes:
        from platekit.registry import PluginImportError
        from platekit.zmq._jobs import ZMQ_JOBS
        from platekit.zmq._protocol import ProtocolError, header

        if name not in ZMQ_JOBS:
            known = ", ".join(sorted(ZMQ_JOBS)) or "none"
            raise ProtocolError("invalid", f"there is no job {name!r}; this server runs: {known}")
        try:
            job = ZMQ_JOBS[name]()
        except PluginImportError as exc:
            raise ProtocolError("unavailable", f"the job {name!r} cannot run here: {exc}") from None
        # Confined before it is queued: a path outside the roots never reaches a worker.
        checked = self.roots.check(job, job.check(params))
        if len(self._queue) >= self.capacity and (self._pool is None or not self._pool.idle()):
            return header(
                "error",
                id=request_id,
                error="busy",
                message=f"{self.name} is busy: {len(self._queue)} jobs are waiting, as many as "
                f"its queue holds ({self.capacity}); submit again later",
                queue_length=len(self._queue),
                capacity=self.capacity,
            )
        job_id = os.urandom(6).hex()
        self._records[job_id] = {
            "job_id": job_id,
            "job": name,
            "params": checked,
            "state": "queued",
            "progress": None,
            "result": None,
            "error": None,
            "submitted": time.time(),
            "started": None,
            "finished": None,
            "worker_pid": None,
        }
        self._queue.append(job_id)
        self._publish(job_id, "state", state="queued")
        # Start it now when a worker is free, so "position 0" means it is already running.
        self._dispatch()
        position = self._queue.index(job_id) + 1 if job_id in self._queue else 0
        return header("accepted", id=request_id, job_id=job_id, position=position)

    def _record(self, job_id: str) -> dict[str, Any]:
        from platekit.zmq._protocol import ProtocolError

        record = self._records.get(job_id)
        if record is None:
            raise ProtocolError(
                "not_found",
                f"no job {job_id!r} on {self.name}: it never existed, or finished long enough "
                f"ago to be forgotten (the last {MAX_FINISHED_RECORDS} are kept)",
            )
        return record

    def _public(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as a client sees it, with its place in the queue while it waits."""
        if record["state"] == "queued":
            return {**record, "position": self._queue.index(record["job_id"]) + 1}
        return record

    def _cancel(self, record: dict[str, Any], request_id: Any) -> bytes:
        from platekit.zmq._protocol import header

        job_id, state = record["job_id"], record["state"]
        if state == "queued":
            self._queue.remove(job_id)
            self._finish(job_id, "cancelled", error=_cancelled("before it started"))
            message = "the job was cancelled before it started"
        elif state == "running" and self._pool is not None and self._pool.cancel(job_id):
            message = "the job is being stopped; it is reported cancelled once it has stopped"
        else:
            message = f"the job had already ended ({state}); nothing to cancel"
        state = record["state"]
        return header("ok", id=request_id, job_id=job_id, state=state, message=message)

    # -- running jobs -----------------------------------------------------------------------

    def tick(self) -> None:
        if self._pool is None:
            return
        for event in self._pool.poll():
            self._on_event(event)
        self._dispatch()

    def _dispatch(self) -> None:
        """Start waiting jobs on idle workers."""
        if self._pool is None:
            return
        while self._queue:
            worker = self._pool.idle()
            if worker is None:
                return
            job_id = self._queue[0]
            record = self._records[job_id]
            refusal = self._confine(record)
            if refusal is not None:
                self._queue.popleft()
                self._finish(job_id, "failed", error=refusal)
                continue
            try:
                worker.start_job(job_id, record["job"], record["params"])
            except (OSError, ValueError):
                # The worker is gone; the next poll replaces it and the job waits till then.
                return
            self._queue.popleft()
            record.update(state="running", started=time.time(), worker_pid=worker.pid)
            self._publish(job_id, "state", state="running", worker_pid=worker.pid)

    def _confine(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The error of a queued job whose paths left the roots since it was accepted, or None.

        Checked again as it starts: a link inside a root may have been
        changed to point outside while the job waited.
        """
        from platekit.zmq._jobs import ZMQ_JOBS
        from platekit.zmq._protocol import ProtocolError

        try:
            record["params"] = self.roots.check(ZMQ_JOBS[record["job"]](), record["params"])
        except ProtocolError as exc:
            return {"type": "Forbidden", "message": str(exc), "traceback": ""}
        return None

    def _on_event(self, event: dict[str, Any]) -> None:
        from platekit.zmq.servers._pool import describe_exit

        job_id = event["job_id"]
        record = self._records.get(job_id)
        if record is None or record["state"] in FINISHED:
            return
        kind = event["kind"]
        if kind == "progress":
            done, total = event["done"], event["total"]
            now = time.monotonic()
            first_done, first_time = self._origins.setdefault(job_id, (done, now))
            elapsed = now - first_time
            rate = round((done - first_done) / elapsed, 3) if elapsed > 0 else 0.0
            record["progress"] = {"done": done, "total": total, "rate": rate}
            self._publish(job_id, "progress", done=done, total=total, rate=rate)
        elif kind == "end":
            self._finish(job_id, event["state"], event.get("result"), event.get("error"))
        elif kind == "died":
            code = event["exit_code"]
            self._finish(
                job_id,
                "failed",
                error={
                    "type": "WorkerDied",
                    "message": f"the worker process running the job (pid {event['pid']}) died "
                    f"with {describe_exit(code)}; the server started a new worker",
                    "exit_code": code,
                    "traceback": "",
                },
            )

    def _finish(
        self,
        job_id: str,
        state: str,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        record = self._records[job_id]
        record.update(state=state, result=result, error=error, finished=time.time())
        self._origins.pop(job_id, None)
        self._publish(job_id, "state", state=state, result=result, error=error)
        self._finished.append(job_id)
        while len(self._finished) > MAX_FINISHED_RECORDS:
            self._records.pop(self._finished.popleft(), None)

    def _publish(self, job_id: str, kind: str, **fields: Any) -> None:
        import zmq
        from platekit.zmq._protocol import header

        if self._data is None:
            return
        try:
            self._data.send_multipart(
                [job_id.encode(), header(kind, job_id=job_id, **fields)], zmq.NOBLOCK
            )
        except zmq.ZMQError:
            # A PUB socket drops what its subscribers cannot take; so does this.
            pass

    # -- reporting and stopping -------------------------------------------------------------

    def queue_state(self) -> dict[str, Any]:
        running = sum(1 for r in self._records.values() if r["state"] == "running")
        return {
            "queued": len(self._queue),
            "running": running,
            "capacity": self.capacity,
            "workers": self.workers,
        }

    def status(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for record in self._records.values():
            counts[record["state"]] = counts.get(record["state"], 0) + 1
        pids = [worker.pid for worker in self._pool.workers] if self._pool else []
        return {"job_counts": counts, "worker_pids": pids, **self.roots.describe()}

    def close(self) -> None:
        """Cancel what is queued or running, then stop the workers."""
        for job_id, record in list(self._records.items()):
            if record["state"] in ("queued", "running"):
                self._finish(job_id, "cancelled", error=_cancelled("because the server stopped"))
        self._queue.clear()
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def _cancelled(when: str) -> dict[str, Any]:
    return {"type": "JobCancelled", "message": f"the job was cancelled {when}"}


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    """A record without the traceback, for the ``jobs`` listing."""
    error = record["error"]
    if error and "traceback" in error:
        error = {k: v for k, v in error.items() if k != "traceback"}
    return {**record, "error": error}
