"""Jobs from the client's side: submit one, follow it to its end, cancel it, ask how it is doing.

Following a job combines the two sockets of an execution server: its
progress arrives on the data socket (PUB), where a subscriber may miss
the first messages (ZeroMQ's "slow joiner": a subscription takes a moment
to reach the server), so :func:`wait` also asks the control socket for the
job's record once after subscribing and then every ``poll_interval``
seconds. A job that ended before the subscription took effect is seen
that way, and a server that died is noticed as a request that gets no
reply within ``timeout``.
"""

from __future__ import annotations

import json
import time

from platekit.microscopes._progress import ProgressLine
from platekit.zmq._client import DEFAULT_TIMEOUT, Client, ServerError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    #: ``on_progress(done, total, rate)``, rate in units per second.
    ProgressCallback = Callable[[int, int, float], None]

#: The states a job ends in.
FINISHED = ("completed", "failed", "cancelled")


class ServerBusy(ServerError):
    """The server's queue is full; ``queue_length`` and ``capacity`` say how full."""

    def __init__(self, message: str, reply: dict[str, Any]) -> None:
        super().__init__("busy", message, reply)
        self.queue_length: int | None = reply.get("queue_length")
        self.capacity: int | None = reply.get("capacity")


def submit(
    address: str,
    job: str,
    params: dict[str, Any] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    curve: dict[Any, Any] | None = None,
) -> dict[str, Any]:
    """Submit the job named ``job`` to the execution server at ``address``.

    Returns the ``accepted`` reply: ``job_id``, and ``position`` (0 when a
    worker took the job at once, otherwise its place in the queue). Raises
    :class:`ServerBusy` when the queue is full, :class:`~platekit.zmq.ServerError`
    (code ``invalid``) for an unknown job or a bad parameter, and
    :class:`~platekit.zmq.ServerGone` when no reply comes within ``timeout``.
    """
    with Client(address, timeout=timeout, curve=curve) as client:
        try:
            return client.request("submit", job=job, params=params or {})
        except ServerError as exc:
            if exc.code == "busy":
                raise ServerBusy(str(exc), exc.reply) from None
            raise


def job_status(
    address: str,
    job_id: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    curve: dict[Any, Any] | None = None,
) -> dict[str, Any]:
    """The record of job ``job_id``: ``state``, ``progress``, ``result``, ``error``, times.

    Raises :class:`~platekit.zmq.ServerError` (code ``not_found``) for a
    job the server does not know, and :class:`~platekit.zmq.ServerGone`.
    """
    with Client(address, timeout=timeout, curve=curve) as client:
        return client.request("job", job_id=job_id)


def cancel(
    address: str,
    job_id: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    curve: dict[Any, Any] | None = None,
) -> dict[str, Any]:
    """Cancel job ``job_id``; the ``ok`` reply, whose ``state`` is the job's state now.

    A queued job is cancelled at once; a running one stops within about a
    second, then its state becomes ``cancelled`` (follow it with
    :func:`wait`). Raises as :func:`job_status` does.
    """
    with Client(address, timeout=timeout, curve=curve) as client:
        return client.request("cancel", job_id=job_id)


def wait(
    address: str,
    job_id: str,
    *,
    data_address: str | None = None,
    on_progress: ProgressCallback | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_wait: float | None = None,
    poll_interval: float = 1.0,
    curve: dict[Any, Any] | None = None,
) -> dict[str, Any]:
    """Follow job ``job_id`` until it ends; its final record (look at ``record["state"]``).

    ``on_progress(done, total, rate)`` is called as progress arrives, with
    ``done`` never going back. ``data_address`` is the server's PUB socket
    (asked of the server when not given). Raises
    :class:`~platekit.zmq.ServerGone` when the server does not answer a
    request within ``timeout`` seconds (it died, or is stuck), and
    ``TimeoutError`` when the job is still running after ``max_wait``
    seconds (it goes on running; wait again or cancel it).
    """
    import zmq
    from platekit.zmq._address import connect

    client = Client(address, timeout=timeout, curve=curve)
    subscriber: Any = None
    try:
        if data_address is None:
            data_address = str(client.ping()["data_address"])
        subscriber = zmq.Context.instance().socket(zmq.SUB)
        subscriber.setsockopt(zmq.LINGER, 0)
        for option, value in (curve or {}).items():
            subscriber.setsockopt(option, value)
        connect(subscriber, data_address)
        topic = job_id.encode()
        subscriber.setsockopt(zmq.SUBSCRIBE, topic)
        reporter = _Reporter(on_progress)
        give_up = None if max_wait is None else time.monotonic() + max_wait
        # Asked after subscribing: whatever the subscription missed, this record shows.
        record = client.request("job", job_id=job_id)
        next_poll = time.monotonic() + poll_interval
        while True:
            reporter.record(record)
            if record.get("state") in FINISHED:
                return record
            now = time.monotonic()
            if give_up is not None and now >= give_up:
                raise TimeoutError(
                    f"job {job_id} is still {record.get('state')} after {max_wait:g} s; it goes "
                    "on running on the server: wait again, or cancel it"
                )
            until = next_poll if give_up is None else min(next_poll, give_up)
            ended = False
            if subscriber.poll(max(0, int((until - now) * 1000)), zmq.POLLIN):
                ended = _read_events(subscriber, topic, reporter)
            if ended or time.monotonic() >= next_poll:
                record = client.request("job", job_id=job_id)
                next_poll = time.monotonic() + poll_interval
    finally:
        if subscriber is not None:
            subscriber.close(linger=0)
        client.close()


