"""Discovery: importing a registry's plugin modules and entry points, and what failed.

A broken plugin module is contained: it is logged, recorded and left out. A
duplicate key raised by a module of the discovery package is not: two
first-party classes claiming one key is a packaging bug, and which of them
would win depends on import order, so it propagates. (A third-party entry
point that collides is contained like any broken plugin.)
"""

from __future__ import annotations

import sys

from platekit.registry import _sources
from platekit.registry._errors import DiscoveryError, DuplicateKeyError
from platekit.registry._failures import PluginError, warn_broken
from platekit.registry._scan import import_module_preserving_root_logging, package_modules

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import Any

    from platekit.registry._config import RegistryConfig


def import_plugins(
    config: RegistryConfig, root: type | None, errors: list[PluginError] | None
) -> tuple[dict[str, str], list[str]]:
    """Import every plugin module of a registry; return where each came from.

    The keys are module names (covering their submodules) and, for entry
    points naming a class, ``module:qualname``. Also returns the source files
    the entry points' packages loaded, so that editing an installed plugin
    (an editable install, say) makes the index stale.

    ``errors=None`` marks a helper pass by a second thread: failures are left
    to the discovering thread to record and log.
    """
    name = config.registry_name
    origins: dict[str, str] = {}
    package = config.discovery_package
    if config.discovery_function is not None:
        module = import_package(package, config) if package else None
        paths = list(getattr(module, "__path__", [])) if module else []
        config.discovery_function(paths, f"{package}." if package else "", root)
    elif package:
        origins[package] = f"package {package}"
        module = import_package(package, config)
        if hasattr(module, "__path__"):
            import_submodules(module, config, errors)
    loaded: list[str] = []
    broken: list[str | None] = []
    if config.entry_point_group:
        accept = getattr(config.registry_dict, "_accept_entry_point", None)
        for entry_point in _sources.entry_points(config.entry_point_group):
            if accept is not None and not accept(entry_point):
                continue
            # A class entry point names its class; the other classes its module
            # defines come with it, under the first entry point naming the module.
            origin = f"entry point {entry_point.name} ({entry_point.distribution})"
            origins.setdefault(entry_point.module, origin)
            if entry_point.attr:
                origins.setdefault(f"{entry_point.module}:{entry_point.attr}", origin)
            try:
                load_entry_point(entry_point)
                loaded.append(entry_point.module)
            except (Exception, SystemExit) as exc:
                if errors is not None:
                    error = PluginError.from_exception(
                        entry_point.module,
                        exc,
                        entry_point=entry_point.name,
                        distribution=entry_point.distribution,
                        # Only a module that failed to import is dropped: a
                        # missing attribute leaves its module's plugins alone.
                        keys=(
                            _forget(config, entry_point.module)
                            if entry_point.module not in sys.modules
                            else []
                        ),
                    )
                    errors.append(error)
                    warn_broken(name, error, exc)
                    # Watch the broken module's file too: fixing it must be noticed.
                    broken.append(_sources.module_file(entry_point.module))
    files = loaded_files(loaded)
    files.extend(path for path in broken if path is not None)
    return origins, files


def _forget(config: RegistryConfig, module: str) -> list[Any]:
    """Drop what a failed module registered before it failed; return the keys."""
    forget = getattr(config.registry_dict, "_forget_module", None)
    return forget(module) if forget is not None else []


class MissingImports:
    """Notes the top-level modules imported and not found while it is installed.

    It is the last finder on ``sys.meta_path``, so it is asked only about
    modules no other finder found, and it finds nothing itself: a plugin that
    failed, or left a class out, because an optional dependency is missing.
    Use it as a context manager around a discovery.
    """

    def __init__(self) -> None:
        self.names: set[str] = set()

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        # A missing submodule of an installed package comes and goes with that package,
        # and no distribution installs a standard-library module (``nt``, ``_winapi``).
        if "." in fullname or fullname in sys.stdlib_module_names:
            return
        if _importer(sys._getframe(1)) not in sys.stdlib_module_names:
            self.names.add(fullname)

    def __enter__(self) -> MissingImports:
        sys.meta_path.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass  # someone replaced sys.meta_path meanwhile


def _importer(frame: FrameType | None) -> str:
    """The top-level package of the module whose code asked for an import (the
    import system's own frames and ``importlib`` left out): the standard library
    probes for modules of other platforms (``org.python.core`` in ``copy``)."""
    while frame is not None:
        name = frame.f_globals.get("__name__") or ""
        if not (frame.f_code.co_filename.startswith("<frozen ") or name.startswith("importlib")):
            return str(name).partition(".")[0]
        frame = frame.f_back
    return ""


