"""A process killed while the disk backend writes leaves old or new files, never partial ones.

A child process saves TIFF and ``.npy`` frames of a few MB in a loop, first
creating them and then overwriting them, and logs each save as it begins and
ends. The parent kills it with SIGKILL at a random moment, then loads every
file the backend lists: each must be complete and equal to the version last
saved or to the one being saved when the kill came. Several rounds run in the
same folder. ``PLATEKIT_CRASH_SEED`` repeats a run's timing.
"""

from __future__ import annotations

import inspect
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from platekit.storage.backends.disk import DiskBackend, is_temporary

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
]

ROUNDS = 6
SLOTS = 4  # frame0 .. frame3, each as .tif and .npy


def content(name: str, version: int) -> np.ndarray:
    """Version ``version`` of file ``name``: 4 MB in which every value depends on both."""
    seed = version * 7919 + sum(map(ord, name))
    frame: np.ndarray
    if name.endswith(".tif"):
        ramp = np.arange(1024 * 2048, dtype=np.uint32)
        frame = ((ramp * np.uint32(2654435761) + np.uint32(seed)) >> 11).astype(np.uint16)
        return frame.reshape(1024, 2048)
    ramp32 = np.arange(1024 * 1024, dtype=np.float32)
    frame = ramp32 * np.float32(version % 89 + 1) + np.float32(seed)
    return frame.reshape(1024, 1024)


CHILD = (
    "import os, sys\n"
    "import numpy as np\n"
    "from platekit.storage.backends.disk import DiskBackend\n"
    + inspect.getsource(content)
    + f"SLOTS = {SLOTS}\n"
    + """
root, log_path, version, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
last = version + count if count else None
log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
disk = DiskBackend()
while last is None or version < last:
    name = f"frame{(version // 2) % SLOTS}" + (".tif", ".npy")[version % 2]
    path = os.path.join(root, name)
    data = content(name, version)
    os.write(log, f"begin {name} {version}\\n".encode())
    disk.save(data, path, overwrite=disk.exists(path))
    os.write(log, f"done {name} {version}\\n".encode())
    version += 1
"""
)


def read_log(log: Path) -> list[tuple[str, str, int]]:
    """The complete lines of the child's log as (event, name, version)."""
    if not log.exists():
        return []
    text = log.read_text()
    events = []
    for line in text.splitlines(keepends=True):
        if line.endswith("\n"):  # a line cut short by the kill is ignored
            event, name, version = line.split()
            events.append((event, name, int(version)))
    return events


def allowed_versions(events: list[tuple[str, str, int]]) -> dict[str, set[int]]:
    """For each file: the version last saved, and every version begun since.

    A save may finish just before its "done" line was written, in any of
    the killed rounds since the file's last logged save.
    """
    allowed: dict[str, set[int]] = {}
    for event, name, version in events:
        if event == "done":
            allowed[name] = {version}
        else:
            allowed.setdefault(name, set()).add(version)
    return allowed


def check_files(disk: DiskBackend, root: Path, events: list[tuple[str, str, int]]) -> int:
    """Every listed file loads whole and holds an allowed version; returns how many files."""
    allowed = allowed_versions(events)
    listed = disk.list_files(root, extensions={".tif", ".npy"})
    names = {os.path.basename(p) for p in listed}
    # Nothing on disk but the listed files and hidden temporary files.
    assert {n for n in os.listdir(root) if not is_temporary(n)} == names
    assert set(disk.list_dir(root)) == names
    done = {name for event, name, _ in events if event == "done"}
    assert done <= names, f"completed saves missing: {sorted(done - names)}"
    for path in listed:
        name = os.path.basename(path)
        assert name in allowed, f"{name} was never written"
        try:
            loaded = disk.load(path)
        except Exception as exc:
            pytest.fail(f"{name} is not a complete file: {type(exc).__name__}: {exc}")
        matches = [
            v
            for v in allowed[name]
            if loaded.shape == content(name, v).shape
            and loaded.dtype == content(name, v).dtype
            and np.array_equal(loaded, content(name, v))
        ]
        assert matches, f"{name} holds none of the versions {sorted(allowed[name])}"
    return len(listed)


def run_child(root: Path, log: Path, first: int, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(log), str(first), str(count)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_until_saving(child: subprocess.Popen[bytes], log: Path, first: int) -> None:
    """Return once the child has begun saving version ``first``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(v >= first for _, _, v in read_log(log)):
            return
        if child.poll() is not None:
            _, err = child.communicate(timeout=30)
            pytest.fail(f"the writer exited with {child.returncode}:\n{err.decode()}")
        time.sleep(0.01)
    pytest.fail("the writer did not start saving within 60 s")


def test_a_killed_writer_leaves_old_or_new_files_never_partial(tmp_path: Path) -> None:
    seed = int(os.environ.get("PLATEKIT_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"crash test seed {seed} (PLATEKIT_CRASH_SEED={seed} repeats it)")
    rng = random.Random(seed)
    root, log = tmp_path / "frames", tmp_path / "saves.log"
    disk = DiskBackend()
    version = 0
    for round_number in range(ROUNDS):
        child = run_child(root, log, version, 0)
        try:
            wait_until_saving(child, log, version)
            delay = rng.uniform(0.05, 0.6)
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
            _, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, err.decode()
        events = read_log(log)
        count = check_files(disk, root, events)
        print(
            f"round {round_number}: killed after {delay:.3f} s, at version "
            f"{events[-1][2]} ({events[-1][0]}); {count} files checked"
        )
        version = events[-1][2] + 1

    # A run that ends normally adds no temporary files, even where killed runs left some.
    left_behind = {n for n in os.listdir(root) if is_temporary(n)}
    child = run_child(root, log, version, 2 * SLOTS)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err.decode()
    assert {n for n in os.listdir(root) if is_temporary(n)} == left_behind
    assert check_files(disk, root, read_log(log)) == 2 * SLOTS
