"""The ``cx5`` result format: Thermo Fisher CellInsight CX5 exports from HCS Studio.

What the reader assumes (from how these workbooks are read in practice; the
column names beyond the sheet are inferred, so several spellings are taken):

- an ``.xlsx`` workbook with a sheet named ``Rawdata`` (any case); its other
  sheets are ignored;
- the sheet's first non-empty row is the header, and each later row is one
  well, or one field or object of a well;
- the well is a column ``Well`` / ``WellName`` / ``Well Name``, or else the
  pair ``Row`` and ``Column`` as numbers from 1 (HCS Studio's spelling; a row
  letter is accepted too);
- the plate is named by ``UniquePlateId`` (and ``Barcode``, ``PlateName``,
  ``Plate ID`` when present): a workbook of several plates needs ``plate=``;
- HCS Studio puts the columns that locate a row first, up to its replicate
  column; so every column up to the last one whose name contains
  "replicate" is not a feature, nor is a column naming a plate, field,
  object, site or timepoint. Every other named column is a feature
  (``ValidObjectCount``, ``MEAN_ObjectAreaCh1``, ...).

**Several rows of one well** (an export per field or per object) are
combined per feature: numbers by their mean, text kept when every row of the
well agrees and left out otherwise. Empty cells count for nothing.
"""

from __future__ import annotations

from platekit.microscopes._errors import PlateFormatError
from platekit.microscopes.results import ResultFormat
from platekit.microscopes.results._reader import (
    WORKBOOK_SUFFIXES,
    is_empty,
    is_workbook,
    label,
    sheet_names,
    sheet_rows,
)
from platekit.microscopes.results._tables import PlateWells, find_layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from platekit.microscopes.results import Results

__all__ = ["CX5Results"]

#: The sheet HCS Studio writes the measurements to.
SHEET = "Rawdata"


def _rawdata_sheet(names: list[str]) -> str | None:
    return next((name for name in names if name.strip().lower() == SHEET.lower()), None)


class CX5Results(ResultFormat):
    """Thermo Fisher CellInsight CX5 / HCS Studio workbooks: the ``Rawdata`` sheet."""

    _format_name = "cx5"
    display_name = "Thermo Fisher CellInsight CX5 (HCS Studio)"
    looks_for = "an .xlsx workbook with a 'Rawdata' sheet"
    extensions = WORKBOOK_SUFFIXES

    def recognises(self, path: Path) -> bool:
        if not is_workbook(path):
            return False
        try:
            return _rawdata_sheet(sheet_names(path)) is not None
        except PlateFormatError:
            return False

    def read(self, path: Path, *, plate: str | None = None) -> Results:
        if not is_workbook(path):
            raise PlateFormatError(
                path, f"the cx5 format reads .xlsx workbooks with a {SHEET!r} sheet, not this file"
            )
        names = sheet_names(path)
        sheet = _rawdata_sheet(names)
        if sheet is None:
            raise PlateFormatError(
                path, f"no {SHEET!r} sheet; the workbook's sheets are {', '.join(names) or 'none'}"
            )
        rows = iter(sheet_rows(path, sheet))
        layout = None
        for line, cells in rows:
            if not is_empty(cells):
                layout = find_layout(cells, line, skip_through="replicate")
                if layout is None:
                    raise PlateFormatError(
                        path,
                        f"sheet {sheet!r}, row {line}: the header names no well column; "
                        "expected Well, WellName or Well Name, or Row and Column",
                    )
                break
        wells = PlateWells(path)
        if layout is None:
            return wells.wells(plate)
        for line, cells in rows:
            if is_empty(cells):
                continue
            well = layout.well_of(cells)
            if well is None:
                if not layout.names_a_well(cells):
                    continue  # a row about no well (a note, a total): nothing to file
                where = [c for c in (layout.well, layout.row, layout.column) if c is not None]
                shown = ", ".join(label(cells[i]) for i in where if i < len(cells))
                raise PlateFormatError(
                    path, f"sheet {sheet!r}, row {line}: {shown!r} does not name a well"
                )
            names_of_plate = layout.plate_of(cells)
            wells.add(tuple(names_of_plate.values()), names_of_plate, well, layout.values(cells))
        return wells.wells(plate)
