"""Many processes saving and loading one record at once: no torn reads, no exceptions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from platekit.cache import RegistryCacheManager

PROCESSES = 8
ROUNDS = 50

WORKER = textwrap.dedent(
    """
    import json, os, sys
    from platekit.cache import RegistryCacheManager

    worker = int(sys.argv[1])
    rounds = int(sys.argv[2])
    manager = RegistryCacheManager("shared", version="1")
    payload = [f"plugin-{worker}-{n}" for n in range(300)]
    hits = 0
    for round_ in range(rounds):
        manager.save({"worker": worker, "round": round_, "payload": payload})
        items = manager.load()
        if items is not None:
            hits += 1
            other = items["worker"]
            expected = [f"plugin-{other}-{n}" for n in range(300)]
            if items["payload"] != expected:
                sys.exit(f"torn record from worker {other}: {items!r:.200}")
        # The file on disk must parse at every moment, whoever wrote it last.
        with open(manager.path, encoding="utf-8") as fh:
            json.load(fh)
    print(hits)
    """
)


@pytest.mark.slow
def test_eight_processes_saving_and_loading_one_record(cache_root: Path) -> None:
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root))
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(n), str(ROUNDS)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    hits = 0
    failures = []
    for worker in workers:
        try:
            out, err = worker.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            worker.kill()
            out, err = worker.communicate()
            failures.append(f"timed out: {err}")
            continue
        if worker.returncode != 0:
            failures.append(err)
        else:
            hits += int(out)
    assert not failures, "\n".join(failures)
    # Loads mostly hit; none raised, none saw a torn record.
    assert hits > 0
    manager = RegistryCacheManager("shared", version="1")
    record = manager.load()
    assert record is not None
    assert len(record["payload"]) == 300
    leftovers = [p.name for p in manager.path.parent.iterdir() if p.name != "shared.json"]
    assert leftovers == []
    json.loads(manager.path.read_text())
