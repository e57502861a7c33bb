"""platekit-cache: versioned, validated, atomically written JSON caches.

Every name here is loaded on first use, so ``import platekit.cache`` costs
next to nothing: a warm plugin registry starts without paying for enum,
logging, pathlib or platformdirs.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.cache._colormaps import BUILTIN_COLORMAPS, ColormapBase, create_colormap_enum
    from platekit.cache._enums import cached_enum
    from platekit.cache._info import RecordInfo, cache_info, clear_cache
    from platekit.cache._paths import cache_dir, environment_dir
    from platekit.cache._record import CacheLookup, RegistryCacheManager
    from platekit.cache._version import __version__

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
    "__version__": "_version",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'platekit.cache' has no attribute {name!r}")
    import sys

    # __import__ rather than importlib.import_module: importlib is not loaded yet
    # at interpreter start, and this runs on every warm registry start.
    module = f"platekit.cache.{home}"
    __import__(module)
    value = getattr(sys.modules[module], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
