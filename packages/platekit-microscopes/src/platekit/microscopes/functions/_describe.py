"""Describing functions: the records a library's listing is made of (the cold path only)."""

from __future__ import annotations

import inspect
import logging

from platekit.microscopes.functions import FunctionInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_log = logging.getLogger("platekit.microscopes.functions")


class _Text(str):
    """An annotation kept as text: shown as written, without the quotes ``repr`` adds."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def signature_text(function: Callable[..., Any]) -> str:
    """The signature as text: ``"(image: np.ndarray, factor: int = 2) -> np.ndarray"``.

    Annotations are shown as written in the source, also under
    ``from __future__ import annotations``; ``"(...)"`` when Python cannot
    tell the signature (some built-in functions).
    """
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return "(...)"

    def plain(annotation: object) -> object:
        return _Text(annotation) if isinstance(annotation, str) else annotation

    parameters = [
        parameter.replace(annotation=plain(parameter.annotation))
        for parameter in signature.parameters.values()
    ]
    return str(
        signature.replace(
            parameters=parameters, return_annotation=plain(signature.return_annotation)
        )
    )


def doc_line(function: object) -> str:
    """The first line of the docstring that has text, stripped; ``""`` without a docstring."""
    doc = inspect.getdoc(function) or ""
    for line in doc.splitlines():
        if line.strip():
            return line.strip()
    return ""


def describe(
    function: Callable[..., Any], name: str, module: str, qualname: str, tags: tuple[str, ...]
) -> FunctionInfo:
    """The record of ``function``, found as ``module:qualname`` and listed as ``name``."""
    return FunctionInfo(name, module, qualname, signature_text(function), doc_line(function), tags)


def _public_functions(module: Any) -> list[tuple[str, Any]]:
    """``(name, function)`` for the module's public functions.

    The names in ``__all__`` when it has one; otherwise the attributes not
    starting with ``_`` whose function belongs to the module's own top-level
    package (so ``from math import floor`` in a library module is no
    function of the library).
    """
    names = getattr(module, "__all__", None)
    own = None
    if names is None:
        names = sorted(name for name in dir(module) if not name.startswith("_"))
        own = module.__name__.partition(".")[0]
    found = []
    for name in names:
        try:
            value = getattr(module, str(name))
        except AttributeError:
            continue  # listed in __all__ but not provided: nothing to describe
        if not (inspect.isfunction(value) or inspect.isbuiltin(value)):
            continue  # classes and modules are not functions
        home = getattr(value, "__module__", None) or ""
        if own is not None and home.partition(".")[0] != own:
            continue
        found.append((str(name), value))
    return found


def walk_modules(
    modules: tuple[str, ...],
    name_for: Callable[[str, str], str],
    tags_for: Callable[[str, str], tuple[str, ...]],
    library: str,
) -> list[FunctionInfo]:
    """The public functions of each module, described; modules that fail to import are skipped.

    A name met twice keeps its first description.
    """
    import importlib

    found: dict[str, FunctionInfo] = {}
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            _log.warning(
                "the %s function library leaves out %s: it failed to import (%s: %s)",
                library,
                module_name,
                type(exc).__name__,
                exc,
            )
            continue
        for attribute, value in _public_functions(module):
            name = name_for(module_name, attribute)
            if name not in found:
                tags = tags_for(module_name, attribute)
                found[name] = describe(value, name, module_name, attribute, tags)
    return list(found.values())
