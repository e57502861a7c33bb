"""Threads and processes: one discovery, complete results, no deadlock, pickling by reference."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from platekit.registry import _discovery, _lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from conftest import PluginTree, RunPython

EXPECTED = ["alpha", "beta", "gpu_gamma"]


def test_many_threads_on_a_cold_registry_cause_one_discovery(
    plugins: PluginTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = _discovery.import_plugins

    def slow_counting_import(*args: object) -> object:
        calls.append(threading.get_ident())
        time.sleep(0.2)  # widen the window in which the other threads arrive
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_discovery, "import_plugins", slow_counting_import)
    registry = __import__(plugins.name).REGISTRY
    threads = 16
    barrier = threading.Barrier(threads)
    results: list[list[str]] = []

    def touch(index: int) -> None:
        barrier.wait(timeout=10)
        operations: list[Callable[[], object]] = [
            lambda: sorted(registry),
            lambda: sorted(registry.keys()),
            lambda: len(registry),
            lambda: "alpha" in registry,
        ]
        operations[index % 4]()
        results.append(sorted(registry))

    workers = [threading.Thread(target=touch, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert not any(worker.is_alive() for worker in workers)
    assert len(calls) == 1
    assert results == [EXPECTED] * threads


def test_a_failed_discovery_leaves_the_registry_retryable(
    plugins: PluginTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _discovery.import_plugins
    failures = [RuntimeError("filesystem hiccup")]

    def flaky(*args: object) -> object:
        if failures:
            raise failures.pop()
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_discovery, "import_plugins", flaky)
    registry = __import__(plugins.name).REGISTRY
    with pytest.raises(RuntimeError, match="filesystem hiccup"):
        list(registry)
    assert not registry.is_discovered
    assert sorted(registry) == EXPECTED


DEADLOCK_TRIALS = """
import importlib, json, os, sys, threading, time

