"""An executor from outside platekit: the tasks one after another, in this process, last first."""

from __future__ import annotations

from typing import Any

from platekit.microscopes import Executor


class ReversedExecutor(Executor):
    _executor_type = "acme_reversed"
    display_name = "Acme's executor: the tasks in this process, last first"

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None) -> None:
        if scheduler is not None:
            raise ValueError("acme_reversed runs in this process and takes no scheduler")

    def run(self, tasks: Any, done: Any, report: Any, cancel: Any) -> None:
        for index in reversed(range(len(tasks))):
            try:
                result = tasks[index](report, cancel)
            except Exception as exc:
                done(index, None, exc)
            else:
                done(index, result, None)
