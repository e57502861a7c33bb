"""The ``dask`` executor: tasks on Dask distributed, an existing cluster or a LocalCluster.

With ``scheduler="tcp://host:8786"`` the tasks go to that cluster, whose
workers must reach the plates and outputs at the same paths. Without it, a
``distributed.LocalCluster`` of ``workers`` processes (one thread each) is
started for the run, on a thread as soon as the executor is entered, so that
it comes up while the run opens and plans its plates; it is stopped when the
executor exits (once it is up, if it is still starting), and not started at
all when the run ends without a task before Dask is imported. Its workers end
with this process and ignore Ctrl-C, which is this process's to handle
(:mod:`._dask_worker`).

A worker uses as many cores as it has threads, as Dask assumes:
zarr-python's thread pool is sized to the worker's threads, by the
LocalCluster's preload or, on a cluster platekit did not start, by the
first task a worker runs (:func:`._dask_worker.match_threads`). The
LocalCluster's workers run without Dask's memory-trimming setting and its
statistical profiler, and its servers time their event loops and sample the
host less often (:data:`LOCAL_CLUSTER_CONFIG`).

Progress travels as worker events (one per task at most every 0.2 s);
a cancel or Ctrl-C sets a Dask ``Event`` the tasks look at between planes
and cancels the futures, so the output stays resumable. A task holds its
outputs' locks shared while it runs (:func:`.._lock.held_shared`).

A task's result comes back wrapped (:class:`_Returned`), so that a task may
return anything, ``None`` too, and a finished future holding anything else
is known for a result Dask lost with the worker that held it: the task is
run again, under a new key, at most :data:`LOST_RESULT_RETRIES` times,
after which it ends with :class:`~platekit.microscopes._plan.WorkerLostError`.
"""

from __future__ import annotations

import importlib.util
import signal
import threading
import time
import uuid
from typing import Any, NamedTuple

from platekit.microscopes._executor import Executor, check_workers
from platekit.microscopes._plan import WorkerLostError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from platekit.microscopes._executor import Flag, Task

#: How long a scheduler may take to answer, in seconds.
CONNECT_TIMEOUT = 10.0
#: How long a LocalCluster may take to start, in seconds.
START_TIMEOUT = 60.0
#: How long stopped tasks may take to end, in seconds, before they are left to end alone.
WIND_DOWN_TIMEOUT = 30.0
#: How often the run looks for ended tasks, progress and a cancel while none ends, in seconds.
_POLL = 0.02
#: The shortest time between two progress events of one task, in seconds.
_REPORT_EVERY = 0.2
#: The longest a task goes without looking at the cancel event, in seconds.
_CANCEL_EVERY = 0.5
#: How many times a task whose result Dask lost with its worker is run again.
LOST_RESULT_RETRIES = 2

