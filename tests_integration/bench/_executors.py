"""The executors' part of the microscopes benchmark: Dask against the process pool.

Three measurements, each run in turns within one process and compared as
medians: a plate converted by the ``processes`` executor with 2 workers and
by the ``dask`` executor on a LocalCluster of 2 worker processes (the whole
call, cluster start and stop included); 4 plates converted in one run on a
LocalCluster of 1 and of 2 workers; and the scheduler's cost per task, from
many tasks that do nothing run on a LocalCluster of 2 workers that is
already up.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from _turns import take_turns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

DASK_TARGET = 0.95
SCALING_TARGET = 1.8


class NoOp:
    """A task that writes nothing: what is left of its time is the executor's."""

    holds: tuple[str, ...] = ()

    def __call__(self, report: object, cancel: object) -> None:
        return None


@dataclass
class ExecutorsResult:
    facts: str
    #: Median seconds of each run of the comparison on one plate.
    one_plate: dict[str, float]
    #: Median seconds of 4 plates on 1 and on 2 Dask workers.
    four_plates: dict[str, float]
    cluster_start: float
    tasks: int
    per_task_ms: float

    @property
    def dask_ratio(self) -> float:
        return self.one_plate["processes, 2 workers"] / self.one_plate["dask, 2 workers"]

    @property
    def scaling(self) -> float:
        return self.four_plates["dask, 1 worker"] / self.four_plates["dask, 2 workers"]

    @property
    def missed(self) -> bool:
        return self.dask_ratio < DASK_TARGET or self.scaling < SCALING_TARGET

    @property
    def verdicts(self) -> list[str]:
        return [
            f"{'PASS' if self.dask_ratio >= DASK_TARGET else 'FAIL'}  Dask LocalCluster of 2 "
            f"workers at least {DASK_TARGET}x the processes executor with 2: "
            f"{self.dask_ratio:.2f}x",
            f"{'PASS' if self.scaling >= SCALING_TARGET else 'FAIL'}  2 Dask workers at least "
            f"{SCALING_TARGET}x one on 4 plates: {self.scaling:.2f}x",
        ]

    @property
    def lines(self) -> list[str]:
        rows = [f"{name:<24} {s:>8.2f} s" for name, s in self.one_plate.items()]
        rows += [f"4 plates, {name:<14} {s:>8.2f} s" for name, s in self.four_plates.items()]
        return [
            self.facts,
            *rows,
            f"starting and stopping a LocalCluster of 2 workers: {self.cluster_start:.2f} s",
            f"scheduler overhead: {self.per_task_ms:.2f} ms per task ({self.tasks} no-op tasks, "
            "2 workers)",
        ]

    def rst(self) -> str:
        table = [".. list-table::", "   :header-rows: 1", "", "   * - run", "     - seconds"]
        for name, seconds in self.one_plate.items():
            table += [f"   * - one plate, {name}", f"     - {seconds:.2f}"]
        for name, seconds in self.four_plates.items():
            table += [f"   * - 4 plates, {name}", f"     - {seconds:.2f}"]
        text = [
            "",
            "Executors",
            "---------",
            "",
            "One plate converted by the ``processes`` executor with 2 workers and by the "
            "``dask`` executor on a LocalCluster of 2 worker processes of one thread each, the "
            "whole call timed (the cluster's start and stop included); then 4 plates converted "
            "in one run on a LocalCluster of 1 and of 2 workers. The runs take turns; the table "
            "gives the medians.",
            "",
            self.facts + ".",
            "",
            *table,
            "",
            f"Starting and stopping a LocalCluster of 2 workers alone takes "
            f"{self.cluster_start:.2f} s. The scheduler's cost per task, from {self.tasks} "
            f"tasks that do nothing run on 2 workers of a cluster already up: "
            f"{self.per_task_ms:.2f} ms (see :doc:`/screens`).",
            "",
            "Targets:",
            "",
            *[f"- {verdict}" for verdict in self.verdicts],
            "",
        ]
        return "\n".join(text)


def bench_executors(
    plates: list[Path], work: Path, rounds: int, tasks: int, facts: str
) -> ExecutorsResult:
    """Time the executors on ``plates`` (the first alone, then all) and ``tasks`` no-op tasks."""
    from distributed import LocalCluster

    from platekit.microscopes import convert, convert_screen
    from platekit.microscopes.executors.dask import DaskExecutor

    def one(executor: str) -> Callable[[], None]:
        def run() -> None:
            out = work / "one.zarr"
            shutil.rmtree(out, ignore_errors=True)
            convert(plates[0], out, executor=executor, workers=2)

        return run

    def screen(workers: int) -> Callable[[], None]:
        def run() -> None:
            out = work / "screen"
            shutil.rmtree(out, ignore_errors=True)
            convert_screen(plates, out, executor="dask", workers=workers)

        return run

    one_plate = take_turns(
        {"processes, 2 workers": one("processes"), "dask, 2 workers": one("dask")}, rounds
    )
    four = take_turns({"dask, 1 worker": screen(1), "dask, 2 workers": screen(2)}, rounds)
    shutil.rmtree(work / "one.zarr", ignore_errors=True)
    shutil.rmtree(work / "screen", ignore_errors=True)

    started = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None):
        pass
    cluster_start = time.perf_counter() - started

    executor = DaskExecutor(workers=2)
    with executor:
        executor.run([NoOp()], lambda *_: None, lambda _: None, None)  # starts the cluster
        started = time.perf_counter()
        executor.run([NoOp() for _ in range(tasks)], lambda *_: None, lambda _: None, None)
        per_task = (time.perf_counter() - started) / tasks
    return ExecutorsResult(facts, one_plate, four, cluster_start, tasks, per_task * 1e3)
