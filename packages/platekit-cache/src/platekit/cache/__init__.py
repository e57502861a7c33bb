"""platekit-cache: versioned, validated, atomically written JSON caches.

Every name here but ``lazy_exports`` and ``__version__`` is loaded on first
use, so ``import platekit.cache`` costs next to nothing: a warm plugin
registry starts without paying for enum, logging, pathlib or platformdirs.
"""

import sys

#: The version of platekit-cache: written only here, where hatchling reads it.
__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from platekit.cache._colormaps import BUILTIN_COLORMAPS, ColormapBase, create_colormap_enum
    from platekit.cache._enums import cached_enum
    from platekit.cache._info import RecordInfo, cache_info, clear_cache
    from platekit.cache._installed import installed_distribution
    from platekit.cache._paths import cache_dir, environment_dir
    from platekit.cache._record import CacheLookup, RegistryCacheManager


# Defined here, not in a module of its own: every platekit package's
# ``__init__`` uses it, and each module more is one more import for every start.
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


__all__ = [
    "BUILTIN_COLORMAPS",
    "CacheLookup",
    "ColormapBase",
    "RecordInfo",
    "RegistryCacheManager",
    "__version__",
    "cache_dir",
    "cache_info",
    "cached_enum",
    "clear_cache",
    "create_colormap_enum",
    "environment_dir",
    "installed_distribution",
    "lazy_exports",
]

# Public name -> private module that defines it.
_HOMES = {
    "BUILTIN_COLORMAPS": "_colormaps",
    "CacheLookup": "_record",
    "ColormapBase": "_colormaps",
    "RecordInfo": "_info",
    "RegistryCacheManager": "_record",
    "cache_dir": "_paths",
    "cache_info": "_info",
    "cached_enum": "_enums",
    "clear_cache": "_info",
    "create_colormap_enum": "_colormaps",
    "environment_dir": "_paths",
    "installed_distribution": "_installed",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
