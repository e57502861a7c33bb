"""Result tables: which columns hold the well, the plate and the features, and rows into wells.

A header row names the columns; a :class:`Layout` says which column holds
the well (or the row and the column), which the plate, and which are
features; :class:`PlateWells` gathers the rows of each plate and averages
them per well. The rows come from :mod:`._reader`.
"""

from __future__ import annotations

import math

from platekit.microscopes._wells import normal_well, parse_well, row_number, well_name
from platekit.microscopes.results._reader import label

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from platekit.microscopes.results._reader import Cell

    Wells = dict[str, dict[str, float | str]]

# Header spellings, compared by header_key(): case, spaces, '_', '-' and '.' ignored.
WELL_KEYS = ("well", "wellname", "wellid")
ROW_KEYS = ("row", "wellrow")
COLUMN_KEYS = ("column", "col", "wellcolumn", "wellcol")
#: Columns naming the plate, the most specific first.
PLATE_KEYS = ("uniqueplateid", "plateid", "platename", "platebarcode", "barcode", "plate")
#: Columns that say where a row was measured, never features.
PLACE_KEYS = frozenset(
    {
        "site",
        "siteid",
        "field",
        "fieldid",
        "fieldindex",
        "fieldnumber",
        "objectid",
        "objectnumber",
        "cellid",
        "cellnumber",
        "timepoint",
        "timepointid",
        "measurementsetid",
        "laserfocus",
    }
)


def header_key(value: object) -> str:
    """A header cell as compared with the spellings above: ``"Well Name" -> "wellname"``."""
    text = label(value).lower()
    for mark in " _-.\t":
        text = text.replace(mark, "")
    return text


# -- the layout of a table -------------------------------------------------------------------


class Layout:
    """Which columns of a table hold the well, the plate and the features.

    ``well`` is the index of a column of well names, or ``None`` when the
    well comes from ``row`` and ``column`` (numbers from 1, or row letters).
    """

    def __init__(
        self,
        line: int,
        features: list[tuple[int, str]],
        well: int | None = None,
        row: int | None = None,
        column: int | None = None,
        plates: list[tuple[int, str]] | None = None,
    ) -> None:
        self.line = line
        self.features = features
        self.well = well
        self.row = row
        self.column = column
        self.plates = plates or []

    def well_of(self, cells: list[Cell]) -> str | None:
        """The well a row is about, in platekit's spelling, or ``None`` when it names none."""
        if self.well is not None:
            value = _at(cells, self.well)
            if not isinstance(value, str):
                return None
            try:
                return normal_well(value)
            except ValueError:
                return None
        assert self.row is not None and self.column is not None
        row, column = _at(cells, self.row), _at(cells, self.column)
        if isinstance(row, str) and row.isalpha() and len(row) <= 2:
            row = float(row_number(row))
        if not isinstance(row, float) or not isinstance(column, float):
            return None
        if not (row.is_integer() and column.is_integer() and row >= 1 and column >= 1):
            return None
        return well_name(int(row), int(column))

    def names_a_well(self, cells: list[Cell]) -> bool:
        """Whether the row has anything in its well cells (a well or not)."""
        places = [self.well] if self.well is not None else [self.row, self.column]
        return any(_at(cells, place) is not None for place in places if place is not None)

    def plate_of(self, cells: list[Cell]) -> dict[str, str]:
        """``{plate column header: value}`` for a row, empty without plate columns."""
        found = {}
        for index, header in self.plates:
            value = label(_at(cells, index))
            if value:
                found[header] = value
        return found

    def values(self, cells: list[Cell]) -> dict[str, float | str]:
        """The row's features, empty cells left out."""
        found: dict[str, float | str] = {}
        for index, name in self.features:
            value = _at(cells, index)
            if value is not None:
                found[name] = value
        return found


def _at(cells: list[Cell], index: int) -> Cell:
    return cells[index] if index < len(cells) else None


