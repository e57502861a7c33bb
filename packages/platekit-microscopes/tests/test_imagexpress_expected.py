"""An ImageXpress folder's names read against the names its HTD leads one to expect: the
same planes as reading every name, without reading every name."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from platekit.microscopes import PlaneKey, PlateSource
from platekit.microscopes.handlers import _imagexpress_expected, _imagexpress_names, imagexpress
from platekit.microscopes.handlers._imagexpress_expected import read_expected
from platekit.microscopes.handlers._imagexpress_names import Listed, plane_rows, read_listing
from platekit.microscopes.testing import write_plate

GUID = "3F2504E0-4F89-41D3-9A0C-0305E82C3301"
OTHER = "9B2C1D7E-0A4F-4E6B-8C3D-2F1E0D9C8B7A"
WELLS = ["A01", "A02", "B01", "AA12"]


def _answers(listed: Listed, wells: list[str]) -> dict[str, Any]:
    """Everything a scan asks of a listing's planes."""
    keys = [
        (well, site, wave) for well in [*wells, "C03"] for site in range(4) for wave in range(4)
    ]
    return {
        "rows": [row[:5] for row in listed.rows],
        "count": listed.count,
        "wells": listed.wells,
        "site_of": listed.site_of,
        "wave_of": listed.wave_of,
        "keys": listed.key_set(),
        "has": [key for key in keys if listed.has(*key)],
        "name": {key: listed.name(*key) for key in keys},
    }


@st.composite
def listings(draw: st.DrawFn) -> tuple[list[str], list[str], range, list[int]]:
    """A folder's names, most spelled alike from a plate's wells, sites and waves, some left
    out, some odd ones added, in any order; and the wells, sites and waves an HTD lists."""
    prefix = draw(st.sampled_from(["Plate", "Plate_2", "my plate_A01", ""]))
    wells = draw(st.lists(st.sampled_from(WELLS), min_size=1, max_size=3, unique=True))
    sites = range(1, draw(st.integers(1, 3)) + 1)
    waves = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3, unique=True))
    site_form = draw(st.sampled_from(["{}", "{:02d}"] + ([""] if len(sites) == 1 else [])))
    wave_form = draw(st.sampled_from(["{}", "{:02d}"] + ([""] if len(waves) == 1 else [])))
    extension = draw(st.sampled_from([".tif", ".TIF", ".tiff"]))
    # GUIDs as MetaXpress appends them: bare, after "_", or in brackets or braces.
    around = draw(st.sampled_from([None, ("", ""), ("_", ""), ("[", "]"), ("_{", "}")]))
    guids = st.uuids().map(str).map(str.upper) | st.uuids().map(str)
    lead = f"{prefix}_" if prefix else ""
    names = [
        lead
        + well
        + (f"_s{site_form.format(site)}" if site_form else "")
        + (f"_w{wave_form.format(wave)}" if wave_form else "")
        + (f"{around[0]}{draw(guids)}{around[1]}" if around else "")
        + extension
        for well in wells
        for site in sites
        for wave in waves
    ]
    kept = draw(st.lists(st.booleans(), min_size=len(names), max_size=len(names)))
    names = [name for name, keep in zip(names, kept, strict=True) if keep]
    odd = st.sampled_from(
        [
            "Plate.HTD",
            "notes.txt",
            f"{lead}A01_s1_w1_thumb.tif",
            f"{lead}A01_s1_w1{GUID}.tif",
            f"{lead}A01_s1_w1_[{GUID}].tif",
            f"{lead}A01_s1_w1{GUID}_thumb.tif",
            f"{lead}A01_s1_w1_thumb{GUID}.tif",
            f"{lead}A01_s01_w1.tif",
            f"{lead}A01_w1.tif",
            f"{lead}A01_s1_w1.TIF",
            f"{lead}B02_s1_w1.tif",
            f"{lead}A01_s9_w1.tif",
            "Other_A01_s1_w1.tif",
            "A01.tif",
        ]
    )
    names += draw(st.lists(odd, max_size=3))
    names = draw(st.permutations(list(dict.fromkeys(names))))
    htd_wells = draw(st.sampled_from([wells, [*wells, "B02"], wells[:1]]))
    return names, htd_wells, sites, waves


