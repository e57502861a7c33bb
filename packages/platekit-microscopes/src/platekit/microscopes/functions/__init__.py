"""Function libraries: image-processing functions, listed without importing their library.

A :class:`FunctionLibrary` is one library of functions (platekit's own,
scikit-image's), registered under ``_library_name`` in
:data:`FUNCTION_LIBRARIES`. It lists its functions as :class:`FunctionInfo`
records (name, module, qualified name, signature text, the first line of the
docstring, tags) and keeps that listing in the platekit cache, keyed by the
library's name and its version: the first process imports the library to
list it, the next ones read the listing back without importing the library,
and :meth:`FunctionLibrary.get` imports only when a function is asked for.

The built-in libraries are the modules of this package; third-party ones join
through the ``platekit.function_libraries`` entry-point group::

    from platekit.microscopes.functions import function_library

    library = function_library("platekit")
    library.names()                   # from the cache after the first run
    library.info("downsample_mean").signature
    downsample = library.get("downsample_mean")   # imports the function's module
"""

from __future__ import annotations

from platekit.registry import AutoRegisterMeta, LazyDiscoveryDict, RegistryConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

__all__ = ["FUNCTION_LIBRARIES", "FunctionInfo", "FunctionLibrary", "function_library"]

#: Every function library class, by ``_library_name``.
FUNCTION_LIBRARIES = LazyDiscoveryDict()

# What to install for a library that is absent because its package is.
_INSTALL_HINTS = {"skimage": "pip install scikit-image"}


class FunctionInfo:
    """What a library says about one of its functions, readable without importing it.

    ``name`` is the function's name in its library (``"downsample_mean"``,
    ``"filters.gaussian"``), ``module`` and ``qualname`` say where
    :meth:`FunctionLibrary.get` finds it, ``signature`` is its signature as
    text (``"(image, factor=2)"``), ``doc`` the first line of its docstring
    (``""`` without one) and ``tags`` words to group functions by.
    """

    __slots__ = ("doc", "module", "name", "qualname", "signature", "tags")

    def __init__(
        self,
        name: str,
        module: str,
        qualname: str,
        signature: str,
        doc: str = "",
        tags: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.module = module
        self.qualname = qualname
        self.signature = signature
        self.doc = doc
        self.tags = tuple(tags)

    def as_record(self) -> dict[str, Any]:
        """The JSON-safe record stored in the cache: the six fields, ``tags`` as a list."""
        return {
            "name": self.name,
            "module": self.module,
            "qualname": self.qualname,
            "signature": self.signature,
            "doc": self.doc,
            "tags": list(self.tags),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> FunctionInfo:
        """The inverse of :meth:`as_record`; raises ``KeyError``/``TypeError`` for a bad record."""
        fields = [record[field] for field in ("name", "module", "qualname", "signature", "doc")]
        tags = record["tags"]
        if not all(isinstance(field, str) for field in fields) or not (
            isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)
        ):
            raise TypeError(f"not a function record: {record!r:.200}")
        name, module, qualname, signature, doc = fields
        return cls(name, module, qualname, signature, doc, tags)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FunctionInfo):
            return NotImplemented
        return self.as_record() == other.as_record()

    def __hash__(self) -> int:
        return hash((self.name, self.module, self.qualname, self.signature))

    def __repr__(self) -> str:
        return f"<FunctionInfo {self.name}{self.signature}>"