#: Dask settings for the LocalCluster the executor starts, whose workers live as long as the run.
LOCAL_CLUSTER_CONFIG: dict[str, object] = {
    # Dask sets glibc's trim threshold for long-lived workers, which turns glibc's adaptive
    # mmap threshold off: every plane's buffer is then mapped and unmapped afresh, and a
    # worker spends twice the system time of a process of the processes executor.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # The statistical profiler samples every thread every 10 ms, for a dashboard not started.
    "distributed.worker.profile.enabled": False,
    # Each server's event loop wakes every 20 ms to time itself, and every 0.5 s to sample the
    # host for the dashboard: 4% of a core at rest over the scheduler and a worker, taken from
    # the tasks. Waking each second (and every 2 s) leaves 1%; nothing but warnings and
    # dashboard plots reads them.
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


def _install_hint() -> str:
    from platekit.registry._install import install_command

    return install_command("platekit-microscopes", "dask")


class DaskExecutor(Executor):
    """Tasks on Dask distributed: the cluster at ``scheduler``, or a LocalCluster of ``workers``.

    Raises ``ImportError`` with the install line when Dask distributed is
    missing, and ``ConnectionError`` naming the address when no scheduler
    answers there within :data:`CONNECT_TIMEOUT` seconds; both when
    entered, before anything is written. A LocalCluster that does not start
    raises ``ConnectionError`` from :meth:`run`, before any task runs.
    """

    _executor_type = "dask"
    display_name = "Dask distributed: an existing cluster, or a LocalCluster for the run"
    install = "platekit-microscopes[dask]"

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None) -> None:
        if scheduler is not None and workers is not None:
            raise ValueError(
                f"workers ({workers!r}) are for the LocalCluster platekit starts; the cluster at "
                f"{scheduler!r} has its own: leave workers (--workers) out"
            )
        if workers is not None:
            check_workers(workers)
        if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
            raise ValueError(
                f"the scheduler {scheduler!r} is no Dask scheduler address; give it as "
                "tcp://HOST:PORT (the address 'dask scheduler' prints)"
            )
        self.workers = workers or 1
        self.scheduler = scheduler
        self._client: Any = None
        self._cluster: Any = None
        self._starting: _ClusterStart | None = None

    def __enter__(self) -> DaskExecutor:
        if self.scheduler is not None:
            try:
                _distributed()
            except ImportError:
                raise _not_installed() from None
            self._client = _connect(self.scheduler)
        else:
            # Looked for, not imported: importing Dask is part of the start, in the background.
            if importlib.util.find_spec("distributed") is None:
                raise _not_installed()
            self._starting = _ClusterStart(self.workers)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._starting is not None:
            # Given no task: a cluster not yet started is not started (a rerun with nothing
            # left to do); one already starting is stopped once it is up: none outlives the run.
            self._starting.unwanted.set()
            self._starting.join()
            self._client, self._cluster = self._starting.client, self._starting.cluster
            self._starting = None
        for closing in (self._client, self._cluster):
            if closing is not None:
                closing.close()
        self._client = self._cluster = None

    def run(
        self,
        tasks: Sequence[Task],
        done: Callable[[int, Any, BaseException | None], None],
        report: Callable[[int], None],
        cancel: Flag | None,
    ) -> None:
        if not tasks:
            return
        if self._client is None and self._starting is not None:
            self._client, self._cluster = self._starting.result()
            self._starting = None
        _Run(self._client).run(tasks, done, report, cancel)


def _not_installed() -> ImportError:
    return ImportError(
        f"the dask executor needs Dask distributed, which is not installed; install it "
        f"with: {_install_hint()}"
    )


class _ClusterStart(threading.Thread):
    """Starts a LocalCluster of ``workers`` and its client on a thread, while the run plans.

    Dask's import and the workers' start take seconds; the run opens and
    plans its plates meanwhile and waits in :meth:`result`. Once Dask is
    imported, the cluster is started only if :attr:`unwanted` is not set (the
    run ended without a task while Dask was being imported).
    """

    def __init__(self, workers: int) -> None:
        super().__init__(name="platekit-dask-start", daemon=True)
        self.workers = workers
        self.cluster: Any = None
        self.client: Any = None
        self.error: BaseException | None = None
        self.unwanted = threading.Event()
        self.start()

    def run(self) -> None:
        # Ctrl-C is the main thread's. Held back here, it is held back in the cluster's
        # threads and in the worker processes they start, until each ignores it (_dask_worker).
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            _distributed()
            if not self.unwanted.is_set():
                self.cluster, self.client = _local_cluster(self.workers)
        except BaseException as exc:  # handed to the run, in the calling thread
            self.error = exc

    def result(self) -> tuple[Any, Any]:
        """The started client and cluster; ``ConnectionError`` when the cluster did not start."""
        self.join()
        if isinstance(self.error, ImportError):
            raise _not_installed() from self.error
        if isinstance(self.error, (RuntimeError, OSError, TimeoutError)):
            raise ConnectionError(
                f"could not start a Dask LocalCluster of {self.workers} workers on this "
                f"machine ({self.error}); run the same command again, or give the scheduler of "
                "a running cluster"
            ) from self.error
        if self.error is not None:
            raise self.error
        return self.client, self.cluster


