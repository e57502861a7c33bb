"""The ``metaxpress`` result format: Molecular Devices MetaXpress measurement exports.

What the reader assumes (from how these exports are read in practice; both
layouts below occur, and the well column's spelling varies):

- a ``.csv`` file (``.tsv``/``.txt`` too; comma, semicolon or tab
  delimited) or the first sheet of an ``.xlsx`` workbook;
- the file is one or more plate sections. A section may start with label
  rows, a label in the first cell and its value in the second: ``Barcode``,
  ``Plate ID``, ``Plate Name`` name the plate (others, such as a date, are
  ignored). Then comes a header row and one row per well;
- the header names the well column ``Well``, ``Well Name`` or ``WellName``
  (or ``Row`` and ``Column``), and the features after it; a workbook header
  may leave the first (well) cell blank, when the rows below it start with
  well names. A ``Laser Focus`` column, like plate and site columns, is not a
  feature;
- a section ends at the first row that names no well; the next label rows
  begin the next plate. A file of several plates needs ``plate=``; sections
  without plate labels are taken as parts of one plate.

Several rows of one well (a per-site export) are combined as the ``cx5``
format does: numbers by their mean, text kept only when the rows agree.
Empty cells count for nothing.
"""

from __future__ import annotations

from platekit.microscopes._errors import PlateFormatError
from platekit.microscopes.results import ResultFormat
from platekit.microscopes.results._reader import (
    TEXT_SUFFIXES,
    WORKBOOK_SUFFIXES,
    is_empty,
    is_workbook,
    label,
    read_text_rows,
    sheet_rows,
)
from platekit.microscopes.results._tables import (
    PLATE_KEYS,
    Layout,
    PlateWells,
    find_layout,
    header_key,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from platekit.microscopes.results import Results
    from platekit.microscopes.results._reader import Cell, Row

__all__ = ["MetaXpressResults"]

#: How far into a file :meth:`MetaXpressResults.recognises` looks for a header.
HEADER_SEARCH_ROWS = 50


class MetaXpressResults(ResultFormat):
    """Molecular Devices MetaXpress measurement exports: CSV, or a workbook's first sheet."""

    _format_name = "metaxpress"
    display_name = "Molecular Devices MetaXpress"
    looks_for = (
        "a .csv file (or an .xlsx workbook's first sheet) whose header names a "
        "'Well' or 'Well Name' column"
    )
    extensions = TEXT_SUFFIXES + WORKBOOK_SUFFIXES

    def recognises(self, path: Path) -> bool:
        try:
            rows = _rows(path, limit=HEADER_SEARCH_ROWS)
        except (PlateFormatError, OSError):
            return False
        return next(_sections(rows), None) is not None

    def read(self, path: Path, *, plate: str | None = None) -> Results:
        suffix = path.suffix.lower()
        if suffix not in self.extensions:
            raise PlateFormatError(
                path,
                f"the metaxpress format reads {', '.join(self.extensions)} files, not {suffix!r}",
            )
        wells = PlateWells(path)
        found = False
        for number, (labels, layout, rows) in enumerate(_sections(_rows(path))):
            found = True
            # Sections without plate labels are parts of one plate: nothing tells them apart.
            section = number if labels else None
            for _, well, cells in rows:
                names = {**labels, **layout.plate_of(cells)}
                wells.add((section, *names.values()), names, well, layout.values(cells))
        if not found:
            raise PlateFormatError(
                path,
                "no header row naming a Well, Well Name or WellName column (or Row and Column)",
            )
        return wells.wells(plate)


def _rows(path: Path, limit: int | None = None) -> list[Row]:
    if is_workbook(path):
        return sheet_rows(path, None, limit)
    return read_text_rows(path, limit)


def _sections(
    rows: list[Row],
) -> Iterator[tuple[dict[str, str], Layout, list[tuple[int, str, list[Cell]]]]]:
    """Each plate section: its plate labels, its layout, and its rows with their wells."""
    labels: dict[str, str] = {}
    index = 0
    while index < len(rows):
        line, cells = rows[index]
        index += 1
        if is_empty(cells):
            continue
        layout = find_layout(cells, line) or _blank_well_header(cells, line, rows, index)
        if layout is None:
            if header_key(cells[0]) in PLATE_KEYS and len(cells) > 1 and cells[1] is not None:
                labels[label(cells[0])] = label(cells[1])
            continue
        table = []
        while index < len(rows):
            _, following = rows[index]
            if not is_empty(following):
                well = layout.well_of(following)
                if well is None:
                    break
                table.append((rows[index][0], well, following))
            index += 1
        yield labels, layout, table
        labels = {}


def _blank_well_header(cells: list[Cell], line: int, rows: list[Row], after: int) -> Layout | None:
    """A header whose first cell is blank, when the next non-empty row starts with a well."""
    if cells[0] is not None or all(cell is None for cell in cells[1:]):
        return None
    layout = find_layout(cells, line, well=0)
    if layout is None:
        return None
    for index in range(after, len(rows)):
        following = rows[index][1]
        if not is_empty(following):
            return layout if layout.well_of(following) is not None else None
    return None