@given(listings())
def test_names_read_against_the_expected_ones_answer_as_reading_every_name(
    listing: tuple[list[str], list[str], range, list[int]],
) -> None:
    names, wells, sites, waves = listing
    listed = read_expected(names, wells, sites, waves)
    event(f"read against the expected names: {listed is not None}")
    if listed is not None:
        assert _answers(listed, wells) == _answers(Listed(plane_rows(names)), wells)


@pytest.mark.parametrize(
    ("names", "read"),
    [
        (
            ["P.HTD", "P_A01_s1_w1.tif", "P_A01_s2_w1.tif", "P_B01_s1_w1.tif", "P_B01_s2_w1.tif"],
            True,
        ),
        (["P_A01_s1_w1_thumb.tif", "P_A01_s1_w1.tif", "P_B01_s2_w1.tif", "notes.txt"], True),
        (["P_A01_s01_w1.tif", "P_A01_s02_w1.tif", "P_B01_s01_w1.tif"], True),
        ([f"P_A01_s1_w1{GUID}.tif", f"P_A01_s2_w1_[{OTHER}].tif"], False),
        ([f"P_A01_s1_w1{GUID}.tif", f"P_A01_s2_w1{OTHER}.tif", "P.HTD", "notes.txt"], True),
        ([f"P_A01_s1_w1_{{{GUID}}}.TIF", f"P_B01_s2_w1_{{{OTHER.lower()}}}.TIF"], True),
        # Another spelling of a plane, a plane the HTD does not list, one plane under two
        # GUIDs, or a name that ends otherwise than the first: every name read.
        (["P_A01_s1_w1.tif", "P_A01_s01_w1.tif"], False),
        (["P_A01_s1_w1.tif", "P_C01_s1_w1.tif"], False),
        ([f"P_A01_s1_w1{GUID}.tif", f"P_A01_s1_w1{OTHER}.tif"], False),
        ([f"P_A01_s1_w1{GUID}.tif", f"P_A01_s2_w1{OTHER}.TIF"], False),
        ([f"P_A01_s1_w1{GUID}.tif", f"P_A01_s2_w1{OTHER[:-1]}G.tif"], False),
        # Not an image at all, though its extension's last letter is a hexadecimal digit too.
        ([f"P_A01_s1_w1{GUID}.tif", f"P_A01_s2_w1{OTHER}.tia"], False),
    ],
)
def test_a_folder_spelled_alike_is_read_without_reading_every_name(
    names: list[str], read: bool
) -> None:
    listed = read_expected(names, ["A01", "B01"], range(1, 3), [1])
    assert (listed is not None) == read
    if listed is not None:
        assert _answers(listed, ["A01", "B01"]) == _answers(
            Listed(plane_rows(names)), ["A01", "B01"]
        )


def test_a_well_no_plane_name_spells_is_read_as_reading_every_name() -> None:
    # A plate of 100 columns lists wells such as A100, which no plane name spells (a well's
    # column has two digits): a file named with one is no plane.
    names = ["P.HTD", "P_A01_w1.tif", "P_A100_w1.tif"]
    wells = ["A01", "A100"]
    expected = partial(read_expected, wells=wells, sites=range(1, 2), waves=[1])
    listed = read_listing(list(names), expected)
    assert _answers(listed, wells) == _answers(Listed(plane_rows(names)), wells)


def test_the_rows_are_made_only_when_asked_for() -> None:
    names = ["P.HTD"] + [f"P_A{column:02d}_s1_w1.tif" for column in range(1, 13)]
    listed = read_expected(names, [f"A{column:02d}" for column in range(1, 13)], range(1, 2), [1])
    assert isinstance(listed, _imagexpress_expected.ExpectedListed)
    assert listed.count == 12 and listed.name("A03", 1, 1) == "P_A03_s1_w1.tif"
    assert listed._made is None
    assert [row[0] for row in listed.rows] == names[1:]


