"""Runs timed taking turns: each round starts one run later, so no run always goes first."""

from __future__ import annotations

import statistics
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def take_turns(
    runs: dict[str, Callable[[], object]],
    rounds: int,
    *,
    tidy: Callable[[str], object] | None = None,
) -> dict[str, float]:
    """Time every run once per round, taking turns; the median seconds of each, by name.

    ``tidy(name)``, when given, is called after each run, outside its time. A run
    that returns a number gives its own seconds (one timed in a child process, say,
    whose interpreter's start is not the run's).
    """
    names = list(runs)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            measured = runs[name]()
            elapsed = time.perf_counter() - started
            samples[name].append(measured if isinstance(measured, float) else elapsed)
            if tidy is not None:
                tidy(name)
            print(f"  round {round_number + 1}: {name}: {samples[name][-1]:.2f} s", flush=True)
    return {name: statistics.median(values) for name, values in samples.items()}
