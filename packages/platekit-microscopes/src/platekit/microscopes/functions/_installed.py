"""Module files, found without importing them.

A warm listing must be validated without importing the library (scikit-image
takes about a second), so module files come from ``importlib.util.find_spec``
of names whose parent package is already imported; distribution versions come
from :func:`platekit.cache.installed_distribution`.
"""

from __future__ import annotations

import sys


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
