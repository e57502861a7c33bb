"""Reading result files as numbered rows of cells: delimited text, and .xlsx sheets.

Every reader works on one shape: a list of ``(row number, cells)``, each cell
a ``float`` (any number the file holds), a ``str`` (any other text,
stripped) or ``None`` (empty). CSV needs only the standard library;
workbooks are read through openpyxl, the ``xlsx`` extra.
"""

from __future__ import annotations

import math

from platekit.microscopes._errors import PlateFormatError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    Cell = float | str | None
    Row = tuple[int, list[Cell]]

#: Suffixes read as workbooks (through openpyxl) and as delimited text.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")


def label(value: object) -> str:
    """A cell as text: whole numbers without ``.0`` (a plate id read as 1234.0 is ``"1234"``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def is_empty(cells: list[Cell]) -> bool:
    return all(cell is None for cell in cells)


def _number(text: str, decimal_comma: bool) -> tuple[bool, float | None]:
    """Whether ``text`` spells a number, and the number (``None`` for NaN or infinity)."""
    if decimal_comma and "," in text and "." not in text:
        text = text.replace(",", ".", 1)
    if "_" in text:
        return False, None  # Python reads "1_000" as 1000; a result file means a name
    try:
        value = float(text)
    except ValueError:
        return False, None
    # An export writes NaN (or infinity) where nothing was measured.
    return True, value if math.isfinite(value) else None


def cell_value(raw: object, decimal_comma: bool = False) -> Cell:
    """One cell as the readers see it: a finite ``float``, stripped text, or ``None`` when empty.

    Numbers written as text (every CSV cell) become floats; NaN and infinite
    values count as empty; dates and times become ISO 8601 text; booleans
    ``"True"``/``"False"``.
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, (int, float)):
        return float(raw) if math.isfinite(raw) else None
    if hasattr(raw, "isoformat"):
        return str(raw.isoformat())
    text = str(raw).strip()
    if not text:
        return None
    spelled, number = _number(text, decimal_comma)
    return number if spelled else text


def read_text_rows(path: Path, limit: int | None = None) -> list[Row]:
    """The rows of a delimited text file, numbered by the line each ends on.

    UTF-8 (with or without a byte-order mark), else Windows-1252. The
    delimiter is a tab for ``.tsv`` or when the first lines hold tabs, a
    semicolon when the first lines hold more semicolons than commas (then
    ``1,5`` is a number), a comma otherwise. ``limit`` stops after that
    many rows.
    """
    import csv
    import io

    raw = path.read_bytes() if limit is None else _head(path, 1 << 18)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if limit is not None and exc.start >= len(raw) - 3:
            text = raw[: exc.start].decode("utf-8-sig")  # the head cut a character in two
        else:
            text = raw.decode("cp1252", errors="replace")
    delimiter = _delimiter(path, text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    decimal_comma = delimiter != ","
    rows: list[Row] = []
    try:
        for cells in reader:
            rows.append((reader.line_num, [cell_value(c, decimal_comma) for c in cells]))
            if limit is not None and len(rows) >= limit:
                break
    except csv.Error as exc:
        message = f"not a readable delimited text file ({exc})"
        raise PlateFormatError(path, message, reader.line_num) from exc
    return rows


def _head(path: Path, size: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def _delimiter(path: Path, text: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    head = "\n".join(text[:65536].splitlines()[:20])
    if "\t" in head:
        return "\t"
    return ";" if head.count(";") > head.count(",") else ","


def _openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError:
        from platekit.registry._install import install_command

        raise ImportError(
            "reading .xlsx result files needs openpyxl, which is not installed: "
            f"{install_command('platekit-microscopes', 'xlsx')}"
        ) from None
    return openpyxl


def _workbook(path: Path) -> Any:
    """``path`` opened read-only with cached formula values; raises ImportError without openpyxl."""
    openpyxl = _openpyxl()
    import zipfile

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError) as exc:
        raise PlateFormatError(path, f"not a readable .xlsx workbook ({exc})") from exc
    except openpyxl.utils.exceptions.InvalidFileException as exc:
        raise PlateFormatError(path, f"not a readable .xlsx workbook ({exc})") from exc


def sheet_names(path: Path) -> list[str]:
    """The names of the workbook's sheets, in order."""
    workbook = _workbook(path)
    try:
        return [str(name) for name in workbook.sheetnames]
    finally:
        workbook.close()


def sheet_rows(path: Path, sheet: str | None = None, limit: int | None = None) -> list[Row]:
    """The rows of sheet ``sheet`` (the first sheet when ``None``), numbered from 1."""
    workbook = _workbook(path)
    try:
        names = list(workbook.sheetnames)
        if not names:
            raise PlateFormatError(path, "the workbook has no sheets")
        worksheet = workbook[sheet if sheet is not None else names[0]]
        rows: list[Row] = []
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            rows.append((number, [cell_value(value) for value in values]))
            if limit is not None and number >= limit:
                break
        return rows
    finally:
        workbook.close()


def is_workbook(path: Path) -> bool:
    return path.suffix.lower() in WORKBOOK_SUFFIXES
