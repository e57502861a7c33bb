"""A worker reads the next planes while it writes the current ones, within its share of cores."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import zarr

from platekit.microscopes import convert
from platekit.microscopes._field_arrays import LevelWriters
from platekit.microscopes._read_ahead import available_cores, read_ahead, thread_share
from platekit.microscopes.executors.processes import ProcessesExecutor, worker_threads
from platekit.microscopes.handlers.imagexpress import ImageXpressHandler
from platekit.microscopes.testing import write_plate

# Bounds every wait of these tests: reached only when what is waited for never happens.
WAIT_S = 10


def test_the_next_fields_planes_are_read_before_the_previous_field_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plate = write_plate(
        "imagexpress", tmp_path / "plate", wells=["A01"], sites=3, channels=2, shape=(16, 16)
    )
    reads: list[tuple[int, int]] = []
    started = {site: threading.Event() for site in (1, 2, 3)}
    read_plane = ImageXpressHandler.read_plane

    def reading(self: Any, location: Any, address: str) -> Any:
        site = 1 + next(n for n, name in enumerate(("s1", "s2", "s3")) if f"_{name}_" in address)
        reads.append((site, 1 if "_w1" in address else 2))
        started[site].set()
        return read_plane(self, location, address)

    # Each field's arrays end (are flushed and published) only once the next field's first
    # plane is being read, or WAIT_S later: a worker reading only after it wrote waits out WAIT_S.
    read_during_write: list[bool] = []
    exit_writers = LevelWriters.__exit__

    def ending(self: Any, *exc_info: Any) -> None:
        field = int(self._group.rsplit("/", 1)[-1])
        if field + 2 in started:
            read_during_write.append(started[field + 2].wait(WAIT_S))
        exit_writers(self, *exc_info)

    monkeypatch.setattr(ImageXpressHandler, "read_plane", reading)
    monkeypatch.setattr(LevelWriters, "__exit__", ending)
    with zarr.config.set({"threading.max_workers": 1}):  # the smallest share: one core
        result = convert(plate, tmp_path / "out.zarr", workers=1)
    assert read_during_write == [True, True]
    assert result.planes_written == 6
    assert sorted(reads) == [(site, channel) for site in (1, 2, 3) for channel in (1, 2)]


def test_read_ahead_keeps_the_order_and_reads_at_most_ahead_plus_one_early() -> None:
    consumed = 0
    outstanding: list[int] = []
    lock = threading.Lock()

    def read(item: int) -> int:
        with lock:
            outstanding.append(item - consumed)
        return item * 10

    results = []
    for result in read_ahead(range(20), read, threads=3, ahead=2):
        results.append(result)
        consumed += 1
    assert results == [item * 10 for item in range(20)]
    assert max(outstanding) <= 3  # never more than ahead + 1 items past the one consumed


def test_a_failed_read_raises_in_its_turn_after_the_reads_before_it() -> None:
    def read(item: int) -> int:
        if item == 3:
            raise ValueError("plane 3 is damaged")
        return item

    reads = read_ahead(range(6), read, threads=2, ahead=2)
    assert [next(reads) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="plane 3"):
        next(reads)


def test_closing_early_starts_no_more_reads_and_leaves_no_thread() -> None:
    started: list[int] = []
    release = threading.Event()

    def read(item: int) -> int:
        started.append(item)
        release.wait(WAIT_S)
        return item

    reads = read_ahead(range(100), read, threads=2, ahead=3)
    release.set()
    assert next(reads) == 0
    reads.close()
    count = len(started)
    assert count <= 6  # the first, and at most ahead + 1 more
    assert not [t for t in threading.enumerate() if t.name.startswith("platekit-read")]
    assert len(started) == count


def test_the_thread_share_is_zarrs_thread_budget_when_set() -> None:
    with zarr.config.set({"threading.max_workers": 3}):
        assert thread_share() == 3
    with zarr.config.set({"threading.max_workers": None}):
        assert thread_share() >= 1


@pytest.mark.parametrize(
    ("workers", "cores", "threads"), [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 8, 4)]
)
def test_a_worker_shares_the_cores_with_the_others(workers: int, cores: int, threads: int) -> None:
    assert worker_threads(workers, cores) == threads


class ThreadShareTask:
    """A task that answers the thread share of the process running it."""

    holds: tuple[str, ...] = ()

    def __call__(self, report: Any, cancel: Any) -> int:
        return thread_share()


def test_processes_workers_keep_to_their_share_of_the_cores() -> None:
    answers: list[int] = []
    ProcessesExecutor(workers=2).run(
        [ThreadShareTask(), ThreadShareTask()],
        lambda index, result, error: answers.append(result if error is None else error),
        lambda count: None,
        None,
    )
    assert answers == [max(1, available_cores() // 2)] * 2
