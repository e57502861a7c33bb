"""An HTD's selection rows: read as a whole row where they can be, as value by value."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platekit.microscopes import PlateFormatError
from platekit.microscopes.handlers._htd import Htd, HtdLine, read_htd
from platekit.microscopes.testing import write_plate

WORDS = ["TRUE", "FALSE", "true", "False", "1", "0", "Yes", "no", " TRUE", "FALSE ", "maybe", ""]


def _value_by_value(values: list[str]) -> list[bool] | None:
    """Each value's flag, read one at a time; ``None`` when one is no TRUE or FALSE."""
    words = [value.strip().lower() for value in values]
    if any(word not in {"true", "1", "yes", "false", "0", "no"} for word in words):
        return None
    return [word in {"true", "1", "yes"} for word in words]


@given(st.lists(st.sampled_from(WORDS), max_size=30))
def test_a_selection_row_reads_as_its_values_read_one_by_one(values: list[str]) -> None:
    htd = Htd(Path("plate.HTD"), [HtdLine("WellsSelection1", tuple(values), 12)])
    expected = _value_by_value(values)
    if expected is None:
        with pytest.raises(PlateFormatError, match="should hold TRUE or FALSE"):
            htd.flags("WellsSelection1", len(values))
    else:
        assert htd.flags("WellsSelection1", len(values)) == expected


def test_the_wells_are_the_selected_ones_in_reading_order(tmp_path: Path) -> None:
    plate = write_plate("imagexpress", tmp_path / "plate", plate_format=(32, 48), channels=1)
    (htd,) = plate.glob("*.HTD")
    # The selection rows written here flag by flag, in place of the plate writer's.
    chosen = {1: {1, 12}, 2: {3}, 16: {24}, 32: {48}}
    rows = {
        f'"WellsSelection{row}"': f'"WellsSelection{row}", '
        + ", ".join("TRUE" if column in chosen.get(row, ()) else "FALSE" for column in range(1, 49))
        for row in range(1, 33)
    }
    lines = [rows.get(line.split(",")[0], line) for line in htd.read_text("cp1252").splitlines()]
    htd.write_bytes("\r\n".join(lines).encode("cp1252"))
    layout = read_htd(htd)
    assert layout.wells == ["A01", "A12", "B03", "P24", "AF48"]
    assert (layout.rows, layout.columns) == (32, 48)
