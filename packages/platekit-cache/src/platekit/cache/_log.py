"""Logging for the cache, imported only when there is something to say.

``import logging`` costs several milliseconds, more than a warm registry start
may spend, and a cache hit never logs; so the module is loaded on first use.
"""

from __future__ import annotations

DEBUG = 10
WARNING = 30


def log(level: int, message: str, *args: object, exc_info: bool = False) -> None:
    """Log ``message % args`` on the ``platekit.cache`` logger."""
    import logging

    logging.getLogger("platekit.cache").log(level, message, *args, exc_info=exc_info)
