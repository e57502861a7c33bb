"""Well names: a row letter (or two) and a two-digit column, ``A01`` … ``AF48``."""

from __future__ import annotations

import re

_WELL = re.compile(r"([A-Za-z]{1,2})(\d{1,3})")


def row_letters(row: int) -> str:
    """``1 -> "A"``, ``26 -> "Z"``, ``27 -> "AA"`` (1536-well plates have 32 rows)."""
    if row < 1:
        raise ValueError(f"row numbers start at 1, got {row}")
    letters = ""
    while row:
        row, rest = divmod(row - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def row_number(letters: str) -> int:
    """The inverse of :func:`row_letters`: ``"A" -> 1``, ``"AA" -> 27``."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def well_name(row: int, column: int) -> str:
    """``(1, 1) -> "A01"``: 1-based row and column, column padded to two digits."""
    if column < 1:
        raise ValueError(f"column numbers start at 1, got {column}")
    return f"{row_letters(row)}{column:02d}"


def parse_well(name: str) -> tuple[int, int]:
    """``"B03" -> (2, 3)``; ``"b3"`` and ``"B003"`` too. Raises ``ValueError`` for anything else."""
    match = _WELL.fullmatch(name)
    if match is None:
        raise ValueError(
            f"{name!r} is not a well name; a well is a row letter and a column number, e.g. 'A01'"
        )
    return row_number(match.group(1)), int(match.group(2))


def normal_well(name: str) -> str:
    """A well name in the one spelling platekit uses: ``"b3" -> "B03"``."""
    return well_name(*parse_well(name))
