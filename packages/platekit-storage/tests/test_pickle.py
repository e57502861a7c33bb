"""Every backend crosses a process boundary by pickle, as a task sent to a worker does."""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from operator import attrgetter, methodcaller
from pathlib import Path

import pytest

from platekit.storage import BackendRegistry, FileManager, MemoryBackend

WAIT = 60


@pytest.fixture(scope="module")
def worker() -> Iterator[ProcessPoolExecutor]:
    """One real worker process, started fresh (spawn), so nothing is inherited but the pickle."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def _kind(backend: object) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


@pytest.mark.slow
def test_every_registered_backend_pickles_and_crosses_to_a_worker(
    worker: ProcessPoolExecutor,
) -> None:
    registry = BackendRegistry()
    names = list(registry)
    assert {"memory", "disk"} <= set(names)
    for name in names:
        backend = registry[name]
        copy = pickle.loads(pickle.dumps(backend))
        assert type(copy) is type(backend), name
        assert copy.name == backend.name == name
        assert repr(copy) == repr(backend), name
        # In another process the class is imported anew and the copy is usable there.
        there = worker.submit(attrgetter("name"), backend).result(timeout=WAIT)
        assert there == name
    # The registry and a file manager over it cross too, and make their backends there.
    assert worker.submit(methodcaller("__contains__", "disk"), registry).result(WAIT) is True
    got = worker.submit(attrgetter("backends"), FileManager(registry)).result(timeout=WAIT)
    assert list(got) == names


def test_a_memory_backend_pickles_as_a_snapshot(worker: ProcessPoolExecutor) -> None:
    backend = MemoryBackend()
    backend.save(b"before", "/plate/a.bin")
    backend.ensure_directory("/plate/empty")
    backend.create_symlink("/plate/a.bin", "/plate/link.bin")
    copy = pickle.loads(pickle.dumps(backend))
    assert copy.load("/plate/link.bin") == b"before"
    assert copy.is_dir("/plate/empty")
    assert copy.stat("/plate/a.bin") == backend.stat("/plate/a.bin")
    # From now on the two are independent, both ways.
    backend.save(b"after", "/plate/b.bin")
    copy.save(b"copy only", "/plate/c.bin")
    assert not copy.exists("/plate/b.bin")
    assert not backend.exists("/plate/c.bin")
    assert worker.submit(methodcaller("load", "/plate/a.bin"), backend).result(WAIT) == b"before"


def test_a_memory_backend_over_a_callers_store_pickles_its_contents(
    worker: ProcessPoolExecutor,
) -> None:
    store: dict[str, object] = {"/plate/a.txt": "in the store"}
    backend = MemoryBackend(store)
    copy = pickle.loads(pickle.dumps(backend))
    assert copy.load("/plate/a.txt") == "in the store"
    copy.save("not in the caller's store", "/plate/b.txt")
    assert "/plate/b.txt" not in store
    manager = FileManager({"memory": backend})
    got = worker.submit(methodcaller("load", "/plate/a.txt", "memory"), manager).result(WAIT)
    assert got == "in the store"


def test_a_disk_backend_in_a_worker_reads_what_was_written_here(
    tmp_path: Path, worker: ProcessPoolExecutor
) -> None:
    manager = FileManager(BackendRegistry())
    manager.save("sent", str(tmp_path / "note.txt"), "disk")
    got = worker.submit(methodcaller("load", str(tmp_path / "note.txt"), "disk"), manager)
    assert got.result(timeout=WAIT) == "sent"
