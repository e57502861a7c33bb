from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

RunPython = Callable[..., str]


@pytest.fixture(autouse=True)
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache root; the real home is never touched."""
    root = tmp_path / "cache"
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(root))
    monkeypatch.delenv("PLATEKIT_DISABLE_REGISTRY_CACHE", raising=False)
    return root


@pytest.fixture
def run_python(cache_root: Path) -> RunPython:
    """Run code in a fresh interpreter sharing this test's cache root; return its stdout."""

    def run(code: str, *, extra_path: Path | None = None, timeout: float = 60) -> str:
        env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root))
        if extra_path is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(extra_path), env.get("PYTHONPATH")])
            )
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"subprocess failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    return run