def _local_cluster(workers: int) -> tuple[Any, Any]:
    """A LocalCluster of ``workers`` processes of one thread each, and a client of it."""
    import dask

    distributed = _distributed()
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # Without a dashboard the scheduler still serves HTTP (health, metrics), on
            # 8787 unless told otherwise: a port of its own, so two runs never collide.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=50,
            preload=["platekit.microscopes.executors._dask_worker"],
            timeout=START_TIMEOUT,
        )
    try:
        return cluster, distributed.Client(cluster, timeout=START_TIMEOUT)
    except BaseException:
        cluster.close()
        raise


def _distributed() -> Any:
    """The ``distributed`` package, imported when a run needs it (``ImportError`` without it)."""
    import distributed

    return distributed


def _connect(address: str) -> Any:
    try:
        return _distributed().Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(
            f"no Dask scheduler answers at {address!r} (waited {CONNECT_TIMEOUT:g} s): start one "
            "there ('dask scheduler'), give the address it prints, or leave the scheduler out to "
            "run a LocalCluster on this machine"
        ) from exc
    except ValueError as exc:
        raise ValueError(
            f"the scheduler {address!r} is no Dask scheduler address ({exc}); give it as "
            "tcp://HOST:PORT"
        ) from None


class _Run:
    """One set of tasks on a client: submitted, watched, reported and, if need be, cancelled."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._name = f"platekit-{uuid.uuid4().hex}"
        self._reported = 0
        self._guard = threading.Lock()

    def _on_event(self, event: Any) -> None:
        # Called on the client's event-loop thread: only count here.
        _, count = event
        with self._guard:
            self._reported += int(count)

    def _take_reported(self) -> int:
        with self._guard:
            count, self._reported = self._reported, 0
        return count

    def run(
        self,
        tasks: Sequence[Task],
        done: Callable[[int, Any, BaseException | None], None],
        report: Callable[[int], None],
        cancel: Flag | None,
    ) -> None:
        dask = _distributed()
        client = self._client
        stop = dask.Event(self._name, client=client)
        client.subscribe_topic(self._name, self._on_event)
        futures = client.map(
            _run_task,
            tasks,
            name=self._name,
            key=[f"{self._name}-{index}" for index in range(len(tasks))],
            pure=False,
        )
        index_of = {future.key: index for index, future in enumerate(futures)}
        lost = [0] * len(tasks)
        pending = set(futures)
        # Hands over each future as it ends, at a constant cost however many are pending.
        ended = dask.as_completed(futures, with_results=False)
        try:
            while pending:
                finished = ended.next_batch(block=False)
                if not finished:
                    time.sleep(_POLL)
                report_count = self._take_reported()
                if report_count:
                    report(report_count)
                for future in finished:
                    pending.discard(future)
                    index = index_of.pop(future.key)
                    result, error = _outcome(future)
                    # Let go at once: a key still held is computed again when its worker
                    # dies, which would write the well again after the plate is done.
                    future.release()
                    if isinstance(error, _LostResult) and lost[index] < LOST_RESULT_RETRIES:
                        # Writing a well again starts it afresh, as Dask does when it reschedules.
                        lost[index] += 1
                        again = self._submit_again(tasks[index], index, lost[index])
                        index_of[again.key] = index
                        pending.add(again)
                        ended.add(again)
                        continue
                    done(index, result, error)
                if cancel is not None and cancel.is_set():
                    stop.set()
        except BaseException:
            _wind_down(client, stop, pending)
            raise
        finally:
            # Events still on their way are of no use once the run is over.
            client.unsubscribe_topic(self._name)
            report_count = self._take_reported()
            if report_count:
                report(report_count)

    def _submit_again(self, task: Task, index: int, attempt: int) -> Any:
        """``task`` submitted once more, whose result was lost, under a key never used before."""
        return self._client.submit(
            _run_task,
            task,
            name=self._name,
            key=f"{self._name}-{index}-again-{attempt}",
            pure=False,
        )


def _wind_down(client: Any, stop: Any, pending: set[Any]) -> None:
    """Stop the tasks: those not started are cancelled, the running ones end between planes.

    Waits for the running ones (at most :data:`WIND_DOWN_TIMEOUT` seconds; a
    second Ctrl-C stops waiting), so that no task of this run still holds an
    output's lock, or writes into it, once the run has ended.
    """
    stop.set()
    try:
        busy = {key for keys in client.processing().values() for key in keys}
        client.cancel([future for future in pending if future.key not in busy])
        _distributed().wait([f for f in pending if f.key in busy], timeout=WIND_DOWN_TIMEOUT)
    except (TimeoutError, OSError):
        pass
    finally:
        client.cancel(list(pending))


class _Returned(NamedTuple):
    """What a task returned, as :func:`_run_task` hands it back: told apart from a lost result."""

    value: Any


class _LostResult(WorkerLostError):
    """A finished task's result that Dask lost with its worker: the task may run again."""


