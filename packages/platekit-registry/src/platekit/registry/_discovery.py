"""Discovery: importing a registry's plugin modules and entry points, and what failed."""

from __future__ import annotations

import sys

from platekit.registry import _sources
from platekit.registry._errors import DiscoveryError
from platekit.registry._failures import PluginError, warn_broken

TYPE_CHECKING = False
if TYPE_CHECKING:
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
        module = import_package(package, name) if package else None
        paths = list(getattr(module, "__path__", [])) if module else []
        config.discovery_function(paths, f"{package}." if package else "", root)
    elif package:
        origins[package] = f"package {package}"
        module = import_package(package, name)
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


def import_package(package: str, registry_name: str) -> Any:
    try:
        __import__(package)
    except (Exception, SystemExit) as exc:
        raise DiscoveryError(
            f"the {registry_name} registry cannot discover plugins: its discovery package "
            f"{package!r} failed to import ({type(exc).__name__}: {exc}); check "
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
        try:
            __import__(info.name)
        except (Exception, SystemExit) as exc:
            if errors is not None:
                error = PluginError.from_exception(info.name, exc, keys=_forget(config, info.name))
                errors.append(error)
                warn_broken(config.registry_name, error, exc)
            continue
        if info.ispkg and config.discovery_recursive:
            import_submodules(sys.modules[info.name], config, errors)


def load_entry_point(entry_point: _sources.EntryPoint) -> Any:
    __import__(entry_point.module)
    target: Any = sys.modules[entry_point.module]
    if entry_point.attr:
        for part in entry_point.attr.split("."):
            target = getattr(target, part)
    return target
