"""What is installed, found without importing it: distribution versions and module files.

A warm listing must be validated without importing the library (scikit-image
takes about a second) or ``importlib.metadata``, so versions are read from
``.dist-info`` folder names and module files from ``importlib.util.find_spec``
of names whose parent package is already imported.
"""

from __future__ import annotations

import os
import sys


def _normalize(name: str) -> str:
    """PEP 503 normalization, spelled with ``_`` as ``.dist-info`` folder names are."""
    name = name.lower().replace("-", "_").replace(".", "_")
    while "__" in name:
        name = name.replace("__", "_")
    return name


def distribution(name: str) -> tuple[str, str] | None:
    """``(version, path of its METADATA)`` of the installed distribution ``name``, or ``None``.

    The first ``<name>-<version>.dist-info`` folder along ``sys.path`` wins, as
    it does for imports.
    """
    wanted = _normalize(name)
    seen: set[str] = set()
    for entry in sys.path:
        folder = os.path.abspath(entry or ".")
        if folder in seen:
            continue
        seen.add(folder)
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for item in sorted(names):
            if not item.endswith(".dist-info"):
                continue
            dist, _, version = item[: -len(".dist-info")].partition("-")
            if _normalize(dist) == wanted and version:
                return version, os.path.join(folder, item, "METADATA")
    return None


def source_file(module: str) -> str | None:
    """The source file of ``module``, found without importing anything, or ``None``.

    ``None`` also for a module whose parent package is not imported yet
    (finding ``skimage.filters`` would import ``skimage``) and for a package
    without a file (a namespace package): the same answer whether or not the
    module itself has been imported since.
    """
    parent = module.rpartition(".")[0]
    if parent and parent not in sys.modules:
        return None
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None) if loaded is not None else None
    if origin is None and loaded is None:
        import importlib.util

        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        origin = spec.origin if spec is not None and spec.has_location else None
    return str(origin) if origin else None


def source_files(modules: list[str]) -> list[str]:
    """:func:`source_file` of each module, without repeats or ``None``."""
    files: list[str] = []
    for module in modules:
        origin = source_file(module)
        if origin is not None and origin not in files:
            files.append(origin)
    return files
