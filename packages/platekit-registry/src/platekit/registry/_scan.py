"""Importing other people's modules: the root logger kept, a package scanned for subclasses."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import ModuleType
    from typing import Any


def package_modules(paths: Iterable[str], prefix: str, recursive: bool) -> Iterator[str]:
    """The dotted names of a package's modules (and of its subpackages with
    ``recursive``), found on disk without importing any of them."""
    import os
    import pkgutil

    for info in pkgutil.iter_modules(list(paths), prefix):
        if info.name.rpartition(".")[2] == "__main__":
            continue
        yield info.name
        folder = getattr(info.module_finder, "path", None)
        if info.ispkg and recursive and folder is not None:
            sub = os.path.join(folder, info.name.rpartition(".")[2])
            yield from package_modules([sub], f"{info.name}.", recursive)


def import_module_preserving_root_logging(
    module_name: str, package: str | None = None
) -> ModuleType:
    """Import a module, and put the root logger back as it was before.

    Some packages configure logging when imported (``logging.basicConfig(...,
    force=True)``). Discovery imports other people's modules; the application
    keeps its root logger: its handlers, level, ``disabled`` flag and the
    ``logging.disable`` threshold are restored after the import, whether it
    succeeded or raised. ``package`` anchors a relative name, as in
    :func:`importlib.import_module`. Raises whatever the import raises.
    """
    before = _root_logging_state()
    try:
        if package is None and not module_name.startswith("."):
            __import__(module_name)
            return sys.modules[module_name]
        import importlib

        return importlib.import_module(module_name, package)
    finally:
        if "logging" in sys.modules:
            _restore_root_logging(before)


def _root_logging_state() -> tuple[list[Any], int, bool, int] | None:
    """The root logger's handlers, level, disabled flag and disable threshold, or
    None while ``logging`` is not loaded (and so not configured)."""
    logging = sys.modules.get("logging")
    if logging is None:
        return None
    root = logging.getLogger()
    return list(root.handlers), root.level, root.disabled, root.manager.disable


def _restore_root_logging(state: tuple[list[Any], int, bool, int] | None) -> None:
    import logging

    if state is None:
        # logging was loaded by the import itself: the root was unconfigured.
        state = ([], logging.WARNING, False, 0)
    handlers, level, disabled, threshold = state
    root = logging.getLogger()
    if root.handlers != handlers:
        root.handlers = handlers
    if root.level != level:
        root.setLevel(level)
    root.disabled = disabled
    if root.manager.disable != threshold:
        logging.disable(threshold)


def discover_registry_classes(
    package_path: Iterable[str],
    package_prefix: str,
    base_class: type,
    exclude_modules: set[str] | None = None,
    validation_func: Callable[[type], bool] | None = None,
    skip_packages: bool = True,
    module_filter: Callable[[str], bool] | None = None,
) -> list[type]:
    """Import the modules directly inside a package; return the subclasses of
    ``base_class`` that they define.

    ``package_path`` is the package's ``__path__`` and ``package_prefix`` its
    name with a trailing dot. A module is left out, and never imported, when
    any string of ``exclude_modules`` occurs in its dotted name, or when
    ``module_filter(name)`` is false; subpackages are left out unless
    ``skip_packages`` is false. A class counts when it is defined in the
    module itself, is not ``base_class``, and passes ``validation_func``.
    A module that fails to import raises its exception: exclude it to go on
    without it. (A registry's discovery, by contrast, contains such failures.)
    """
    import pkgutil

    found: list[type] = []
    for info in pkgutil.iter_modules(list(package_path), package_prefix):
        if (skip_packages and info.ispkg) or _left_out(info.name, exclude_modules, module_filter):
            continue
        _collect(
            import_module_preserving_root_logging(info.name), base_class, validation_func, found
        )
    return found


def discover_registry_classes_recursive(
    package_path: Iterable[str],
    package_prefix: str,
    base_class: type,
    exclude_modules: set[str] | None = None,
    validation_func: Callable[[type], bool] | None = None,
) -> list[type]:
    """:func:`discover_registry_classes` over the whole package tree: every
    subpackage (its ``__init__`` too) and every module below it.

    An excluded subpackage is not entered. Raises what a failing import raises.
    """
    found: list[type] = []
    for name in package_modules(package_path, package_prefix, True):
        if _left_out(name, exclude_modules, None):
            continue
        _collect(import_module_preserving_root_logging(name), base_class, validation_func, found)
    return found


def _left_out(
    name: str, exclude: set[str] | None, module_filter: Callable[[str], bool] | None
) -> bool:
    if exclude and any(part in name for part in exclude):
        return True
    return module_filter is not None and not module_filter(name)


def _collect(
    module: Any,
    base_class: type,
    validation_func: Callable[[type], bool] | None,
    found: list[type],
) -> None:
    for value in list(vars(module).values()):
        if (
            isinstance(value, type)
            and value is not base_class
            and issubclass(value, base_class)
            and value.__module__ == module.__name__
            and value not in found
            and (validation_func is None or validation_func(value))
        ):
            found.append(value)
