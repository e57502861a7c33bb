"""The HTD file of a MetaXpress plate: what was imaged, and on which plate.

The HTD is text, one ``"Key", value[, value…]`` per line, between
``"HTSInfoFile", Version 1.0`` and ``"EndFile"``. :func:`read_htd` reads it
into an :class:`HtdLayout`: the plate format, the wells and sites selected,
the wavelengths collected, and the time points and Z planes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path

from platekit.microscopes._errors import PlateFormatError
from platekit.microscopes._wells import row_letters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.microscopes._source import PlateSource

# One value after the key: a quoted string ("" stands for a quote) or bare text
# without quotes or commas, then a comma or the end of the line.
_VALUE = re.compile(r'\s*(?:"((?:[^"]|"")*)"|([^",]*?))\s*(,|$)')
_KEY = re.compile(r'\s*"([^"]*)"\s*(?:,|$)')
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_WORDS = _TRUE | _FALSE


@dataclass(frozen=True)
class HtdLine:
    """One line of an HTD: its key, its values (quotes removed) and its line number."""

    key: str
    values: tuple[str, ...]
    line: int


class Htd:
    """The lines of one HTD file, looked up by key (case-insensitively)."""

    def __init__(self, path: Path | PlateSource, lines: list[HtdLine]) -> None:
        self.path = path
        self._lines = {line.key.lower(): line for line in lines}

    def get(self, key: str) -> HtdLine | None:
        return self._lines.get(key.lower())

    def text(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key``, or ``default`` when the HTD has no such line."""
        line = self.get(key)
        if line is None or not line.values:
            return default
        return line.values[0]

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        """The whole number ``key`` holds; raises PlateFormatError naming the line otherwise."""
        line = self.get(key)
        if line is None or not line.values:
            return default
        try:
            value: int | None = int(line.values[0])
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise PlateFormatError(
                self.path,
                f'"{line.key}" should be a whole number of at least {minimum}, not '
                f"{line.values[0]!r}",
                line.line,
            )
        return value

    def number(self, key: str) -> float | None:
        """The number ``key`` holds, or ``None``; raises PlateFormatError if it is not a number."""
        line = self.get(key)
        if line is None or not line.values:
            return None
        try:
            return float(line.values[0])
        except ValueError:
            raise PlateFormatError(
                self.path, f'"{line.key}" should be a number, not {line.values[0]!r}', line.line
            ) from None

    def flag(self, key: str, default: bool) -> bool:
        """The TRUE/FALSE value of ``key``."""
        line = self.get(key)
        if line is None or not line.values:
            return default
        return self._flags(line)[0]

    def flags(self, key: str, count: int) -> list[bool] | None:
        """The ``count`` TRUE/FALSE values of ``key`` (a selection row), or ``None`` if absent."""
        line = self.get(key)
        if line is None:
            return None
        flags = self._flags(line)
        if len(flags) != count:
            raise PlateFormatError(
                self.path,
                f'"{line.key}" lists {len(flags)} values but the plate has {count} there; '
                "the selection does not match the plate's size",
                line.line,
            )
        return flags

    def _flags(self, line: HtdLine) -> list[bool]:
        # A selection row of bare words is lower-cased in one call and checked as a set.
        words = "\n".join(line.values).lower().split("\n")
        if len(words) == len(line.values) and _WORDS.issuperset(words):
            return list(map(_TRUE.__contains__, words))
        flags = []
        for value in line.values:
            word = value.strip().lower()
            if word not in _TRUE and word not in _FALSE:
                raise PlateFormatError(
                    self.path, f'"{line.key}" should hold TRUE or FALSE, not {value!r}', line.line
                )
            flags.append(word in _TRUE)
        return flags


