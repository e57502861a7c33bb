"""Result formats: CX5 and MetaXpress exports read into {well: {feature: value}}."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from platekit.microscopes._errors import PlateFormatError
from platekit.microscopes.results import RESULT_FORMATS, read_results
from platekit.registry._install import install_command


def write_csv(path: Path, rows: list[list[Any]], delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    # Only the workbook tests need the xlsx extra; the CSV ones run without it.
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


# HCS Studio's Rawdata sheet: locating columns up to the replicate column, then features.
CX5_HEADER = [
    "Barcode",
    "UniquePlateId",
    "Row",
    "Column",
    "ReplicateNumber",
    "ValidObjectCount",
    "MEAN_ObjectAreaCh1",
    "MEAN_ObjectTotalIntenCh2",
    "Compound",
]


def cx5_workbook(path: Path, rows: list[list[Any]]) -> Path:
    return write_xlsx(
        path,
        {
            "Plate Overview": [["Summary written by HCS Studio"]],
            "Rawdata": [CX5_HEADER, *rows],
        },
    )


# -- CX5 -----------------------------------------------------------------------------------


def test_cx5_reads_one_row_per_well_from_the_rawdata_sheet(tmp_path: Path) -> None:
    path = cx5_workbook(
        tmp_path / "cx5.xlsx",
        [
            ["BC01", 101, 2, 3, 1, 250, 88.5, 1.2e6, "DMSO"],
            ["BC01", 101, 1, 12, 1, 300, 90.25, None, "Taxol"],
        ],
    )

    results = read_results(path)

    assert results == {
        "A12": {"ValidObjectCount": 300.0, "MEAN_ObjectAreaCh1": 90.25, "Compound": "Taxol"},
        "B03": {
            "ValidObjectCount": 250.0,
            "MEAN_ObjectAreaCh1": 88.5,
            "MEAN_ObjectTotalIntenCh2": 1.2e6,
            "Compound": "DMSO",
        },
    }
    assert list(results) == ["A12", "B03"]  # plate order, not file order


def test_cx5_averages_the_rows_of_a_well(tmp_path: Path) -> None:
    # One row per field: the well's value of each feature is the mean over its fields.
    path = cx5_workbook(
        tmp_path / "fields.xlsx",
        [
            ["BC01", 101, 1, 1, 1, 10, 1.0, 5, "DMSO"],
            ["BC01", 101, 1, 1, 1, 20, 2.0, None, "DMSO"],
            ["BC01", 101, 1, 1, 1, 31, 4.0, 7, "dmso?"],
        ],
    )

    well = read_results(path, format="cx5")["A01"]

    assert well["ValidObjectCount"] == pytest.approx(61 / 3)
    assert well["MEAN_ObjectAreaCh1"] == pytest.approx(7 / 3)
    assert well["MEAN_ObjectTotalIntenCh2"] == 6.0  # the empty field counts for nothing
    assert "Compound" not in well  # the fields disagree: no value for the well


def test_cx5_workbook_of_two_plates_needs_a_choice(tmp_path: Path) -> None:
    path = cx5_workbook(
        tmp_path / "two.xlsx",
        [
            ["BC01", 101, 1, 1, 1, 10, 1.0, 5, "x"],
            ["BC02", 102, 1, 1, 1, 99, 9.0, 5, "x"],
        ],
    )

    with pytest.raises(ValueError, match="holds 2 plates") as caught:
        read_results(path)
    assert "BC01" in str(caught.value) and "102" in str(caught.value)
    assert read_results(path, plate="BC02")["A01"]["ValidObjectCount"] == 99.0
    assert read_results(path, plate="101")["A01"]["ValidObjectCount"] == 10.0
    with pytest.raises(ValueError, match="no plate named 'BC03'"):
        read_results(path, plate="BC03")


def test_cx5_takes_a_well_name_column(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "named.xlsx",
        {"rawdata": [["Well Name", "FieldNumber", "Count"], ["b3", 1, 4], ["B03", 2, 6]]},
    )

    assert read_results(path, format="cx5") == {"B03": {"Count": 5.0}}


def test_cx5_names_the_row_that_is_not_a_well(tmp_path: Path) -> None:
    path = cx5_workbook(tmp_path / "bad.xlsx", [["BC01", 101, "first", 1, 1, 10, 1, 1, "x"]])

    with pytest.raises(PlateFormatError, match=r"sheet 'Rawdata', row 2: .*does not name a well"):
        read_results(path, format="cx5")


def test_cx5_refuses_a_workbook_without_rawdata(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "other.xlsx", {"Results": [["Well", "Count"], ["A01", 1]]})

    with pytest.raises(PlateFormatError, match="no 'Rawdata' sheet; the workbook's sheets are Res"):
        read_results(path, format="cx5")


# -- MetaXpress ----------------------------------------------------------------------------


def metaxpress_section(barcode: str, plate_id: int, wells: list[list[Any]]) -> list[list[Any]]:
    return [
        ["Barcode", barcode],
        ["Plate ID", plate_id],
        ["Plate Name", f"Screen {plate_id}"],
        ["Description", "Cell scoring"],
        [],
        ["Well", "Cell: Total Cells (MultiWaveScoring)", "Cell: % Positive W2", "Comment"],
        *wells,
        [],
    ]


def test_metaxpress_csv_with_plate_labels(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "mx.csv",
        metaxpress_section("P1", 7, [["A01", 1523, 12.5, "ok"], ["A02", 1610, "", "ok"]]),
    )

    assert read_results(path) == {
        "A01": {
            "Cell: Total Cells (MultiWaveScoring)": 1523.0,
            "Cell: % Positive W2": 12.5,
            "Comment": "ok",
        },
        "A02": {"Cell: Total Cells (MultiWaveScoring)": 1610.0, "Comment": "ok"},
    }


def test_metaxpress_csv_of_two_plates(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "two.csv",
        metaxpress_section("P1", 7, [["A01", 1, 2, "x"]])
        + metaxpress_section("P2", 8, [["A01", 3, 4, "y"], ["H12", 5, 6, "y"]]),
    )

    with pytest.raises(ValueError, match="holds 2 plates: Barcode P1, Plate ID 7, Plate Name"):
        read_results(path)
    second = read_results(path, plate="Screen 8")
    assert sorted(second) == ["A01", "H12"] and second["A01"]["Comment"] == "y"
    assert read_results(path, plate="7")["A01"]["Comment"] == "x"


def test_metaxpress_tables_without_plate_labels_are_one_plate(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "parts.csv",
        [["Well", "Count"], ["A01", 1], ["A02", 5], [], ["Notes"], ["Well", "Count"], ["A01", 3]],
    )

    assert read_results(path) == {"A01": {"Count": 2.0}, "A02": {"Count": 5.0}}


def test_metaxpress_plain_table_with_well_name_header(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "plain.csv",
        [
            ["Plate ID", "Well Name", "Site ID", "Nuclei Count"],
            [12, "C5", 1, 10],
            [12, "C05", 2, 30],
        ],
    )

    assert read_results(path) == {"C05": {"Nuclei Count": 20.0}}


def test_metaxpress_semicolon_csv_with_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "de.csv"
    path.write_text("Well;Mean Area;Label\nA01;12,5;n/a\nA02;NaN;x\n", encoding="utf-8")

    assert read_results(path) == {"A01": {"Mean Area": 12.5, "Label": "n/a"}, "A02": {"Label": "x"}}


def test_metaxpress_workbook_first_sheet_with_blank_well_header(tmp_path: Path) -> None:
    # The workbook layout leaves the well header blank; Laser Focus is no feature.
    rows = [
        ["Barcode", "P9"],
        ["Plate Name", "Screen 9"],
        [None, "Laser Focus", "Total Cells", "Mean Intensity"],
        ["A01", 5012.5, 800, 133.2],
        ["B2", 5013.0, 750, None],
    ]
    path = write_xlsx(tmp_path / "mx.xlsx", {"Plate 1": rows, "Notes": [["Well", "x"]]})

    assert read_results(path) == {
        "A01": {"Total Cells": 800.0, "Mean Intensity": 133.2},
        "B02": {"Total Cells": 750.0},
    }


def test_duplicate_feature_names_are_kept_apart(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dup.csv", [["Well", "Count", "Count"], ["A01", 1, 2]])

    assert read_results(path) == {"A01": {"Count": 1.0, "Count (2)": 2.0}}


# -- choosing the format -------------------------------------------------------------------


def test_auto_says_which_formats_it_tried(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "notes.csv", [["Name", "Value"], ["a", 1]])

    with pytest.raises(ValueError, match="no result format recognises") as caught:
        read_results(path)
    message = str(caught.value)
    assert "cx5 (reads .xlsx, .xlsm files: an .xlsx workbook with a 'Rawdata' sheet)" in message
    assert "metaxpress (looks for a .csv file" in message


def test_auto_tries_both_formats_on_a_workbook(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "book.xlsx", {"Sheet1": [["Name", "Value"]]})

    with pytest.raises(ValueError, match="Tried: ") as caught:
        read_results(path)
    assert "cx5 (looks for" in str(caught.value) and "metaxpress (looks for" in str(caught.value)


def test_auto_picks_cx5_for_a_rawdata_workbook(tmp_path: Path) -> None:
    # Its first sheet has no well header, so only cx5 claims it.
    path = cx5_workbook(tmp_path / "cx5.xlsx", [["BC01", 101, 1, 1, 1, 10, 1.0, 5, "x"]])

    assert RESULT_FORMATS["cx5"]().recognises(path)
    assert not RESULT_FORMATS["metaxpress"]().recognises(path)
    assert read_results(path)["A01"]["ValidObjectCount"] == 10.0


def test_a_file_both_formats_claim_must_be_chosen(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "both.xlsx", {"Rawdata": [["Well", "Count"], ["A01", 3]]})

    with pytest.raises(ValueError, match="more than one result format: 'cx5', 'metaxpress'"):
        read_results(path)
    assert read_results(path, format="metaxpress") == {"A01": {"Count": 3.0}}


def test_recognising_never_raises_for_other_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"\x00\x01 not a zip")
    binary = tmp_path / "junk.csv"
    binary.write_bytes(bytes(range(256)) * 4)

    has_openpyxl = importlib.util.find_spec("openpyxl") is not None
    for name in ("cx5", "metaxpress"):
        if has_openpyxl:
            assert RESULT_FORMATS[name]().recognises(junk) is False
        else:
            # Without the extra, any workbook is a reason to say what to install.
            with pytest.raises(ImportError, match=r"platekit-microscopes\[xlsx\]"):
                RESULT_FORMATS[name]().recognises(junk)
        assert RESULT_FORMATS[name]().recognises(binary) is False


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "mx.csv", [["Well", "Count"], ["A01", 1]])

    with pytest.raises(KeyError, match="cx5, metaxpress"):
        read_results(path, format="harmony")
    with pytest.raises(FileNotFoundError, match="no result file at"):
        read_results(tmp_path / "absent.csv")
    with pytest.raises(PlateFormatError, match=r"the cx5 format reads \.xlsx workbooks"):
        read_results(path, format="cx5")


def test_xlsx_without_openpyxl_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = cx5_workbook(tmp_path / "cx5.xlsx", [["BC01", 101, 1, 1, 1, 10, 1.0, 5, "x"]])
    table = write_csv(tmp_path / "mx.csv", [["Well", "Count"], ["A01", 1]])
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl now fails

    for format in ("auto", "cx5", "metaxpress"):
        with pytest.raises(ImportError) as caught:
            read_results(book, format=format)
        assert str(caught.value).endswith(install_command("platekit-microscopes", "xlsx"))
    assert read_results(table) == {"A01": {"Count": 1.0}}  # CSV needs nothing


# -- the registry --------------------------------------------------------------------------

PROBE = textwrap.dedent(
    """
    import json, sys
    from platekit.microscopes.results import RESULT_FORMATS
    keys = sorted(RESULT_FORMATS)
    print(json.dumps({
        "keys": keys,
        "extensions": {key: RESULT_FORMATS.metadata(key)["extensions"] for key in keys},
        "state": RESULT_FORMATS.cache_state,
        "imported": sorted(
            name for name in sys.modules
            if name.startswith("platekit.microscopes.results.")
        ),
    }))
    """
)


def test_formats_are_listed_from_the_warm_index_without_importing_them(cache_root: Path) -> None:
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root))

    def probe() -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    cold, warm = probe(), probe()

    assert cold["keys"] == warm["keys"] == ["cx5", "metaxpress"]
    assert cold["state"].startswith("miss") and warm["state"] == "hit"
    assert "platekit.microscopes.results.cx5" in cold["imported"]
    assert warm["imported"] == []
    assert warm["extensions"]["cx5"] == [".xlsx", ".xlsm"]
    assert ".csv" in warm["extensions"]["metaxpress"]
