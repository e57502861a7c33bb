"""atomic_update_json: processes updating one metadata file under its lock lose no update."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from platekit.storage import StorageError, atomic_update_json, file_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the workers are POSIX shells")

WORKER = textwrap.dedent(
    """
    import sys
    from platekit.storage import atomic_update_json

    path, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def bump(document):
        document["count"] += 1
        document["by"].setdefault(worker, 0)
        document["by"][worker] += 1

    for _ in range(count):
        atomic_update_json(path, bump, default={"count": 0, "by": {}}, timeout=60)
    """
)

HOLDER = textwrap.dedent(
    """
    import sys, time
    from platekit.storage import file_lock

    with file_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def test_many_processes_updating_one_counter_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "plate" / "metadata.json"
    workers, each = 6, 40
    started = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(path), f"w{n}", str(each)])
        for n in range(workers)
    ]
    for process in started:
        assert process.wait(timeout=120) == 0
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["count"] == workers * each
    assert document["by"] == {f"w{n}": each for n in range(workers)}
    # Only the data and its lock file: no temporary file is left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == ["metadata.json", "metadata.json.lock"]


def test_a_lock_not_free_in_time_names_the_lock_file_and_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), "20"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        with pytest.raises(TimeoutError) as caught:
            atomic_update_json(path, lambda d: {"x": 1}, timeout=0.3)
        assert time.monotonic() - started < 10
        error = caught.value
        assert isinstance(error, StorageError)
        assert error.filename == str(path) + ".lock"
        assert f"held by process {holder.pid}" in str(error)
        assert "pass a longer timeout" in str(error)
        assert not path.exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
    # The system let go of a killed holder's lock: the next update goes through.
    assert atomic_update_json(path, lambda d: {"x": 1}, timeout=10) == {"x": 1}


def test_threads_of_one_process_exclude_each_other_too(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "m.json"
    atomic_update_json(path, lambda d: {"n": 0})

    def bump(document: dict[str, Any]) -> dict[str, Any]:
        seen = document["n"]
        time.sleep(0.001)  # widen the window a lost update would need
        return {"n": seen + 1}

    threads = [
        threading.Thread(target=lambda: [atomic_update_json(path, bump) for _ in range(20)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert json.loads(path.read_text(encoding="utf-8")) == {"n": 80}


def test_the_update_may_change_in_place_or_return_a_new_document(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    assert atomic_update_json(path, lambda d: d.update(a=1), default={}) == {"a": 1}
    assert atomic_update_json(path, lambda d: {**d, "b": 2}) == {"a": 1, "b": 2}
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": 1, "b": 2}
    assert path.read_text(encoding="utf-8").startswith("{\n  ")  # indented, as the disk backend


def test_nothing_to_write_or_no_json_is_refused_and_the_file_stays(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    with pytest.raises(TypeError, match="pass default"):
        atomic_update_json(path, lambda d: None)
    assert not path.exists()
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON") as caught:
        atomic_update_json(path, lambda d: {"x": 1}, default={})
    assert isinstance(caught.value, StorageError)
    assert path.read_text(encoding="utf-8") == "{not json"  # never replaced by the default


def test_an_error_in_the_update_leaves_the_file_and_frees_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    atomic_update_json(path, lambda d: {"n": 1})

    def broken(document: Any) -> Any:
        raise RuntimeError("the update failed")

    with pytest.raises(RuntimeError, match="the update failed"):
        atomic_update_json(path, broken)
    assert json.loads(path.read_text(encoding="utf-8")) == {"n": 1}
    with file_lock(path, timeout=0) as lock:  # free again at once
        assert lock == str(path) + ".lock"


def test_a_negative_timeout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timeout"), file_lock(tmp_path / "m.json", timeout=-1):
        pass


def test_a_lock_suffix_names_the_lock_file_that_other_programs_share(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    atomic_update_json(path, lambda doc: {"n": 1}, lock_suffix=".guard")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metadata.json", "metadata.json.guard"]
    with file_lock(path, lock_suffix=".guard") as held:  # another program holds the guard
        assert held == str(path) + ".guard"
        with pytest.raises(TimeoutError, match="within 0 s"):
            atomic_update_json(path, lambda doc: {"n": 2}, lock_suffix=".guard", timeout=0)
        atomic_update_json(path, lambda doc: {"n": 3}, timeout=0)  # ".lock" is another lock
    with file_lock(tmp_path / "held.lock", lock_suffix="", timeout=0) as held:
        assert held == str(tmp_path / "held.lock")
    for wrong in ("", "/x", 3):
        with pytest.raises(ValueError, match="lock_suffix"):
            atomic_update_json(path, lambda doc: doc, lock_suffix=wrong)  # type: ignore[arg-type]
