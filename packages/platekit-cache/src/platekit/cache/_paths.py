"""Where platekit keeps its caches: one root folder, one folder per Python environment."""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

#: Environment variable that moves the cache root.
CACHE_DIR_ENV = "PLATEKIT_CACHE_DIR"


def cache_root() -> str:
    """The cache root as a string (the registry's start-up path avoids pathlib)."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return os.path.abspath(os.path.expanduser(override))
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")) and not (
        "ANDROID_DATA" in os.environ or "ANDROID_ROOT" in os.environ
    ):
        # The XDG rule platformdirs applies here, without the ~25 ms its import
        # (pathlib, re, tempfile) would add to every warm start.
        base = os.environ.get("XDG_CACHE_HOME", "")
        # The XDG rule: an unset, empty or relative value means the default.
        if not base.strip() or not os.path.isabs(base):
            base = os.path.expanduser("~/.cache")
        return os.path.join(base, "platekit")
    import platformdirs

    return os.fspath(platformdirs.user_cache_path("platekit", appauthor=False))


def environment_key() -> str:
    """Name of this Python environment's folder, e.g. ``cpython-311-1a2b3c4d``.

    The hash covers ``sys.prefix`` and the full interpreter version, so two
    virtual environments, or one rebuilt with another Python, never share records.
    """
    tag = sys.implementation.cache_tag or sys.implementation.name
    identity = f"{sys.prefix}\0{sys.version}".encode()
    return f"{tag}-{fnv1a(identity):08x}"


def fnv1a(data: bytes) -> int:
    """The 32-bit FNV-1a hash: a short, stable name for a string.

    Pure Python, because ``zlib`` or ``hashlib`` would each load a shared
    library on every warm start for a hash of a hundred bytes.
    """
    digest = 0x811C9DC5
    for byte in data:
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return digest


def environment_root() -> str:
    """This environment's record folder as a string."""
    return os.path.join(cache_root(), environment_key())


def cache_dir() -> "Path":
    """The root folder of every platekit cache.

    ``PLATEKIT_CACHE_DIR`` when it is set, else the user cache folder that
    ``platformdirs.user_cache_path("platekit")`` names (``~/.cache/platekit`` on
    Linux). Records live one level down, in a folder per Python environment
    (see :func:`environment_dir`). Nothing is created here: folders appear on
    the first write.
    """
    from pathlib import Path

    return Path(cache_root())


def environment_dir() -> "Path":
    """This Python environment's folder inside :func:`cache_dir`.

    Its name joins the interpreter's tag with a short hash of ``sys.prefix``
    and ``sys.version``, so virtual environments sharing a home never read
    each other's records.
    """
    from pathlib import Path

    return Path(environment_root())
