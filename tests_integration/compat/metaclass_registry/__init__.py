"""A ``metaclass_registry`` package answered by ``platekit.registry.compat``.

It exists so that metaclass-registry 0.4.1's own test suite can run against
platekit unchanged (``nox -s compat``): ``metaclass_registry`` and each of its
submodules *are* the modules of ``platekit.registry.compat``, so a test that
replaces a function in ``metaclass_registry.core`` replaces it where platekit
looks it up.
"""

import importlib
import sys

from platekit.registry import compat
from platekit.registry.compat import *  # noqa: F403
from platekit.registry.compat import __all__, __version__  # noqa: F401

SUBMODULES = ("cache", "caches", "core", "discovery", "exceptions", "strategies", "testing")

for _name in SUBMODULES:
    _module = importlib.import_module(f"{compat.__name__}.{_name}")
    sys.modules[f"{__name__}.{_name}"] = _module
    globals()[_name] = _module
