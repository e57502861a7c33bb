"""Real vendor exports, from the source distributions of public packages that ship them.

The pe2loaddata sdist holds Harmony V1, V5 and V7 exports with real pixels;
the cellvoyager-types sdist holds CV7000 and CV8000 exports. Each is fetched
once with ``pip download --no-binary :all:`` into a folder kept between runs
(``PLATEKIT_TEST_DOWNLOADS``, by default ``platekit-test-downloads`` in the
system's temporary folder, never the home folder) and unpacked there. The
tests and the benchmarks read them through :func:`unpacked_sdist`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

#: The sdists, pinned so the exports the tests describe do not change under them.
SDISTS = {
    "pe2loaddata": "0.2.0",
    "cellvoyager-types": "0.9.1",
}


class DownloadUnavailable(OSError):
    """An sdist could not be had (no network, no pip); its message says why."""


def downloads_folder() -> Path:
    """Where the sdists are kept: ``PLATEKIT_TEST_DOWNLOADS`` or the system's temporary folder."""
    folder = os.environ.get("PLATEKIT_TEST_DOWNLOADS")
    return Path(folder) if folder else Path(tempfile.gettempdir()) / "platekit-test-downloads"


def unpacked_sdist(name: str) -> Path:
    """The unpacked sdist of ``name`` (one of :data:`SDISTS`), downloaded the first time.

    Raises :class:`DownloadUnavailable` when pip cannot fetch it.
    """
    version = SDISTS[name]
    root = downloads_folder()
    stem = f"{name.replace('-', '_')}-{version}"
    unpacked = root / stem
    if (unpacked / ".complete").is_file():
        return unpacked / _top_folder(unpacked)
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"{stem}.tar.gz"
    if not archive.is_file():
        _download(name, version, root)
        if not archive.is_file():
            raise DownloadUnavailable(f"pip downloaded no {archive.name} for {name} {version}")
    # Unpack into a fresh folder, then mark it complete, so a killed run is redone.
    staging = Path(tempfile.mkdtemp(prefix=f"{stem}-", dir=root))
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    (staging / ".complete").write_text("unpacked\n")
    try:
        staging.rename(unpacked)
    except OSError:
        # Another run unpacked it first; theirs is as good.
        shutil.rmtree(staging, ignore_errors=True)
    return unpacked / _top_folder(unpacked)


def _download(name: str, version: str, root: Path) -> None:
    """``pip download`` the sdist, with this interpreter's pip or, in an environment made
    without pip (uv, nox), the pip of the interpreter it was made from."""
    interpreters = dict.fromkeys([sys.executable, getattr(sys, "_base_executable", sys.executable)])
    why = "no interpreter with pip"
    for python in interpreters:
        command = [
            python,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "--dest",
            str(root),
            f"{name}=={version}",
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = str(exc)
            continue
        if done.returncode == 0:
            return
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
    raise DownloadUnavailable(f"cannot download the {name} {version} sdist with pip: {why}")


def _top_folder(unpacked: Path) -> str:
    folders = [p.name for p in unpacked.iterdir() if p.is_dir()]
    if len(folders) != 1:
        raise RuntimeError(f"{unpacked} should hold one folder, holds {folders}")
    return folders[0]
