"""Plugin packages for the registry benchmark, written as source files into a folder.

A package ``NAME`` holds a root module ``NAME.registry`` that declares one
registry with the chosen library, and ``NAME.plugins`` with one module per
plugin. Each plugin module burns a fixed amount of CPU while it is imported
(as real plugins do when they import numpy or build tables), then defines one
class registered under its own key.

The root module's declaration is the same text for both libraries; only the
``from ... import`` line differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The libraries compared, by the module their declarations import from.
LIBRARY_MODULES = {
    "platekit": "platekit.registry",
    "peer": "metaclass_registry",
}

ROOT_CLASS = "BenchPlugin"

_INIT = '''"""Generated benchmark plugin package: {modules} plugins of {cost_ms:g} ms each."""

__version__ = "1.0.0"
'''

_ROOT = '''"""The benchmark registry, declared with {library_module}."""

from {library_module} import AutoRegisterMeta, LazyDiscoveryDict, RegistryConfig


class {root}(metaclass=AutoRegisterMeta):
    __registry_config__ = RegistryConfig(
        registry_dict=LazyDiscoveryDict(enable_cache=True),
        key_attribute="_plugin_key",
        skip_if_no_key=True,
        registry_name="bench plugin",
        discovery_package="{package}.plugins",
    )
'''

_PLUGINS_INIT = '"""The benchmark plugins: every module here defines one."""\n'

_PLUGIN_HEADER = '''"""Benchmark plugin {index}: importing it costs {cost_ms:g} ms of CPU."""

import time

from {package}.registry import {root}
'''

# Busy-wait on CPU time, not wall time: the cost stays the same when the
# machine is shared, only the wall clock stretches.
_BURN = """
_until = time.process_time() + {cost_s!r}
while time.process_time() < _until:
    pass
"""

_PLUGIN_CLASS = """

class {class_name}({root}):
    _plugin_key = "{key}"
"""


def plugin_key(index: int) -> str:
    """The registry key of plugin number ``index``."""
    return f"plugin_{index:04d}"


@dataclass(frozen=True)
class PluginPackage:
    """A generated package: its import name, the library it uses and its size."""

    name: str
    library: str
    modules: int
    cost_ms: float

    @property
    def root_module(self) -> str:
        return f"{self.name}.registry"

    @property
    def plugins_prefix(self) -> str:
        """Every plugin module's name starts with this."""
        return f"{self.name}.plugins."

    @property
    def sample_key(self) -> str:
        """The key that ``registry[key]`` runs ask for: a plugin in the middle."""
        return plugin_key(self.modules // 2)


def package_name(library: str, modules: int, cost_ms: float) -> str:
    """A distinct import name per library and size, so no two share bytecode or caches."""
    cost = f"{cost_ms:g}".replace(".", "p")
    return f"bench_{library}_n{modules}_c{cost}"


def write_package(folder: Path, library: str, modules: int, cost_ms: float) -> PluginPackage:
    """Write one plugin package into ``folder`` (which goes on ``sys.path``)."""
    if library not in LIBRARY_MODULES:
        raise ValueError(f"library must be one of {sorted(LIBRARY_MODULES)}, got {library!r}")
    if modules < 1 or cost_ms < 0:
        raise ValueError(f"need at least one module and a cost >= 0, got {modules}, {cost_ms}")
    package = PluginPackage(package_name(library, modules, cost_ms), library, modules, cost_ms)
    top = folder / package.name
    plugins = top / "plugins"
    plugins.mkdir(parents=True)
    (top / "__init__.py").write_text(_INIT.format(modules=modules, cost_ms=cost_ms))
    (top / "registry.py").write_text(
        _ROOT.format(library_module=LIBRARY_MODULES[library], root=ROOT_CLASS, package=package.name)
    )
    (plugins / "__init__.py").write_text(_PLUGINS_INIT)
    for index in range(modules):
        (plugins / f"plugin_{index:04d}.py").write_text(plugin_source(package.name, index, cost_ms))
    return package


def plugin_source(package: str, index: int, cost_ms: float) -> str:
    """The source of one plugin module."""
    text = _PLUGIN_HEADER.format(index=index, cost_ms=cost_ms, package=package, root=ROOT_CLASS)
    if cost_ms > 0:
        text += _BURN.format(cost_s=cost_ms / 1000)
    text += _PLUGIN_CLASS.format(
        class_name=f"Plugin{index:04d}", root=ROOT_CLASS, key=plugin_key(index)
    )
    return text