class FunctionLibrary(metaclass=AutoRegisterMeta):
    """One library of image-processing functions. Subclasses register under ``_library_name``.

    A subclass sets ``_library_name``, ``display_name``, ``distribution``
    (the installed distribution whose version keys the cached listing) and
    ``modules`` (the modules whose public functions make the library). The
    default :meth:`discover` imports those modules and describes every
    public function in them; a subclass narrows it through
    :meth:`function_name` and :meth:`tags_for`. A library module must not
    import its library at module level: discovery imports every library
    module, and a warm start imports only the one asked for.
    """

    __registry_config__ = RegistryConfig(
        registry_dict=FUNCTION_LIBRARIES,
        key_attribute="_library_name",
        skip_if_no_key=True,
        registry_name="function library",
        discovery_package="platekit.microscopes.functions",
        entry_point_group="platekit.function_libraries",
        metadata_attributes=("display_name", "distribution"),
    )

    #: The library's name in :data:`FUNCTION_LIBRARIES` and in the cache.
    _library_name: str | None = None
    #: The library, for people.
    display_name: str = ""
    #: The distribution whose installed version keys the cached listing ("scikit-image").
    distribution: str | None = None
    #: The modules whose public functions make the library, in the order listed.
    modules: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._functions: dict[str, FunctionInfo] | None = None
        #: How the last listing was obtained: ``"hit"``, ``"miss: <why>"`` or ``"cold"``.
        self.cache_state = "cold"

    @property
    def name(self) -> str:
        """The library's name (its ``_library_name``)."""
        return self._library_name or type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- what keys the cache -------------------------------------------------------

    def version(self) -> str:
        """The installed version of :attr:`distribution`, ``"unknown"`` when none is installed.

        Read from the distribution's ``.dist-info`` folder name on ``sys.path``,
        without importing the library or ``importlib.metadata``.
        """
        from platekit.cache import installed_distribution

        if self.distribution is None:
            return "unknown"
        found = installed_distribution(self.distribution)
        return found[0] if found is not None else "unknown"

    def stamp_files(self) -> list[str]:
        """Files whose edits make the cached listing stale, found without importing the library.

        By default: the module defining this class, the top-level package of
        each of :attr:`modules` (its ``__init__.py``) and the distribution's
        ``METADATA``. The list must not depend on what is imported: it is
        taken before a cold listing imports the library and again after.
        """
        from platekit.microscopes.functions import _installed

        tops = [module.partition(".")[0] for module in self.modules]
        files = _installed.source_files([type(self).__module__, *tops])
        if self.distribution is not None:
            from platekit.cache import installed_distribution

            found = installed_distribution(self.distribution)
            if found is not None:
                files.append(found[1])
        return files

    # -- listing -------------------------------------------------------------------

    def discover(self) -> list[FunctionInfo]:
        """Import the library and describe its functions: the cold path, run once per version.

        Walks each of :attr:`modules`: the names in its ``__all__`` (or, without
        one, its attributes not starting with ``_`` defined in its own
        top-level package) that are functions or built-in functions, not
        classes or modules. Each is named by :meth:`function_name` and tagged
        by :meth:`tags_for`. A module that cannot be imported is left out,
        with a WARNING on the ``platekit.microscopes.functions`` logger.
        """
        from platekit.microscopes.functions._describe import walk_modules

        return walk_modules(self.modules, self.function_name, self.tags_for, self.name)

    def function_name(self, module: str, attribute: str) -> str:
        """The name in this library of ``module.attribute``; by default ``attribute``."""
        return attribute

    def tags_for(self, module: str, attribute: str) -> tuple[str, ...]:
        """The tags of ``module.attribute``; by default none."""
        return ()

    def functions(self) -> list[FunctionInfo]:
        """Every function of the library, from the cache when it is valid, else by :meth:`discover`.

        The listing is kept in memory for the life of this object and in the
        platekit cache for the next process; it is discovered again when the
        library's version, the modules stamped by :meth:`stamp_files`, or
        platekit-microscopes change, or after 7 days.
        """
        return list(self._listing().values())

    def names(self) -> list[str]:
        """The names of the library's functions, in the order listed."""
        return list(self._listing())

    def info(self, name: str) -> FunctionInfo:
        """What the library says about function ``name``; ``KeyError`` listing close names."""
        listing = self._listing()
        found = listing.get(name)
        if found is None:
            raise KeyError(self._unknown(name, listing))
        return found

    def get(self, name: str) -> Callable[..., Any]:
        """The function ``name`` itself: imports its module (and so the library).

        Raises ``KeyError`` for a name the library does not list, and
        ``ImportError``/``AttributeError`` naming the function when the
        listed module no longer provides it (run :meth:`refresh`).
        """
        import importlib

        found = self.info(name)
        try:
            target: Any = importlib.import_module(found.module)
        except ImportError as exc:
            raise ImportError(
                f"the {self.name} function {name!r} lives in {found.module}, which failed to "
                f"import ({exc}); check that the library is installed"
            ) from exc
        for part in found.qualname.split("."):
            try:
                target = getattr(target, part)
            except AttributeError:
                raise AttributeError(
                    f"the {self.name} function {name!r} is listed at "
                    f"{found.module}:{found.qualname}, which no longer exists; "
                    "call refresh() on the library (or run 'platekit cache clear')"
                ) from None
        if not callable(target):
            raise TypeError(f"{found.module}:{found.qualname} is not callable")
        return target  # type: ignore[no-any-return]

    def refresh(self) -> list[FunctionInfo]:
        """Discover the functions again, ignoring the cache, and store the new listing."""
        from platekit.microscopes.functions import _listing

        self._functions = _listing.index(self.discover())
        _listing.store(self, self._functions)
        self.cache_state = "miss: refresh() asked for a new discovery"
        return list(self._functions.values())

    def _listing(self) -> dict[str, FunctionInfo]:
        if self._functions is None:
            from platekit.microscopes.functions import _listing

            self._functions, self.cache_state = _listing.load_or_discover(self)
        return self._functions

    def _unknown(self, name: str, listing: dict[str, FunctionInfo]) -> str:
        import difflib

        text = f"the {self.name} library has no function {name!r}."
        close = difflib.get_close_matches(name, list(listing), n=3)
        if close:
            text += f" Did you mean {', '.join(map(repr, close))}?"
        return text + f" It lists {len(listing)}: see names()."


_instances: dict[str, FunctionLibrary] = {}


def function_library(name: str) -> FunctionLibrary:
    """The function library registered as ``name``, made once per process.

    Raises ``KeyError`` naming the known libraries, and what to install
    when ``name`` is a library whose package is absent (``"skimage"``).
    """
    found = _instances.get(name)
    if found is not None:
        return found
    try:
        cls = FUNCTION_LIBRARIES[name]
    except KeyError as exc:
        hint = _INSTALL_HINTS.get(name)
        if hint is None:
            raise
        raise KeyError(f"{exc.args[0]} The {name} library needs its package: {hint}") from None
    return _instances.setdefault(name, cls())