class _Reporter:
    """Passes progress on to the callback, in order and once per change."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._last: tuple[int, int] | None = None

    def report(self, done: int, total: int, rate: float) -> None:
        if self._callback is None:
            return
        # The PUB stream and the polled record interleave: never step back.
        if self._last is not None and (done < self._last[0] or (done, total) == self._last):
            return
        self._last = (done, total)
        self._callback(done, total, rate)

    def record(self, record: dict[str, Any]) -> None:
        progress = record.get("progress")
        if isinstance(progress, dict):
            self.report(progress["done"], progress["total"], progress.get("rate", 0.0))


def _read_events(subscriber: Any, topic: bytes, reporter: _Reporter) -> bool:
    """Handle the waiting PUB messages; True once the job's end was announced."""
    import zmq

    ended = False
    for _ in range(1000):
        try:
            frames = subscriber.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            break
        # A subscription matches prefixes: take only this job's own messages.
        if len(frames) < 2 or frames[0] != topic:
            continue
        try:
            event = json.loads(frames[1])
        except ValueError:
            continue
        if event.get("type") == "progress":
            reporter.report(event["done"], event["total"], event.get("rate", 0.0))
        elif event.get("type") == "state" and event.get("state") in FINISHED:
            ended = True
    return ended


# -- showing progress and records -----------------------------------------------------------


class ProgressBar(ProgressLine):
    """An ``on_progress`` for :func:`wait` that draws a bar on a terminal, plain lines elsewhere.

    On a terminal it redraws one line (at most 10 times a second); on
    anything else it writes a line every ``interval`` seconds and at the
    end, so logs stay readable.
    """

    def __call__(self, done: int, total: int, rate: float) -> None:
        final = total > 0 and done >= total
        self.show(done, total, describe_progress(done, total, rate), final)


def describe_progress(done: int, total: int, rate: float) -> str:
    """``"120/384, 35.2/s, ETA 0:07"``."""
    from platekit.microscopes._progress import duration

    parts = [f"{done}/{total}"]
    if rate > 0:
        parts.append(f"{rate:.1f}/s")
        if done < total:
            parts.append(f"ETA {duration((total - done) / rate)}")
    return ", ".join(parts)


def describe_job(record: dict[str, Any], *, params: bool = True, traceback: bool = False) -> str:
    """A job's record as lines for people: state, progress, times, parameters, result or error.

    A failed job's error is one line; the server-side traceback follows it
    only with ``traceback=True`` (``--verbose``).
    """
    lines = [f"job {record.get('job_id')} ({record.get('job')}): {record.get('state')}"]
    if record.get("state") == "queued" and record.get("position"):
        lines.append(f"  position in the queue: {record['position']}")
    progress = record.get("progress")
    if isinstance(progress, dict):
        shown = describe_progress(progress["done"], progress["total"], progress.get("rate", 0))
        lines.append(f"  progress: {shown}")
    for moment in ("submitted", "started", "finished"):
        if record.get(moment):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record[moment]))
            lines.append(f"  {moment}: {stamp}")
    if record.get("worker_pid") and record.get("state") == "running":
        lines.append(f"  worker pid: {record['worker_pid']}")
    given: dict[str, Any] = (record.get("params") or {}) if params else {}
    for key, value in given.items():
        lines.append(f"  param {key}: {json.dumps(value)}")
    for key, value in (record.get("result") or {}).items():
        lines.append(f"  {key}: {json.dumps(value)}")
    error = record.get("error")
    if isinstance(error, dict):
        lines.append(f"  error: {error.get('type')}: {error.get('message')}")
        if error.get("traceback") and traceback:
            lines.append("  " + str(error["traceback"]).rstrip().replace("\n", "\n  "))
    return "\n".join(lines)


def describe_server(status: dict[str, Any], jobs: list[dict[str, Any]] | None) -> str:
    """A server's ``status`` (and its jobs, when it runs jobs) as lines for people."""
    from platekit.microscopes._progress import duration

    state = "ready" if status.get("ready") else "not ready"
    lines = [
        f"{status.get('server_type')} server, pid {status.get('pid')}, platekit-zmq "
        f"{status.get('version')}, up {duration(float(status.get('uptime', 0)))}, {state}",
        f"  data socket: {status.get('data_address')}",
    ]
    queue = status.get("queue") or {}
    if queue:
        lines.append(
            f"  queue: {queue.get('queued')} queued, {queue.get('running')} running, "
            f"capacity {queue.get('capacity')}, {queue.get('workers')} workers"
        )
    if "read_roots" in status:
        read = ", ".join(status["read_roots"]) or "nothing"
        write = ", ".join(status.get("write_roots") or []) or "nothing"
        allowed = "allowed" if status.get("allow_overwrite") else "refused"
        lines.append(f"  jobs read {read}; write {write}; overwriting {allowed}")
    if jobs is not None:
        lines.append(f"  jobs: {len(jobs) or 'none'}")
        for job in jobs:
            progress = job.get("progress")
            shown = ""
            if isinstance(progress, dict):
                shown = describe_progress(progress["done"], progress["total"], 0)
            lines.append(f"    {job['job_id']}  {job['job']:<10} {job['state']:<10} {shown}")
    return "\n".join(lines)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``["levels=2", "plate=/data/p"]`` → ``{"levels": 2, "plate": "/data/p"}``.

    A value is taken as JSON when it parses as JSON (numbers, true/false,
    null, lists, objects, quoted strings), as a plain string otherwise.
    Raises ``ValueError`` for an item without ``=`` or with an empty key, and for a key
    given twice, which would otherwise keep one of the values without a word.
    """
    params: dict[str, Any] = {}
    given: dict[str, str] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"parameters are KEY=VALUE, got {pair!r}")
        if key in given:
            raise ValueError(
                f"parameter {key!r} is given twice ({given[key]!r} and {pair!r}); give it once"
            )
        given[key] = pair
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params