def decode_htd(data: bytes) -> str:
    """HTD bytes as text: UTF-8 when they are, else Windows-1252, else Latin-1 (never fails)."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def parse_htd(path: Path | PlateSource, text: str) -> Htd:
    """The lines of the HTD ``text`` (read from ``path``).

    Raises :class:`PlateFormatError` naming ``path`` and the line when the
    first line is not ``"HTSInfoFile", …`` or a line is not ``"Key", values``.
    Lines after ``"EndFile"`` are ignored.
    """
    lines: list[HtdLine] = []
    # split("\n"), not splitlines(): a Latin-1 byte 0x85 decodes to a line
    # break that splitlines() would honour inside a description.
    for number, raw in enumerate(text.split("\n"), start=1):
        row = raw.rstrip("\r")
        if not row.strip():
            continue
        line = _parse_line(path, row, number)
        if not lines and line.key != "HTSInfoFile":
            raise PlateFormatError(
                path,
                f'does not start with "HTSInfoFile" (it starts with {row[:60]!r}), so it is not '
                "a MetaXpress HTD file",
                number,
            )
        if line.key == "EndFile":
            return Htd(path, lines)
        lines.append(line)
    if not lines:
        raise PlateFormatError(path, 'is empty; an HTD file starts with "HTSInfoFile"', 1)
    return Htd(path, lines)


def _parse_line(path: Path | PlateSource, row: str, number: int) -> HtdLine:
    match = _KEY.match(row)
    if match is None:
        raise PlateFormatError(
            path,
            f"{row[:80]!r} is not an HTD line; each line is a quoted key and its values, "
            'e.g. "XWells", 12',
            number,
        )
    values: list[str] = []
    position = match.end()
    if position < len(row) and row[match.end() - 1] == "," and '"' not in row[position:]:
        # No quoted value: each value is the text between commas, as _VALUE reads it.
        values = list(map(str.strip, row[position:].split(",")))
    elif position < len(row) and row[match.end() - 1] == ",":
        while True:
            value = _VALUE.match(row, position)
            if value is None:
                raise PlateFormatError(
                    path,
                    f"the values of {match.group(1)!r} are malformed ({row[position:][:60]!r}); "
                    "values are quoted text or bare words separated by commas",
                    number,
                )
            quoted, bare, separator = value.groups()
            values.append(quoted.replace('""', '"') if quoted is not None else bare)
            position = value.end()
            if not separator:
                break
    return HtdLine(match.group(1), tuple(values), number)


@dataclass
class HtdLayout:
    """What an HTD says about the plate: its format and what was imaged.

    ``channels`` maps the wavelength number (the ``_w<n>`` of the file names)
    to its name, for collected wavelengths only; ``site_cells`` gives each
    site's ``(row, column)`` in the ``grid`` (1-based, reading order).
    """

    rows: int
    columns: int
    wells: list[str]
    site_cells: list[tuple[int, int]]
    grid: tuple[int, int]
    channels: dict[int, str]
    z_count: int
    t_count: int
    pixel_size_um: float | None = None
    extra: dict[str, object] = field(default_factory=dict)


def read_htd(path: Path | PlateSource) -> HtdLayout:
    """The plate layout the HTD at ``path`` describes.

    Raises :class:`PlateFormatError` naming the file (and line) for a
    malformed HTD or one that selects no well, site or wavelength;
    ``OSError`` when it cannot be read.
    """
    htd = parse_htd(path, decode_htd(path.read_bytes()))
    rows, columns, wells = _wells(htd)
    grid, cells = _sites(htd)
    channels = _channels(htd)
    z_count = htd.integer("ZSteps", 1, minimum=1) if htd.flag("ZSeries", False) else 1
    extra: dict[str, object] = {"htd": path.name, "site_cells": [list(cell) for cell in cells]}
    for key, name in (
        ("Description", "description"),
        ("PlateType", "plate_type"),
        ("UniquePlateIdentifier", "unique_plate_identifier"),
    ):
        value = htd.text(key)
        if value is not None:
            extra[name] = value
    if htd.get("ZProjection") is not None:
        extra["z_projection"] = htd.flag("ZProjection", False)
    return HtdLayout(
        rows=rows,
        columns=columns,
        wells=wells,
        site_cells=cells,
        grid=grid,
        channels=channels,
        z_count=z_count,
        t_count=htd.integer("TimePoints", 1, minimum=1),
        # Not a MetaXpress key (its pixel size lives in the TIFFs); other
        # writers of HTDs use it.
        pixel_size_um=htd.number("PixelSize"),
        extra=extra,
    )


def _wells(htd: Htd) -> tuple[int, int, list[str]]:
    columns = htd.integer("XWells", 0, minimum=1)
    rows = htd.integer("YWells", 0, minimum=1)
    if not rows or not columns:
        raise PlateFormatError(
            htd.path, 'has no "XWells" and "YWells" lines, so the plate format is unknown'
        )
    wells: list[str] = []
    listed = False
    numbers = [f"{column:02d}" for column in range(1, columns + 1)]
    for row in range(1, rows + 1):
        flags = htd.flags(f"WellsSelection{row}", columns)
        if flags is None:
            continue
        listed = True
        wells.extend(map(row_letters(row).__add__, compress(numbers, flags)))
    if not listed:
        raise PlateFormatError(
            htd.path, 'has no "WellsSelection" lines, so which wells were imaged is unknown'
        )
    if not wells:
        raise PlateFormatError(htd.path, "selects no well (every WellsSelection value is FALSE)")
    return rows, columns, wells


def _sites(htd: Htd) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    if not htd.flag("Sites", False):
        return (1, 1), [(1, 1)]
    columns = htd.integer("XSites", 1, minimum=1)
    rows = htd.integer("YSites", 1, minimum=1)
    selection = [htd.flags(f"SiteSelection{row}", columns) for row in range(1, rows + 1)]
    if all(flags is None for flags in selection):
        # No selection lines: every cell of the grid was imaged.
        selection = [[True] * columns for _ in range(rows)]
    cells = [
        (row, column)
        for row, flags in enumerate(selection, start=1)
        for column, on in enumerate(flags or [], start=1)
        if on
    ]
    if not cells:
        raise PlateFormatError(htd.path, "selects no site (every SiteSelection value is FALSE)")
    return (rows, columns), cells


def _channels(htd: Htd) -> dict[int, str]:
    count = htd.integer("NWavelengths", 1, minimum=1) if htd.flag("Waves", False) else 1
    channels = {
        wave: htd.text(f"WaveName{wave}") or f"w{wave}"
        for wave in range(1, count + 1)
        if htd.integer(f"WaveCollect{wave}", 1) != 0
    }
    if not channels:
        raise PlateFormatError(htd.path, "collects no wavelength (every WaveCollect is 0)")
    return channels
