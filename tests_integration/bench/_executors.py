"""The executors' part of the microscopes benchmark: Dask against the process pool.

Four measurements, each run in turns within one process and compared as
medians: one plate converted by the ``processes`` executor with 2 workers
and by the ``dask`` executor on a LocalCluster of 2 worker processes (the
whole call, cluster start and stop included), once for the plate the
conversion is timed on (96 wells), which the target is held against, and
once for a plate a quarter its size, where the executors' fixed costs weigh
four times as much;
4 plates converted in one run on a
LocalCluster of 1 and of 2 workers, and by the ``processes`` executor with
1 and 2 for comparison, each run in a child process pinned to as many cores
as it has workers (a worker reads ahead on threads, so one worker alone
would take every core); each executor started, given one task
that does nothing per worker and stopped, which is its fixed cost in the
runs above; and the scheduler's cost per task, from many tasks that do
nothing run on a LocalCluster of 2 workers that is already up. Every run but
the pinned ones is in this process, which has imported Dask distributed
already (the pinned ones import it before their clock starts); what that
import costs a fresh process (a ``platekit convert`` on the command line)
is measured apart.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _pinned import machine_cpus, pin, run_pinned
from _rst import list_table
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
    #: The same on a plate a quarter the size (the first of the 4 plates).
    small_plate: dict[str, float]
    #: Median seconds of 4 plates on 1 and on 2 Dask workers, and on 1 and 2 processes.
    four_plates: dict[str, float]
    #: Median seconds of each executor entered, given one no-op task per worker, and left.
    starts: dict[str, float]
    #: Seconds a fresh interpreter takes to import Dask distributed, beyond starting.
    dask_import: float
    tasks: int
    per_task_ms: float

    @property
    def dask_ratio(self) -> float:
        return self.one_plate["processes, 2 workers"] / self.one_plate["dask, 2 workers"]

    @property
    def small_dask_ratio(self) -> float:
        return self.small_plate["processes, 2 workers"] / self.small_plate["dask, 2 workers"]

    @property
    def scaling(self) -> float:
        return (
            self.four_plates["dask, 1 worker, 1 core"]
            / self.four_plates["dask, 2 workers, 2 cores"]
        )

    @property
    def processes_scaling(self) -> float:
        """2 processes against one on the same plates: what the machine gives a second worker."""
        return (
            self.four_plates["processes, 1 worker, 1 core"]
            / self.four_plates["processes, 2 workers, 2 cores"]
        )

    @property
    def dask_allowance(self) -> float:
        """The start and stop the dask executor may take for the one-plate target to be met.

        The runs' work being the same, the dask run may take the processes
        run's work plus this: the processes run divided by the target, less
        its work (the run less the processes executor's own start and stop).
        """
        processes = self.one_plate["processes, 2 workers"]
        work = processes - self.starts["processes, 2 workers"]
        return processes / DASK_TARGET - work

    @property
    def scaling_ceiling(self) -> float:
        """The 4-plate figure if 2 workers halved the work exactly: the starts alone bound it."""
        one = self.four_plates["dask, 1 worker, 1 core"]
        work = one - self.starts["dask, 1 worker"]
        return one / (self.starts["dask, 2 workers"] + work / 2)

    @property
    def missed(self) -> bool:
        return self.dask_ratio < DASK_TARGET or self.scaling < SCALING_TARGET

    @property
    def verdicts(self) -> list[str]:
        return [
            f"{'PASS' if self.dask_ratio >= DASK_TARGET else 'FAIL'}  Dask LocalCluster of 2 "
            f"workers at least {DASK_TARGET}x the processes executor with 2, on the whole "
            f"plate: {self.dask_ratio:.2f}x",
            f"{'PASS' if self.scaling >= SCALING_TARGET else 'FAIL'}  2 Dask workers at least "
            f"{SCALING_TARGET}x one on 4 plates, each worker a core: {self.scaling:.2f}x",
        ]

    @property
    def why(self) -> list[str]:
        """What the executors' fixed costs leave of each target, in sentences."""
        return [
            f"The dask executor's start and stop (a LocalCluster of 2 workers) take "
            f"{self.starts['dask, 2 workers']:.2f} s against the processes executor's "
            f"{self.starts['processes, 2 workers']:.2f} s; for {DASK_TARGET}x on the whole "
            f"plate they may take at most {self.dask_allowance:.2f} s. On the plate a quarter "
            f"its size, the same starts leave {self.small_dask_ratio:.2f}x. A fresh process (the "
            f"command line) also imports Dask distributed first: {self.dask_import:.2f} s more, "
            "which the runs here, in one process, do not pay.",
            f"With 2 workers halving the 4 plates' work exactly, the starts alone (1 worker "
            f"{self.starts['dask, 1 worker']:.2f} s, 2 workers "
            f"{self.starts['dask, 2 workers']:.2f} s) cap the figure at "
            f"{self.scaling_ceiling:.2f}x. The processes executor's 2 workers against its one "
            f"on the same plates, in the same turns: {self.processes_scaling:.2f}x.",
        ]

    @property
    def lines(self) -> list[str]:
        named = [(f"one plate, {name}", s) for name, s in self.one_plate.items()]
        named += [(f"small plate, {name}", s) for name, s in self.small_plate.items()]
        named += [(f"4 plates, {name}", s) for name, s in self.four_plates.items()]
        named += [(f"start and stop alone, {name}", s) for name, s in self.starts.items()]
        rows = [f"{name:<44} {s:>8.2f} s" for name, s in named]
        return [
            self.facts,
            *rows,
            f"importing Dask distributed in a fresh process: {self.dask_import:.2f} s",
            f"scheduler overhead: {self.per_task_ms:.2f} ms per task ({self.tasks} no-op tasks, "
            "2 workers)",
            *self.why,
        ]

    def rst(self) -> str:
        runs = [
            (f"{what}, {name}", seconds)
            for what, timed in (
                ("one plate", self.one_plate),
                ("small plate", self.small_plate),
                ("4 plates", self.four_plates),
                ("start and stop alone", self.starts),
            )
            for name, seconds in timed.items()
        ]
        table = list_table(("run", "seconds"), ([run, f"{seconds:.2f}"] for run, seconds in runs))
        text = [
            "",
            "Executors",
            "---------",
            "",
            "One plate converted by the ``processes`` executor with 2 workers and by the "
            "``dask`` executor on a LocalCluster of 2 worker processes of one thread each, the "
            "whole call timed (the cluster's start and stop included): the whole plate, and "
            "a *small plate*, the first of the 4 below; then 4 plates converted "
            "in one run on a LocalCluster of 1 and of 2 workers, and by 1 and 2 processes for "
            "comparison, each in a process pinned to one core per worker (a worker reads ahead "
            "on threads, so one worker alone would take every core); then each executor alone, "
            "started, given one task that does nothing per worker and stopped. The runs take "
            "turns, in one process; the table gives the medians.",
            "",
            self.facts + ".",
            "",
            *table,
            "",
            f"Importing Dask distributed costs a fresh process {self.dask_import:.2f} s, which "
            "a conversion from the command line pays before its cluster starts and the runs "
            f"above do not. The scheduler's cost per task, from {self.tasks} tasks that do "
            f"nothing run on 2 workers of a cluster already up: {self.per_task_ms:.2f} ms "
            "(see :doc:`/screens`).",
            "",
            *[f"{sentence}\n" for sentence in self.why],
            "Targets:",
            "",
            *[f"- {verdict}" for verdict in self.verdicts],
            "",
        ]
        return "\n".join(text)


def import_seconds(module: str, rounds: int) -> float:
    """Median seconds a fresh interpreter takes to import ``module``, beyond starting."""
    import statistics
    import subprocess
    import sys

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
        return time.perf_counter() - started

    return statistics.median(run(f"import {module}") - run("pass") for _ in range(rounds))


def bench_executors(
    plate: Path, plates: list[Path], work: Path, rounds: int, tasks: int, facts: str
) -> ExecutorsResult:
    """Time the executors on ``plate``, ``plates`` (the first alone, then all) and no-op tasks."""
    from platekit.microscopes import convert
    from platekit.microscopes._executor import executor_for
    from platekit.microscopes.executors.dask import DaskExecutor

    def one(executor: str, source: Path) -> Callable[[], None]:
        def run() -> None:
            out = work / "one.zarr"
            shutil.rmtree(out, ignore_errors=True)
            convert(source, out, executor=executor, workers=2)

        return run

    def screen(executor: str, workers: int) -> Callable[[], float]:
        # A worker keeps as many cores busy as it may (it reads ahead on threads), so
        # each run gets as many cores as it has workers: a child process pinned to them.
        def run() -> float:
            out = work / "screen"
            shutil.rmtree(out, ignore_errors=True)
            return screen_in_child(plates, out, executor, workers)

        return run

    def bare(executor: str, workers: int) -> Callable[[], None]:
        def run() -> None:
            with executor_for(executor, workers=workers) as started:
                started.run([NoOp()] * workers, lambda *_: None, lambda _: None, None)

        return run

    def side_by_side(source: Path) -> dict[str, float]:
        runs = {
            "processes, 2 workers": one("processes", source),
            "dask, 2 workers": one("dask", source),
        }
        return take_turns(runs, rounds)

    one_plate, small_plate = side_by_side(plate), side_by_side(plates[0])
    four = take_turns(
        {
            "dask, 1 worker, 1 core": screen("dask", 1),
            "dask, 2 workers, 2 cores": screen("dask", 2),
            # What the machine gives a second worker, whatever the executor.
            "processes, 1 worker, 1 core": screen("processes", 1),
            "processes, 2 workers, 2 cores": screen("processes", 2),
        },
        rounds,
    )
    shutil.rmtree(work / "one.zarr", ignore_errors=True)
    shutil.rmtree(work / "screen", ignore_errors=True)
    starts = take_turns(
        {
            "processes, 2 workers": bare("processes", 2),
            "dask, 1 worker": bare("dask", 1),
            "dask, 2 workers": bare("dask", 2),
        },
        max(rounds, 3),
    )
    dask_import = import_seconds("distributed", max(rounds, 3))

    executor = DaskExecutor(workers=2)
    with executor:
        executor.run([NoOp()], lambda *_: None, lambda _: None, None)  # waits for the cluster
        started = time.perf_counter()
        executor.run([NoOp() for _ in range(tasks)], lambda *_: None, lambda _: None, None)
        per_task = (time.perf_counter() - started) / tasks
    return ExecutorsResult(
        facts, one_plate, small_plate, four, starts, dask_import, tasks, per_task * 1e3
    )


def screen_in_child(plates: list[Path], out: Path, executor: str, workers: int) -> float:
    """``convert_screen`` in a child process pinned to ``workers`` cores; its seconds."""
    args = [executor, str(workers), str(out), *map(str, plates)]
    return float(run_pinned(__file__, args, machine_cpus()[:workers], "screen"))


def _screen_child(executor: str, workers: int, out: Path, plates: list[Path]) -> float:
    """Convert ``plates`` into ``out``; the seconds it took, imports left out of them."""
    import distributed  # noqa: F401  imported before the clock starts, as in a warm process

    from platekit.microscopes import convert_screen

    started = time.perf_counter()
    convert_screen(plates, out, executor=executor, workers=workers)
    return time.perf_counter() - started


if __name__ == "__main__":
    executor_arg, workers_arg, out_arg, *plate_args, cpus_arg = sys.argv[1:]
    pin(cpus_arg)  # before any thread or process starts, so that every one of the run has it
    print(_screen_child(executor_arg, int(workers_arg), Path(out_arg), list(map(Path, plate_args))))
