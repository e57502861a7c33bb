"""Whether the modules a benchmark's processes import have their bytecode compiled.

pip compiles bytecode as it installs; uv does only when told
(``UV_COMPILE_BYTECODE=1``, which the noxfile sets). A process that may not
write bytecode (``PYTHONDONTWRITEBYTECODE``) compiles every module it imports
that has none, each time it starts: a Dask worker then takes 1 s to import
distributed instead of 0.4 s, which a benchmark would time as the executor's
start.
"""

from __future__ import annotations

import importlib.util
import os


def uncompiled(modules: tuple[str, ...]) -> list[str]:
    """The installed ``modules`` whose source has no compiled bytecode beside it."""
    missing = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        if not os.path.exists(importlib.util.cache_from_source(spec.origin)):
            missing.append(name)
    return missing


def bytecode_note(modules: tuple[str, ...]) -> str:
    """'' when every one of ``modules`` is compiled; else a sentence naming those that are not."""
    missing = uncompiled(modules)
    if not missing:
        return ""
    return (
        f"no compiled bytecode for {', '.join(missing)}: each process started compiles them as "
        "it imports them, which is timed as its start (install with pip, or with uv and "
        "UV_COMPILE_BYTECODE=1)"
    )
