"""Natural order for names: ``A2`` before ``A10``, ``s9`` before ``s10``."""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that compares runs of digits as numbers and text without case.

    Each part is tagged so numbers and text never meet in a comparison. The
    name itself comes last, tagged lowest, so a name sorts before the longer
    names it begins (``scan`` before ``scan1``) and settles ties (``a1`` and
    ``A1``, ``1`` and ``01``).
    """
    parts: list[tuple[int, int | str]] = []
    for index, part in enumerate(_DIGITS.split(name)):
        if index % 2:
            parts.append((0, int(part)))
        elif part:
            parts.append((1, part.casefold()))
    parts.append((-1, name))
    return tuple(parts)


def natural_sorted(names: Iterable[str]) -> list[str]:
    """``names`` in natural order."""
    return sorted(names, key=natural_key)
