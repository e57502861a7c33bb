"""The colormap enum: every colormap the installed viewer offers, cached for 30 days."""

from __future__ import annotations

import re
import sys
from enum import Enum

from platekit.cache import __version__, _log
from platekit.cache._enums import cached_enum
from platekit.cache._installed import installed_distribution

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: Used when neither napari nor matplotlib is installed.
BUILTIN_COLORMAPS = (
    "gray",
    "viridis",
    "magma",
    "inferno",
    "plasma",
    "cividis",
    "red",
    "green",
    "blue",
    "cyan",
    "magenta",
    "yellow",
)

COLORMAP_MAX_AGE_DAYS = 30


class ColormapBase(Enum):
    """Methods every colormap enum has; each member's value is the library's name for it."""

    @classmethod
    def from_name(cls, name: str) -> ColormapBase:
        """The member for a colormap name as the library spells it or as a member name.

        Raises ``ValueError`` naming the closest colormaps when there is none.
        """
        for member in cls:
            if name in (member.value, member.name) or member.name == member_name(name):
                return member
        import difflib

        close = difflib.get_close_matches(name, [m.value for m in cls], n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"no colormap named {name!r} among {len(cls)}{hint}")


def member_name(colormap: str) -> str:
    """``'PiYG_r'`` → ``'PIYG_R'``: upper case, ``_`` for anything not a letter
    or digit, and ``_`` before a leading digit."""
    name = re.sub(r"[^0-9A-Za-z]", "_", colormap).upper()
    if name[:1].isdigit():
        name = "_" + name
    return name


def _members(names: list[str]) -> dict[str, str]:
    members: dict[str, str] = {}
    for colormap in names:
        name = member_name(str(colormap))
        # First spelling wins ("Gray" and "gray" meet at GRAY); names an enum
        # reserves for itself are left out.
        if name and name not in members and not (name.startswith("_") and name.endswith("_")):
            members[name] = str(colormap)
    return members


def _from_napari() -> dict[str, str]:
    from napari.utils.colormaps import AVAILABLE_COLORMAPS

    return _members(list(AVAILABLE_COLORMAPS))


def _from_matplotlib() -> dict[str, str]:
    import matplotlib

    return _members(list(matplotlib.colormaps))


def _builtin() -> dict[str, str]:
    return _members(list(BUILTIN_COLORMAPS))


_SOURCES: tuple[tuple[str, Callable[[], dict[str, str]]], ...] = (
    ("napari", _from_napari),
    ("matplotlib", _from_matplotlib),
)


def installed_version(distribution: str) -> str | None:
    """The version of an installed distribution, ``None`` when it is not installed.

    Read from its ``.dist-info`` folder name on ``sys.path``
    (:func:`platekit.cache.installed_distribution`), without importing it.
    """
    found = installed_distribution(distribution)
    return None if found is None else found[0]


def create_colormap_enum(
    *, enable_cache: bool = True, lazy: bool = False, name: str = "Colormap"
) -> type[ColormapBase]:
    """An enum of the available colormaps: napari's when napari is installed,
    else matplotlib's, else :data:`BUILTIN_COLORMAPS`.

    Member names are the colormap names upper-cased with ``_`` for every other
    character (``_`` goes before a leading digit); values are the names as the
    library spells them. The members are cached for 30 days, keyed by the
    library and its version, so a warm call imports neither napari nor
    matplotlib. ``lazy=True`` returns a stand-in that builds the enum, without
    the cache, the first time it is used. The enum pickles when assigned to a
    module-level variable called ``name``.
    """
    module = sys._getframe(1).f_globals.get("__name__", "__main__")
    if lazy:
        return _LazyColormaps(lambda: _build(name, module, enable_cache=False))  # type: ignore[return-value]
    return _build(name, module, enable_cache=enable_cache)


def _build(name: str, module: str, *, enable_cache: bool) -> type[ColormapBase]:
    for library, producer in _SOURCES:
        library_version = installed_version(library)
        if library_version is None:
            continue
        try:
            return cached_enum(
                name,
                producer,
                version=f"{__version__}+{library}-{library_version}",
                max_age_days=COLORMAP_MAX_AGE_DAYS,
                base=ColormapBase,
                module=module,
                enable_cache=enable_cache,
            )
        except Exception:
            _log.log(
                _log.WARNING,
                "%s is installed but its colormaps could not be read; trying the next source",
                library,
                exc_info=True,
            )
    return cached_enum(
        name,
        _builtin,
        version=f"{__version__}+builtin",
        max_age_days=COLORMAP_MAX_AGE_DAYS,
        base=ColormapBase,
        module=module,
        enable_cache=enable_cache,
    )


class _LazyColormaps:
    """Builds the colormap enum the first time anything is asked of it."""

    def __init__(self, build: Callable[[], type[ColormapBase]]) -> None:
        self._build: Callable[[], type[ColormapBase]] | None = build
        self._enum: type[ColormapBase] | None = None

    def _resolve(self) -> type[ColormapBase]:
        if self._enum is None:
            assert self._build is not None
            # Two threads racing here build two equal enums; the first stored wins.
            made = self._build()
            if self._enum is None:
                self._enum = made
                self._build = None
        return self._enum

    def __getattr__(self, attr: str) -> object:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self._resolve(), attr)

    def __iter__(self) -> Iterator[ColormapBase]:
        return iter(self._resolve())

    def __len__(self) -> int:
        return len(self._resolve())

    def __contains__(self, item: object) -> bool:
        return item in self._resolve().__members__.values()

    def __getitem__(self, key: str) -> ColormapBase:
        return self._resolve()[key]

    def __call__(self, value: str) -> ColormapBase:
        return self._resolve()(value)

    def __dir__(self) -> list[str]:
        return dir(self._resolve())

    def __repr__(self) -> str:
        if self._enum is None:
            return "<colormap enum, built on first use>"
        return repr(self._enum)
