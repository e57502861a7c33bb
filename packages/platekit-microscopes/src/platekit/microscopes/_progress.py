"""Showing a conversion's progress: a bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from platekit.microscopes._convert import Progress


def duration(seconds: float) -> str:
    """``75 -> "1:15"``, ``3700 -> "1:01:40"``."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def describe(progress: Progress) -> str:
    """``"120/384 planes, 3/8 wells, 35.2 planes/s, 70.4 MB/s, ETA 0:07"``."""
    parts = [
        f"{progress.done}/{progress.total} planes",
        f"{progress.wells_done}/{progress.wells_total} wells",
    ]
    if progress.elapsed > 0 and progress.bytes_done:
        parts.append(f"{progress.rate:.1f} planes/s")
        parts.append(f"{progress.bytes_done / progress.elapsed / 1e6:.1f} MB/s")
    eta = progress.eta
    if eta is not None and progress.done < progress.total:
        parts.append(f"ETA {duration(eta)}")
    return ", ".join(parts)


class ProgressPrinter:
    """A ``progress`` callback for :func:`~platekit.microscopes.convert` that prints to ``stream``.

    On a terminal it redraws one bar line (at most 10 times a second); on
    anything else it writes a plain line every ``interval`` seconds and at
    the end, so logs stay readable.
    """

    def __init__(
        self, stream: TextIO | None = None, *, interval: float = 5.0, width: int = 30
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._interval = interval
        self._width = width
        self._last = float("-inf")
        self._drawn = False
        self._final_shown = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        final = progress.done >= progress.total and progress.wells_done >= progress.wells_total
        if final:
            if self._final_shown:
                return
            self._final_shown = True
        elif now - self._last < (0.1 if self._tty else self._interval):
            return
        self._last = now
        if self._tty:
            filled = int(self._width * progress.done / progress.total) if progress.total else 0
            bar = "#" * filled + "-" * (self._width - filled)
            self._stream.write(f"\r[{bar}] {describe(progress)}\x1b[K")
            self._drawn = True
        else:
            self._stream.write(f"converting: {describe(progress)}\n")
        self._stream.flush()

    def close(self) -> None:
        """End the bar's line, if one was drawn."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False
