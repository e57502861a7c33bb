"""A conversion's processes: one run per output, workers that end with their run, Ctrl-C."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from platekit.microscopes import convert
from platekit.microscopes._convert import ConversionCancelled
from platekit.microscopes.testing import write_plate

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and locks")


def array_hashes(out: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every chunk and array metadata file below ``out``."""
    hashes = {}
    for path in sorted(out.rglob("*")):
        chunk = path.is_file() and path.name not in ("zarr.json", ".zattrs", ".zgroup")
        chunk = chunk and not path.name.startswith(".platekit-")
        array = path.name == "zarr.json" and '"node_type": "array"' in path.read_text()
        if chunk or array:
            hashes[path.relative_to(out).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def big_plate(tmp_path: Path) -> Path:
    """A plate that takes two workers a few seconds: time to interrupt them."""
    return write_plate(
        "imagexpress",
        tmp_path / "plate",
        wells=[f"{r}{c:02d}" for r in "AB" for c in range(1, 9)],
        sites=4,
        channels=3,
        shape=(256, 256),
    )


def command(source: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "platekit.registry", "convert", str(source), str(out), *extra]


def wait_for(condition: object, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def files_below(out: Path) -> int:
    # os.walk, unlike rglob, passes over folders that vanish as it looks.
    return sum(len(files) for _, _, files in os.walk(out))


def wells_started(out: Path) -> int:
    return len([p for p in out.glob("*/*") if p.is_dir()])


# -- one run per output ---------------------------------------------------------------------


def test_a_second_conversion_into_an_output_a_live_one_writes_is_refused(tmp_path: Path) -> None:
    source = write_plate("imagexpress", tmp_path / "P", wells=["A01", "A02"], shape=(16, 16))
    out = tmp_path / "out.zarr"
    inside, release = threading.Event(), threading.Event()

    def progress(_: object) -> None:
        if not inside.is_set():
            inside.set()
            release.wait(60)

    first = threading.Thread(target=convert, args=(source, out), kwargs={"progress": progress})
    first.start()
    try:
        assert inside.wait(60)
        with pytest.raises(FileExistsError, match="another conversion is writing into"):
            convert(source, out)
        with pytest.raises(FileExistsError, match="another conversion is writing into"):
            convert(source, out, overwrite=True)
    finally:
        release.set()
        first.join(60)
    assert convert(source, out).already_complete


ORPHAN = """
import sys
from platekit.microscopes._lock import hold_shared

hold_shared(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
"""


def test_a_worker_left_alive_keeps_a_resume_out_until_it_ends(tmp_path: Path) -> None:
    source = write_plate("imagexpress", tmp_path / "P", wells=["A01", "A02"], shape=(16, 16))
    out = tmp_path / "out.zarr"
    stop = threading.Event()
    with pytest.raises(ConversionCancelled):
        convert(source, out, progress=lambda p: p.wells_done and stop.set(), cancel=stop)
    # A worker of that run that its end did not take with it, still holding the lock.
    orphan = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert orphan.stdout is not None and orphan.stdout.readline() == "holding\n"
        refused = subprocess.run(command(source, out), capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert f"another conversion is writing into {str(out)!r}" in refused.stderr
    finally:
        orphan.communicate(timeout=30)
    assert convert(source, out).wells_converted == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.slow
def test_workers_end_with_their_killed_run_and_the_resume_waits_for_none(tmp_path: Path) -> None:
    source = big_plate(tmp_path)
    whole = tmp_path / "whole.zarr"
    convert(source, whole)
    out = tmp_path / "out.zarr"
    run = subprocess.Popen(
        command(source, out, "--workers", "2", "-q"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        assert wait_for(lambda: wells_started(out) >= 2), "the workers never started"
        workers = [pid for pid in children(run.pid) if alive(pid)]
        assert run.poll() is None, "the conversion ended before it could be killed"
        run.send_signal(signal.SIGKILL)
    finally:
        run.wait(timeout=30)
    assert len(workers) >= 2
    assert wait_for(lambda: not any(alive(pid) for pid in workers), 10), "workers outlived it"

    rerun = subprocess.run(command(source, out, "-q"), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert array_hashes(out) == array_hashes(whole)


# -- Ctrl-C --------------------------------------------------------------------------------


def interrupt_twice(source: Path, out: Path) -> tuple[int | None, str]:
    """Run a conversion with two workers, Ctrl-C it twice as it writes: its exit code, stderr."""
    # Its own session, so that a signal to its group reaches it and its workers, as Ctrl-C does.
    run = subprocess.Popen(
        command(source, out, "--workers", "2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(run.stderr or ()), daemon=True)
    reader.start()
    try:
        # The first progress line comes once the run has planned; then wait for writing.
        assert wait_for(lambda: lines or run.poll() is not None)
        files = files_below(out)
        assert wait_for(lambda: files_below(out) > files + 4 or run.poll() is not None)
        assert run.poll() is None, "the conversion ended before Ctrl-C"
        os.killpg(run.pid, signal.SIGINT)
        time.sleep(0.05)
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
    reader.join(10)
    if run.stderr is not None:
        run.stderr.close()
    return run.returncode, "".join(lines)


@pytest.mark.slow
def test_ctrl_c_twice_ends_the_run_at_once_and_leaves_it_resumable(tmp_path: Path) -> None:
    source = big_plate(tmp_path)
    whole = tmp_path / "whole.zarr"
    convert(source, whole)
    out = tmp_path / "out.zarr"
    for _ in range(2):
        code, stderr = interrupt_twice(source, out)
        assert code == 130, stderr
        assert "Traceback" not in stderr and "interrupted; run the same command" in stderr
    done = subprocess.run(command(source, out, "--workers", "2", "-q"), timeout=120, check=False)
    assert done.returncode == 0
    assert array_hashes(out) == array_hashes(whole)


UNGUARDED = """
import sys
from platekit.microscopes import convert
from platekit.microscopes._convert import ConversionCancelled

convert(sys.argv[1], sys.argv[2], workers=2)
"""


@pytest.mark.slow
def test_a_script_without_the_main_guard_is_told_to_add_it(tmp_path: Path) -> None:
    source = write_plate("imagexpress", tmp_path / "P", wells=["A01", "A02"], shape=(16, 16))
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED)
    ran = subprocess.run(
        [sys.executable, str(script), str(source), str(tmp_path / "out.zarr")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode != 0
    assert 'put the call under if __name__ == "__main__":' in ran.stderr
    assert "bootstrapping phase" not in ran.stderr


def test_a_file_system_without_locks_converts_unlocked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import fcntl

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    source = write_plate("imagexpress", tmp_path / "P", wells=["A01"], shape=(16, 16))
    assert convert(source, tmp_path / "out.zarr").wells_converted == 1
