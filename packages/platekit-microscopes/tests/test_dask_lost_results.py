"""The dask executor tells a task's own result from a result Dask lost with its worker.

When the worker holding a finished task's result dies before the client
fetches it, Dask may hand back something that is not the result (``None``
was seen). The tasks here run on a real LocalCluster; what stands in for
Dask losing a result is a ``_run_task`` that gives ``None`` after running
the task, for the first attempts of a task: the value a lost result came
back as.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

from platekit.microscopes._plan import WorkerLostError
from platekit.microscopes.executors import dask as dask_executor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dask_executor.DaskExecutor]:
    """A LocalCluster of one worker, shared by the tests of this file."""
    with pytest.MonkeyPatch.context() as patch:
        # The workers take the environment they start with: never the real cache folder.
        patch.setenv("PLATEKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        with dask_executor.DaskExecutor(workers=1) as started:
            yield started


def _task(folder: Path, value: object, lose: int = 0) -> Any:
    """A task returning ``value`` that notes each run in ``folder/runs``, whose first ``lose``
    results are lost under :func:`_losing`.

    Made here, so Dask sends the class itself: a worker need not import this module.
    """
    folder.mkdir(parents=True, exist_ok=True)

    class Noted:
        holds: tuple[str, ...] = ()
        attempts = folder / "attempts"
        lost = lose

        def __call__(self, report: object, cancel: object) -> object:
            with (folder / "runs").open("a") as runs:
                runs.write("run\n")
            return value

    return Noted()


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _losing() -> Callable[..., Any]:
    """A ``_run_task`` whose first ``task.lost`` attempts of a task give ``None``, as a lost result.

    Later attempts are the real ``_run_task`` of the worker, whose module is not patched.
    Made here, so Dask sends the function itself.
    """

    def run_task(task: Any, *, name: str) -> Any:
        from platekit.microscopes.executors import dask as module

        with task.attempts.open("a") as attempts:
            attempts.write("attempt\n")
        if len(task.attempts.read_text().splitlines()) > task.lost:
            return module._run_task(task, name=name)
        task(lambda count: None, None)
        return None

    return run_task


def _run(executor: Any, tasks: list[Any]) -> dict[int, list[tuple[object, BaseException | None]]]:
    """Every call of ``done``, by task index."""
    seen: dict[int, list[tuple[object, BaseException | None]]] = {}

    def done(index: int, result: object, error: BaseException | None) -> None:
        seen.setdefault(index, []).append((result, error))

    executor.run(tasks, done, lambda count: None, None)
    return seen


def test_a_task_returning_none_is_handed_none_and_not_taken_for_lost(
    executor: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second task's first result is lost; the first's None is its own.
    kept, lost = _task(tmp_path / "kept", None), _task(tmp_path / "lost", None, lose=1)
    monkeypatch.setattr(dask_executor, "_run_task", _losing())
    seen = _run(executor, [kept, lost])
    assert seen == {0: [(None, None)], 1: [(None, None)]}
    assert _lines(tmp_path / "kept" / "runs") == 1, "a task's own None is not run again"
    assert _lines(tmp_path / "lost" / "runs") == 2, "a lost None is run again"


def test_a_lost_result_is_run_again_and_done_sees_the_real_result_once(
    executor: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = [_task(tmp_path / str(i), {"well": i}, lose=i) for i in range(3)]
    monkeypatch.setattr(dask_executor, "_run_task", _losing())
    seen = _run(executor, tasks)
    assert seen == {i: [({"well": i}, None)] for i in range(3)}
    assert [_lines(tmp_path / str(i) / "runs") for i in range(3)] == [1, 2, 3]


def test_a_result_lost_more_often_than_the_bound_ends_with_worker_lost_error(
    executor: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = _task(tmp_path / "task", "never seen", lose=dask_executor.LOST_RESULT_RETRIES + 1)
    monkeypatch.setattr(dask_executor, "_run_task", _losing())
    seen = _run(executor, [task])
    [(result, error)] = seen[0]
    assert result is None
    assert isinstance(error, WorkerLostError)
    assert "run the conversion again" in str(error)
    assert _lines(tmp_path / "task" / "attempts") == 1 + dask_executor.LOST_RESULT_RETRIES