base = sys.argv[1]
names = json.loads(sys.argv[2])
sys.path.insert(0, base)
for name in names:
    root = importlib.import_module(name)
    results = {{}}
    start = threading.Barrier(2)

    def discover():
        start.wait()
        results["discover"] = sorted(root.REGISTRY)

    def import_directly():
        start.wait()
        module = importlib.import_module(name + ".plugins.mod_reader")
        results["import"] = module.SEEN

    threads = [threading.Thread(target=discover, daemon=True),
               threading.Thread(target=import_directly, daemon=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout={timeout})
    if any(t.is_alive() for t in threads):
        print("DEADLOCK in", name, flush=True)
        os._exit(3)
    if results["discover"] != ["alpha", "beta", "reader"]:
        print("INCOMPLETE", results, flush=True)
        os._exit(4)
print("ok", len(names))
"""

READER_BODY = """
import time
from {name} import REGISTRY
time.sleep(0.02)
SEEN = sorted(REGISTRY)  # reads its own registry while being imported

class Reader(Base):
    _kind = "reader"
"""


@pytest.mark.slow
def test_no_deadlock_when_a_plugin_reads_its_registry_while_another_thread_imports_it(
    make_tree: Callable[..., PluginTree], tmp_path: Path, cache_root: Path
) -> None:
    trials = 25
    names = []
    for _ in range(trials):
        tree = make_tree("deadlock")
        tree.plugin("mod_alpha", "alpha", body="import time\ntime.sleep(0.01)\n")
        tree.plugin("mod_beta", "beta")
        reader = tree.package / "plugins" / "mod_reader.py"
        reader.write_text(f"from {tree.name} import Base\n" + READER_BODY.format(name=tree.name))
        names.append(tree.name)
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root))
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            DEADLOCK_TRIALS.format(timeout=10),
            str(tmp_path / "deadlock"),
            json.dumps(names),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"ok {trials}"


@pytest.mark.slow
def test_eight_processes_discovering_cold_at_once_leave_a_valid_index(
    plugins: PluginTree, run_python: RunPython, cache_root: Path
) -> None:
    for n in range(20):
        plugins.plugin(f"mod_extra_{n}", f"extra_{n}")
    expected = sorted([*EXPECTED, *(f"extra_{n}" for n in range(20))])
    code = f"import {plugins.name} as r; print(len(r.REGISTRY))"
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root), PYTHONPATH=str(plugins.folder))
    for _trial in range(3):
        for index in cache_root.glob("*/registry.*.json"):
            index.unlink()
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True
            )
            for _ in range(8)
        ]
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
        assert [worker.returncode for worker in workers] == [0] * 8
        assert outputs == [f"{len(expected)}\n"] * 8
        [index] = list(cache_root.glob("*/registry.*.json"))
        record = json.loads(index.read_text())
        indexed = [key for group in record["items"]["origins"].values() for key in group]
        assert sorted(indexed) == expected
        warm = run_python(
            f"import {plugins.name} as r; print(sorted(r.REGISTRY), r.REGISTRY.cache_state)",
            path=plugins.folder,
        )
        assert warm.strip().endswith("hit")
    assert [p.name for p in index.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_registry_pickles_by_reference_without_discovering(
    plugins: PluginTree, run_python: RunPython
) -> None:
    root = __import__(plugins.name)
    data = pickle.dumps(root.REGISTRY)
    extras = pickle.dumps(root.EXTRAS)
    assert not root.REGISTRY.is_discovered
    assert pickle.loads(data) is root.REGISTRY
    assert pickle.loads(extras) is root.EXTRAS
    run_python(f"import {plugins.name} as r; list(r.REGISTRY)", path=plugins.folder)
    code = f"""
        import pickle, sys
        registry = pickle.loads({data!r})
        extras = pickle.loads({extras!r})
        print(sorted(registry), registry.cache_state, sorted(extras),
              [m for m in sys.modules if m.startswith("{plugins.name}.plugins.")])
    """
    out = run_python(code, path=plugins.folder)
    assert out.strip() == f"{EXPECTED} hit {EXPECTED} []"


def test_an_undeclared_registry_does_not_pickle() -> None:
    with pytest.raises(TypeError, match="not declared on any class"):
        pickle.dumps(_lazy.LazyDiscoveryDict())


STORM = """
import importlib, json, os, sys, threading

sys.path.insert(0, sys.argv[1])
name, touchers = sys.argv[2], int(sys.argv[3])
root = importlib.import_module(name)
runs = importlib.import_module(name + ".runs")
runs.START = threading.Barrier(touchers + 1)
seen = {{}}

def touch(index):
    # Together, once the importer is inside the first plugin's body, holding its import lock.
    runs.START.wait(timeout=30)
    seen[str(index)] = sorted(root.REGISTRY)

def import_directly():
    importlib.import_module(name + ".plugins.mod_000")
    seen["importer"] = sorted(root.REGISTRY)

threads = [threading.Thread(target=touch, args=(n,), daemon=True) for n in range(touchers)]
threads.append(threading.Thread(target=import_directly, daemon=True))
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(timeout={timeout})
if any(thread.is_alive() for thread in threads):
    print(json.dumps({{"hung": True}}), flush=True)
    os._exit(3)
counts = {{}}
for module in runs.RUNS:
    counts[module] = counts.get(module, 0) + 1
print(json.dumps({{"runs": counts, "seen": seen}}))
"""

STORM_RUNS = """
import threading

RUNS = []  # a module name per plugin body run
START = threading.Barrier(1)  # the touching threads and the first plugin's body
"""

STORM_PLUGIN = """
import time
from {name} import runs
runs.RUNS.append(__name__)
if __name__.endswith(".mod_000"):
    runs.START.wait(timeout=30)
    time.sleep(0.1)  # the touching threads start a discovery meanwhile
from {name} import REGISTRY
SEEN = len(REGISTRY)  # reads its own registry while being imported

class Storm{n:03d}(Base):
    _kind = "storm_{n:03d}"
"""


@pytest.mark.slow
def test_plugins_reading_their_registry_during_a_threaded_cold_start_run_once_each(
    make_tree: Callable[..., PluginTree], tmp_path: Path, cache_root: Path
) -> None:
    """One thread imports a plugin directly while 15 touch the cold registry, and
    every plugin reads its registry in its own body: each body runs once."""
    plugins, touchers = 200, 15
    tree = make_tree("storm")
    (tree.package / "runs.py").write_text(STORM_RUNS)
    for n in range(plugins):
        (tree.package / "plugins" / f"mod_{n:03d}.py").write_text(
            f"from {tree.name} import Base\n" + STORM_PLUGIN.format(name=tree.name, n=n)
        )
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root))
    script = STORM.format(timeout=60)
    done = subprocess.run(
        [sys.executable, "-c", script, str(tree.folder), tree.name, str(touchers)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    modules = [tree.module(f"mod_{n:03d}") for n in range(plugins)]
    over = {module: runs for module, runs in result["runs"].items() if runs != 1}
    assert over == {}, f"plugin module bodies ran more than once: {over}"
    assert sorted(result["runs"]) == modules
    every_key = [f"storm_{n:03d}" for n in range(plugins)]
    assert result["seen"] == {
        **{str(n): every_key for n in range(touchers)},
        "importer": every_key,
    }
