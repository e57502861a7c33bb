"""One measurement: a fresh interpreter that imports a registry and asks it one thing.

The parent times the whole process, from before it is started to after it
has exited. The child times itself from its first line to the end of the
operation (importing the root module, which imports the registry library,
plus the operation), and counts the plugin modules it imported.

Every child runs with the environment of a user who has the packages
installed: bytecode is written (so the untimed warm-up run leaves ``.pyc``
files behind and timed runs never compile), the registry cache is on, and
both libraries keep their caches in a folder of this benchmark, never in the
user's cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from plugin_packages import ROOT_CLASS, PluginPackage

#: What a child does after importing the root module. ``answer`` is the
#: result, ``check`` a short text the parent verifies.
OPERATIONS = {
    "keys": "answer = list(registry.keys())\ncheck = str(len(answer))",
    "key": "answer = registry[{key!r}]\ncheck = answer._plugin_key",
}

_MARKER = "bench-result"

_CHILD = """\
import time
started = time.perf_counter()
import sys
from {root_module} import {root}
registry = {root}.__registry__
{operation}
elapsed = time.perf_counter() - started
loaded = sum(1 for name in list(sys.modules) if name.startswith({prefix!r}))
print({marker!r}, elapsed * 1e3, loaded, check, getattr(registry, "cache_state", "-"))
"""

# Variables that would change what a child does or measure something else.
_DROPPED_VARIABLES = (
    "PYTHONDONTWRITEBYTECODE",
    "PLATEKIT_DISABLE_REGISTRY_CACHE",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONVERBOSE",
    "PYTHONDEVMODE",
    "PYTHONTRACEMALLOC",
    "PYTHONWARNINGS",
    "PYTHONINSPECT",
    "PYTHONPYCACHEPREFIX",
)

# Where metaclass-registry 0.4.1 keeps a registry's cache, under XDG_CACHE_HOME
# (metaclass_registry/cache.py): one JSON file named after the registry.
PEER_CACHE_FOLDER = "metaclass-registry"


class BenchError(RuntimeError):
    """A child failed, or did not measure what it was meant to."""


@dataclass(frozen=True)
class Sample:
    """One run: whole-process wall time, and what the child reported about itself."""

    wall_ms: float
    inner_ms: float | None = None
    loaded: int | None = None
    check: str | None = None
    cache_state: str | None = None


class ChildRunner:
    """Starts children with ``python`` in a benchmark folder and times them.

    ``folder`` holds ``packages/`` (the generated plugin packages, put on
    ``PYTHONPATH``), ``caches/`` (one cache folder per package, used by both
    libraries) and an empty working directory for the children.
    """

    def __init__(self, folder: Path, python: str = sys.executable) -> None:
        self.python = python
        self.packages = folder / "packages"
        self.caches = folder / "caches"
        self.cwd = folder / "cwd"
        for path in (self.packages, self.caches, self.cwd):
            path.mkdir(parents=True, exist_ok=True)

    def cache_dir(self, name: str) -> Path:
        """The cache folder for one package (or for the plain-interpreter runs)."""
        return self.caches / name

    def clear_cache(self, package: PluginPackage) -> None:
        shutil.rmtree(self.cache_dir(package.name), ignore_errors=True)

    def cache_fingerprint(self, package: PluginPackage) -> tuple[tuple[str, int, int], ...]:
        """Every file in the package's cache folder, with mtime and size: shows rewrites."""
        folder = self.cache_dir(package.name)
        found = []
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stat = path.stat()
                found.append((str(path.relative_to(folder)), stat.st_mtime_ns, stat.st_size))
        return tuple(found)

    def environment(self, cache: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_VARIABLES}
        env["PYTHONPATH"] = str(self.packages)
        # platekit-registry's cache, and metaclass-registry's (XDG_CACHE_HOME/metaclass-registry).
        env["PLATEKIT_CACHE_DIR"] = str(cache)
        env["XDG_CACHE_HOME"] = str(cache)
        return env

    def run_operation(self, package: PluginPackage, operation: str) -> Sample:
        """Import ``package``'s registry in a fresh interpreter and run ``operation`` once."""
        code = _CHILD.format(
            root_module=package.root_module,
            root=ROOT_CLASS,
            operation=OPERATIONS[operation].format(key=package.sample_key),
            prefix=package.plugins_prefix,
            marker=_MARKER,
        )
        wall_ms, stdout = self._run(code, self.cache_dir(package.name))
        for line in stdout.splitlines():
            if line.startswith(_MARKER + " "):
                _, inner, loaded, check, state = line.split(" ", 4)
                return Sample(wall_ms, float(inner), int(loaded), check, state)
        raise BenchError(f"{package.name} {operation}: the child printed no result:\n{stdout}")

    def run_code(self, code: str) -> Sample:
        """Time a fresh interpreter running ``code`` (``pass`` for the bare interpreter)."""
        wall_ms, _ = self._run(code, self.cache_dir("plain-interpreter"))
        return Sample(wall_ms)

    def _run(self, code: str, cache: Path) -> tuple[float, str]:
        env = self.environment(cache)
        started = time.perf_counter()
        done = subprocess.run(
            [self.python, "-c", code],
            env=env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        wall_ms = (time.perf_counter() - started) * 1e3
        if done.returncode != 0:
            raise BenchError(
                f"a child exited with status {done.returncode}.\ncode:\n{code}\n"
                f"stderr:\n{done.stderr}"
            )
        return wall_ms, done.stdout