def find_layout(
    cells: list[Cell], line: int, *, well: int | None = None, skip_through: str | None = None
) -> Layout | None:
    """The layout a header row describes, or ``None`` when it names no well column.

    The well column is one spelled Well, Well Name, WellName or Well ID, or
    else the pair Row and Column; ``well`` forces a column (a header that
    leaves the well column blank). Columns naming the plate or the place of a
    measurement (site, field, object, timepoint, ...) are not features, nor
    are unnamed columns; with ``skip_through``, neither is any column up to
    the last one whose name contains that word. A feature name met twice
    gets `` (2)``, `` (3)``... after the first.
    """
    keys = [header_key(cell) for cell in cells]
    row = column = None
    if well is None:
        well = next((i for i, key in enumerate(keys) if key in WELL_KEYS), None)
    if well is None:
        row = next((i for i, key in enumerate(keys) if key in ROW_KEYS), None)
        column = next((i for i, key in enumerate(keys) if key in COLUMN_KEYS), None)
        if row is None or column is None:
            return None
    plates = [
        (index, label(cells[index]))
        for wanted in PLATE_KEYS
        for index, key in enumerate(keys)
        if key == wanted
    ]
    first_feature = 0
    if skip_through is not None:
        marked = [i for i, key in enumerate(keys) if skip_through in key]
        first_feature = marked[-1] + 1 if marked else 0
    taken = {well, row, column}
    features: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        if index < first_feature or index in taken or not key:
            continue
        if key in WELL_KEYS or key in PLATE_KEYS or key in PLACE_KEYS:
            continue
        name = label(cells[index])
        seen[name] = seen.get(name, 0) + 1
        features.append((index, name if seen[name] == 1 else f"{name} ({seen[name]})"))
    return Layout(line, features, well=well, row=row, column=column, plates=plates)


# -- from rows to wells --------------------------------------------------------------------


class PlateWells:
    """The rows of every plate in a file, averaged per well once a plate is chosen."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # plate key -> (labels naming the plate, well -> feature -> values)
        self._plates: dict[tuple[Any, ...], tuple[dict[str, str], dict[str, dict[str, list[Any]]]]]
        self._plates = {}

    def add(
        self,
        key: tuple[Any, ...],
        labels: dict[str, str],
        well: str,
        values: dict[str, float | str],
    ) -> None:
        """One row of ``well`` on the plate ``key`` (named by ``labels``)."""
        plate = self._plates.setdefault(key, (labels, {}))
        features = plate[1].setdefault(well, {})
        for feature, value in values.items():
            features.setdefault(feature, []).append(value)

    def describe(self) -> list[str]:
        """Each plate, for people: ``"Barcode BC01, Plate ID 7"``."""
        return [
            ", ".join(f"{name} {value}" for name, value in labels.items()) or "(unnamed)"
            for labels, _ in self._plates.values()
        ]

    def wells(self, plate: str | None = None) -> Wells:
        """The plate's wells, in plate order (A01, A02, ... B01): ``{well: {feature: value}}``.

        ``plate`` picks a plate by any of its names (barcode, id, name); it
        may be left out when the file holds one plate. Plates that share the
        name are taken together (one plate exported in two parts). Raises
        ``ValueError`` listing the plates when the choice is missing or
        matches none.
        """
        plates = list(self._plates.values())
        if plate is None:
            if len(plates) > 1:
                raise ValueError(
                    f"{self.path} holds {len(plates)} plates: {'; '.join(self.describe())}. "
                    "Choose one with plate=... (its barcode, id or name)."
                )
            chosen = plates
        else:
            chosen = [entry for entry in plates if plate in entry[0].values()]
            if not chosen:
                known = "; ".join(self.describe()) or "none with a name"
                raise ValueError(f"{self.path} holds no plate named {plate!r}; its plates: {known}")
        rows: dict[str, dict[str, list[Any]]] = {}
        for _, wells in chosen:
            for well, features in wells.items():
                target = rows.setdefault(well, {})
                for feature, values in features.items():
                    target.setdefault(feature, []).extend(values)
        result: Wells = {}
        for well in sorted(rows, key=_plate_order):
            merged = {}
            for feature, values in rows[well].items():
                value = _combine(values)
                if value is not None:
                    merged[feature] = value
            result[well] = merged
        return result


def _plate_order(well: str) -> tuple[int, int]:
    return parse_well(well)


def _combine(values: list[float | str]) -> float | str | None:
    """One well's value of a feature from its rows: the mean of numbers, or the one text."""
    numbers = [value for value in values if isinstance(value, float)]
    if len(numbers) == len(values):
        return math.fsum(numbers) / len(numbers)
    first = values[0]
    # Text that differs between a well's objects or fields says nothing about the well.
    return first if all(value == first for value in values) else None
