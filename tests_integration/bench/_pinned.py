"""A measurement in a child process pinned to given cores, so that it has only those cores."""

from __future__ import annotations

import os
import subprocess
import sys


def machine_cpus() -> list[int]:
    """The cores this process may run on, in order (``[0]`` where the system cannot say)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]


def run_pinned(script: str, args: list[str], cpus: list[int], what: str) -> str:
    """Run ``python script ARGS... CPUS`` and return the last line it printed.

    The child takes its last argument to :func:`pin` before it starts any thread.
    Raises ``RuntimeError`` with the child's standard error when it fails.
    """
    command = [sys.executable, script, *args, ",".join(map(str, cpus))]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"the {what} run failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def pin(cpus: str) -> None:
    """Keep this process on the cores ``cpus`` (``"0,1"``), and every thread and process it
    starts from now on."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu) for cpu in cpus.split(",")})
