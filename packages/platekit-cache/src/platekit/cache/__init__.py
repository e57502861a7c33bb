"""platekit-cache: versioned, validated, atomically written JSON caches.

Every name here is loaded on first use, so ``import platekit.cache`` costs
next to nothing: a warm plugin registry starts without paying for enum,
logging, pathlib or platformdirs.
"""

from platekit.cache._exports import lazy_exports

#: The version of platekit-cache: written only here, where hatchling reads it.
__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.cache._colormaps import BUILTIN_COLORMAPS, ColormapBase, create_colormap_enum
    from platekit.cache._enums import cached_enum
    from platekit.cache._info import RecordInfo, cache_info, clear_cache
    from platekit.cache._paths import cache_dir, environment_dir
    from platekit.cache._record import CacheLookup, RegistryCacheManager

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
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
