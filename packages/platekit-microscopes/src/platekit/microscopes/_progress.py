"""Showing a conversion's progress: a bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from platekit.microscopes._plan import Progress


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


class ProgressLine:
    """Progress on ``stream``: one bar line redrawn on a terminal, plain lines elsewhere.

    On a terminal it redraws the bar at most 10 times a second; on anything
    else it writes ``"<label>: <text>"`` every ``interval`` seconds and once
    at the end, so logs stay readable. :meth:`show` is called as work goes.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        label: str = "progress",
        interval: float = 5.0,
        width: int = 30,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._label = label
        self._interval = interval
        self._width = width
        self._last = float("-inf")
        self._drawn = False
        self._final_shown = False

    def show(self, done: int, total: int, text: str, final: bool) -> None:
        """Show ``text`` (``done`` of ``total``), unless shown too recently; ``final`` once."""
        now = time.monotonic()
        if final:
            if self._final_shown:
                return
            self._final_shown = True
        elif now - self._last < (0.1 if self._tty else self._interval):
            return
        self._last = now
        if self._tty:
            filled = min(self._width, int(self._width * done / total)) if total else 0
            bar = "#" * filled + "-" * (self._width - filled)
            self._stream.write(f"\r[{bar}] {text}\x1b[K")
            self._drawn = True
        else:
            self._stream.write(f"{self._label}: {text}\n")
        self._stream.flush()

    def close(self) -> None:
        """End the bar's line, if one was drawn."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False


class ProgressPrinter(ProgressLine):
    """A ``progress`` callback for :func:`~platekit.microscopes.convert`, printing to ``stream``.

    Lines read ``converting: 120/384 planes, 3/8 wells, ...``.
    """

    def __init__(
        self, stream: TextIO | None = None, *, interval: float = 5.0, width: int = 30
    ) -> None:
        super().__init__(stream, label="converting", interval=interval, width=width)

    def __call__(self, progress: Progress) -> None:
        final = progress.done >= progress.total and progress.wells_done >= progress.wells_total
        self.show(progress.done, progress.total, describe(progress), final)
