"""A ``polystore`` package answered by ``platekit.storage.compat``.

It exists so that polystore 0.6.3's own test suite can run against platekit
unchanged (``nox -s compat``): ``polystore.X`` *is* the module
``platekit.storage.compat.X``, imported when first asked for, as polystore
imports its own, so a test that replaces a function in ``polystore.atomic``
replaces it where platekit looks it up. A module platekit does not offer
(``polystore.roi``, ``polystore.omero_local``, ...) is not found here;
run_suite.py puts a stand-in in its place for those its differences list
names (``stand-in`` lines).
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys

from platekit.storage.compat import __all__, __dir__, __getattr__, __version__  # noqa: F401

_TARGET = "platekit.storage.compat"


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``polystore.X`` as the already importable ``platekit.storage.compat.X``."""

    def __init__(self) -> None:
        self._specs = {}

    def find_spec(self, fullname, path=None, target=None):
        package, _, rest = fullname.partition(".")
        if package != __name__ or not rest:
            return None
        if importlib.util.find_spec(f"{_TARGET}.{rest}") is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(f"{_TARGET}.{spec.name.partition('.')[2]}")
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):
        # Already run as platekit's module: give it back the spec the import system replaced.
        module.__spec__ = self._specs.pop(module.__spec__.name)


sys.meta_path.insert(0, _Alias())
