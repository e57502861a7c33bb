"""Public names that load on first use (PEP 562), for platekit's packages."""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def lazy_exports(
    package: str, homes: dict[str, str], names: "Iterable[str]"
) -> "tuple[Callable[[str], object], Callable[[], list[str]]]":
    """A module ``__getattr__`` and ``__dir__`` that import each name from its home on first use.

    ``homes`` maps each public name to the submodule (relative to
    ``package``) that defines it; ``names`` is the package's ``__all__``.
    In the package's ``__init__.py``::

        __getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)

    so ``import package`` costs almost nothing and ``from package import X``
    imports only X's module.
    """
    public = sorted(names)

    def __getattr__(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = f"{package}.{home}"
        __import__(module)
        value = getattr(sys.modules[module], name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return __getattr__, __dir__