def still_importing(origins: dict[str, str]) -> list[str]:
    """Plugin modules whose import is still running (a plugin read its registry)."""
    prefixes = [prefix for prefix in origins if ":" not in prefix]
    found = []
    for name, module in list(sys.modules.items()):
        spec = getattr(module, "__spec__", None)
        if getattr(spec, "_initializing", False) and any(
            name == p or name.startswith(p + ".") for p in prefixes
        ):
            found.append(name)
    return found


def loaded_files(modules: list[str]) -> list[str]:
    """The files of every loaded module in the top-level packages of ``modules``."""
    tops = {module.partition(".")[0] for module in modules}
    files = []
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in tops:
            file = getattr(module, "__file__", None)
            if file:
                files.append(file)
    return sorted(set(files))


def inside_import() -> bool:
    """Whether this thread is executing the body of a module being imported."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>":
            module = sys.modules.get(frame.f_globals.get("__name__", ""))
            spec = getattr(module, "__spec__", None)
            if spec is not None and getattr(spec, "_initializing", False):
                return True
        frame = frame.f_back
    return False


def import_package(package: str, config: RegistryConfig) -> Any:
    """Import the discovery package (or module), through the registry's own importer."""
    importer = getattr(config.registry_dict, "_import_discovery_package", None)
    try:
        if importer is not None:
            importer(package)
        else:
            import_module_preserving_root_logging(package)
    except DuplicateKeyError:
        raise
    except (Exception, SystemExit) as exc:
        raise DiscoveryError(
            f"the {config.registry_name} registry cannot discover plugins: its discovery "
            f"package {package!r} failed to import ({type(exc).__name__}: {exc}); check "
            "RegistryConfig.discovery_package"
        ) from exc
    return sys.modules[package]


def import_submodules(
    package: Any, config: RegistryConfig, errors: list[PluginError] | None
) -> None:
    import pkgutil

    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if info.name.rpartition(".")[2] == "__main__":
            continue  # a package's command-line entry, never a plugin module
        if not import_plugin_module(info.name, config, errors):
            continue
        if info.ispkg and config.discovery_recursive:
            import_submodules(sys.modules[info.name], config, errors)


def import_plugin_module(
    module: str, config: RegistryConfig, errors: list[PluginError] | None
) -> bool:
    """Import one module of the discovery package; whether it imported.

    A failure is recorded in ``errors`` (when given) and logged; a duplicate
    key propagates (see the module docstring).
    """
    try:
        import_module_preserving_root_logging(module)
    except DuplicateKeyError:
        _forget(config, module)
        raise
    except (Exception, SystemExit) as exc:
        if errors is not None:
            error = PluginError.from_exception(module, exc, keys=_forget(config, module))
            errors.append(error)
            warn_broken(config.registry_name, error, exc)
        return False
    return True


def import_matching(config: RegistryConfig, predicate: Callable[[str], bool]) -> list[str]:
    """Import the plugin modules whose dotted names ``predicate`` accepts; return them.

    Modules of the discovery package are listed without importing them (only
    the package itself is imported); entry points are asked about by module.
    """
    if config.discovery_function is not None:
        raise ValueError(
            f"the {config.registry_name} registry imports through its discovery_function, "
            "which alone knows its modules: discover_matching cannot select among them"
        )
    imported: list[str] = []
    failed: list[PluginError] = []
    package = config.discovery_package
    if package:
        module = import_package(package, config)
        paths = getattr(module, "__path__", None)
        if paths is not None:
            for name in package_modules(paths, f"{package}.", config.discovery_recursive):
                if predicate(name) and import_plugin_module(name, config, failed):
                    imported.append(name)
    if config.entry_point_group:
        accept = getattr(config.registry_dict, "_accept_entry_point", None)
        for entry_point in _sources.entry_points(config.entry_point_group):
            if (accept is not None and not accept(entry_point)) or not predicate(
                entry_point.module
            ):
                continue
            try:
                load_entry_point(entry_point)
                imported.append(entry_point.module)
            except (Exception, SystemExit) as exc:
                error = PluginError.from_exception(
                    entry_point.module,
                    exc,
                    entry_point=entry_point.name,
                    distribution=entry_point.distribution,
                )
                failed.append(error)
                warn_broken(config.registry_name, error, exc)
    return imported


def load_entry_point(entry_point: _sources.EntryPoint) -> Any:
    import_module_preserving_root_logging(entry_point.module)
    target: Any = sys.modules[entry_point.module]
    if entry_point.attr:
        for part in entry_point.attr.split("."):
            target = getattr(target, part)
    return target
