"""Logging for the registry, imported only when there is something to say.

A warm registry start must not pay for ``import logging``; only discovery,
misses and failures log, and they load the module on first use.
"""

from __future__ import annotations

DEBUG = 10
WARNING = 30


def log(level: int, message: str, *args: object, exc_info: object = None) -> None:
    """Log ``message % args`` on the ``platekit.registry`` logger."""
    import logging

    logging.getLogger("platekit.registry").log(level, message, *args, exc_info=exc_info)  # type: ignore[arg-type]


def debug(message: str, *args: object) -> None:
    """Log at DEBUG, but only once ``logging`` is loaded.

    Until some code imports ``logging`` no handler can exist, so a DEBUG
    record would go nowhere; skipping it keeps registration free of the import.
    """
    import sys

    if "logging" in sys.modules:
        log(DEBUG, message, *args)
