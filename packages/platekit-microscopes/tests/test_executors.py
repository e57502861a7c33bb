"""Executors are plugins: the built-in ones are listed, and a third party's converts as they do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from platekit.microscopes import EXECUTORS, Executor, convert
from platekit.microscopes.testing import write_plate


class BackwardsExecutor(Executor):
    """Runs the tasks in this process, last first: an engine platekit knows nothing of."""

    _executor_type = "backwards-for-tests"
    display_name = "the tasks in reverse, in this process"
    runs: list[int] = []

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None) -> None:
        self.workers = workers

    def run(self, tasks: Any, done: Any, report: Any, cancel: Any) -> None:
        BackwardsExecutor.runs.append(len(tasks))
        for index in reversed(range(len(tasks))):
            done(index, tasks[index](report, cancel), None)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".platekit-lock"
    }


def test_the_built_in_executors_are_registered_without_importing_dask() -> None:
    assert {"processes", "dask"} <= set(EXECUTORS)
    assert EXECUTORS.metadata("dask")["install"] == "platekit-microscopes[dask]"


def test_a_third_party_executor_converts_as_the_built_in_one_does(tmp_path: Path) -> None:
    source = write_plate("imagexpress", tmp_path / "P", wells=["A01", "A02", "B01"], sites=2)
    assert EXECUTORS["backwards-for-tests"] is BackwardsExecutor
    result = convert(source, tmp_path / "theirs.zarr", executor="backwards-for-tests")
    assert BackwardsExecutor.runs == [3] and result.wells_converted == 3
    convert(source, tmp_path / "ours.zarr")
    assert tree(tmp_path / "theirs.zarr") == tree(tmp_path / "ours.zarr")


def test_an_unknown_executor_names_the_known_ones(tmp_path: Path) -> None:
    source = write_plate("imagexpress", tmp_path / "P")
    with pytest.raises(KeyError, match=r"'spark' is not an executor; choose one of .*processes"):
        convert(source, tmp_path / "o.zarr", executor="spark")
    assert not (tmp_path / "o.zarr").exists()


def test_a_scheduler_is_refused_by_the_processes_executor(tmp_path: Path) -> None:
    source = write_plate("imagexpress", tmp_path / "P")
    with pytest.raises(ValueError, match="is for the dask executor"):
        convert(source, tmp_path / "o.zarr", scheduler="tcp://127.0.0.1:8786")
    assert not (tmp_path / "o.zarr").exists()


def test_platekit_registries_lists_the_executors() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "platekit.registry", "registries"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert listed.returncode == 0, listed.stderr
    assert "executor" in listed.stdout
    assert "processes" in listed.stdout and "dask" in listed.stdout


def test_a_well_s_task_carries_the_plate_s_per_plane_data_of_its_well_only(
    tmp_path: Path,
) -> None:
    import pickle

    from platekit.microscopes import open_plate
    from platekit.microscopes._plan import make_plan
    from platekit.microscopes._run import _well_plan

    wells = [f"{chr(65 + n // 24)}{n % 24 + 1:02d}" for n in range(96)]
    source = write_plate(
        "imagexpress", tmp_path / "P", wells=wells, sites=9, channels=2, shape=(8, 8)
    )
    plan = make_plan(open_plate(source), tmp_path / "o.zarr", "0.5", 1, False)
    task_plan = _well_plan(plan, "B02")
    assert task_plan.meta.positions == {
        key: at for key, at in plan.meta.positions.items() if key.well == "B02"
    }
    assert task_plan.meta.positions and task_plan.meta.wells == plan.meta.wells
    # A task crosses to its worker whole: one well's share, not the plate's.
    assert len(pickle.dumps(task_plan)) * 10 < len(pickle.dumps(plan))