def _outcome(future: Any) -> tuple[Any, BaseException | None]:
    """The task's result and ``None``, or ``None`` and what it raised.

    A finished future that holds no :class:`_Returned` lost its result with
    its worker: the error is then a :class:`_LostResult`.
    """
    if future.status == "finished":
        held = future.result()
        if isinstance(held, _Returned):
            return held.value, None
        return None, _LostResult(
            f"Dask lost the result of a task of the conversion with the worker that held it, "
            f"again and again (it gave {type(held).__name__} in place of the result); run the "
            "conversion again to finish it"
        )
    error = future.exception()
    if type(error).__name__ == "KilledWorker":
        return None, WorkerLostError(
            f"Dask workers running a task of the conversion ended abruptly, again and again "
            f"({error}); run the conversion again to finish it"
        )
    return None, error


class _Reporter:
    """In a worker: sends a task's plane counts as events, at most one every 0.2 s."""

    def __init__(self, worker: Any, topic: str) -> None:
        self._worker = worker
        self._topic = topic
        self._count = 0
        self._last = time.monotonic()

    def __call__(self, count: int) -> None:
        self._count += count
        if time.monotonic() - self._last >= _REPORT_EVERY:
            self.flush()

    def flush(self) -> None:
        if self._count:
            self._worker.log_event(self._topic, self._count)
            self._count = 0
        self._last = time.monotonic()


class _RemoteFlag:
    """In a worker: the run's cancel event, asked of the scheduler at most every 0.5 s."""

    def __init__(self, name: str) -> None:
        self._event = _distributed().Event(name)
        self._set = False
        # The first question is asked at once: a task that starts after a cancel ends at once.
        self._asked = float("-inf")

    def is_set(self) -> bool:
        if not self._set and time.monotonic() - self._asked >= _CANCEL_EVERY:
            self._asked = time.monotonic()
            self._set = bool(self._event.is_set())
        return self._set


def _run_task(task: Task, *, name: str) -> _Returned:
    """Run ``task`` on a Dask worker, holding its outputs' locks, reporting and cancellable."""
    from platekit.microscopes._lock import held_shared
    from platekit.microscopes.executors._dask_worker import match_threads

    worker = _distributed().get_worker()
    # A worker platekit did not start was not set up by its preload.
    match_threads(worker.state.nthreads)
    reporter = _Reporter(worker, name)
    try:
        with held_shared(task.holds):
            return _Returned(task(reporter, _RemoteFlag(name)))
    finally:
        reporter.flush()