# Plates whose odd names and folders a scan must read as it reads them name by name.
PLATES: dict[str, dict[str, Any]] = {
    "flat": {"sites": 2, "channels": 2},
    "one site, no _s": {"sites": 1, "channels": 2},
    "one wave, no _w": {"sites": 2, "wave_names": False},
    "thumbnails, .TIF": {"sites": 2, "thumbnails": True, "extension": ".TIF"},
    "GUIDs": {"sites": 2, "guid": True},
    "bracketed GUIDs, thumbnails, .TIF": {
        "sites": 2,
        "channels": 2,
        "guid": "bracketed",
        "thumbnails": True,
        "extension": ".TIF",
    },
    "GUIDs, planes missing": {
        "sites": 2,
        "guid": True,
        "missing": [PlaneKey("A01", 2, 1, 1, 1)],
    },
    "planes missing": {
        "sites": 2,
        "channels": 2,
        "missing": [PlaneKey("A01", 2, 1, 1, 1), PlaneKey("B02", 1, 2, 1, 1)],
    },
    "a well missing": {
        "sites": 2,
        "missing": [PlaneKey("B02", site, 1, 1, 1) for site in (1, 2)],
    },
    "time points": {"sites": 2, "t": 2},
    "z steps and projections": {"channels": 2, "z": 3, "projections": True},
    "HTD only in TimePoint_1": {"t": 2, "htd_in_timepoint": "only"},
}


@pytest.mark.parametrize(
    ("variant", "projections"),
    [(variant, False) for variant in PLATES] + [("z steps and projections", True)],
)
def test_a_plate_scans_as_it_does_when_every_name_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: str, projections: bool
) -> None:
    options = PLATES[variant]
    plate = write_plate("imagexpress", tmp_path / "plate", wells=["A01", "B02"], **options)
    fast = imagexpress.scan_plate(PlateSource(plate), projections=projections)
    _imagexpress_names._read.clear()
    monkeypatch.setattr(imagexpress, "read_expected", lambda names, **_: None)
    slow = imagexpress.scan_plate(PlateSource(plate), projections=projections)
    assert list(fast.planes.items()) == list(slow.planes.items())
    assert fast.missing == slow.missing
    assert fast.metadata == slow.metadata


@pytest.mark.parametrize("guid", [False, True, "bracketed"])
def test_opening_a_plate_spelled_alike_reads_no_plane_name_with_a_pattern(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guid: bool | str
) -> None:
    plate = write_plate(
        "imagexpress", tmp_path / "plate", wells=["A01", "B02"], sites=3, channels=2, t=2,
        thumbnails=True, guid=guid,
    )  # fmt: skip
    read: list[str] = []

    def counting(names: list[str]) -> list[_imagexpress_names.Row]:
        read.extend(names)
        return plane_rows(names)

    monkeypatch.setattr(_imagexpress_names, "plane_rows", counting)
    monkeypatch.setattr(_imagexpress_expected, "plane_rows", counting)
    scan = imagexpress.scan_plate(PlateSource(plate))
    # Only the names left over are read: the HTD and the thumbnails.
    assert read and all(name.endswith(".HTD") or "_thumb" in name for name in read)
    assert len(scan.planes) == 2 * 3 * 2 * 2
    assert scan.missing == []


def test_the_expected_names_are_made_once_for_every_folder_of_a_plate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plate = write_plate("imagexpress", tmp_path / "plate", wells=["A01", "B02"], z=3, t=2)
    made: list[int] = []
    names = _imagexpress_expected.Spelling.names

    def counting(spelling: _imagexpress_expected.Spelling) -> list[str]:
        made.append(1)
        return names(spelling)

    monkeypatch.setattr(_imagexpress_expected.Spelling, "names", counting)
    scan = imagexpress.scan_plate(PlateSource(plate))
    assert len(scan.planes) == 2 * 3 * 2
    assert len(made) == 1  # six folders, TimePoint_<t>/ZStep_<z>/, spelled alike
