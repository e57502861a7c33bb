"""Which version of a distribution is installed, read from ``sys.path`` without importing it.

Cheaper by far than ``importlib.metadata``, and enough to key a cache: the
version comes from the ``<name>-<version>.dist-info`` (or ``.egg-info``)
folder name, the first one along ``sys.path`` winning, as it does for imports.
"""

from __future__ import annotations

import os
import re
import sys


def installed_distribution(name: str) -> tuple[str, str] | None:
    """``(version, metadata file)`` of the installed distribution ``name``, or ``None``.

    ``name`` is matched as PEP 503 normalizes it (``Some.Lib`` is
    ``some_lib``). The metadata file (``METADATA``, or ``PKG-INFO`` for an
    egg) is where an install or upgrade writes, so a cache can stamp it;
    the version is ``"unknown"`` for a folder name without one.
    """
    wanted = _normalize(name)
    seen: set[str] = set()
    for entry in sys.path:
        folder = os.path.abspath(entry or ".")
        if folder in seen:
            continue
        seen.add(folder)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for item in names:
            stem, dot, suffix = item.rpartition(".")
            if not dot or suffix not in ("dist-info", "egg-info"):
                continue
            dist, _, version = stem.partition("-")
            if _normalize(dist) == wanted:
                metadata = "METADATA" if suffix == "dist-info" else "PKG-INFO"
                return version or "unknown", os.path.join(folder, item, metadata)
    return None


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()
