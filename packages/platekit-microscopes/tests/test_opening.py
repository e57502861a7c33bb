"""Opening a plate lists each of its folders once, and builds no record per plane until asked.

``detect_microscope`` and ``open_plate`` share one listing of each folder
among every handler's detection and the chosen handler's scan; an unchanged
folder opened again is not listed again; and an ImageXpress scan counts its
planes without making a ``PlaneKey`` per file.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from platekit.microscopes import PlaneKey, detect_microscope, open_plate
from platekit.microscopes import _settled_listings as settled_listings
from platekit.microscopes.handlers import _imagexpress_planes, imagexpress
from platekit.microscopes.testing import write_plate

# Format -> writer options: a plate with more than one folder level where the format has them.
PLATES = {
    "imagexpress": {"layout": "timepoint_zstep", "projections": True},
    "opera_phenix": {},
    "cellvoyager": {},
}


@pytest.fixture(autouse=True)
def fresh_listings() -> None:
    settled_listings.forget()


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each folder was listed (every local listing is an os.scandir); the test
    clears it once its plate is written."""
    counts: Counter[str] = Counter()
    scandir = os.scandir

    def counting(path: str | os.PathLike[str] = ".") -> object:
        counts[os.path.realpath(path)] += 1
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    return counts


def _plate(kind: str, folder: Path, listed: Counter[str]) -> Path:
    plate = write_plate(
        kind, folder, wells=["A01", "B02"], sites=2, channels=2, z=2, t=2, **PLATES[kind]
    )
    listed.clear()
    return plate


def _folders(plate: Path) -> set[str]:
    return {os.path.realpath(plate)} | {
        os.path.realpath(path) for path in plate.rglob("*") if path.is_dir()
    }


@pytest.mark.parametrize("kind", sorted(PLATES))
def test_opening_lists_each_folder_once(kind: str, tmp_path: Path, listed: Counter[str]) -> None:
    plate = _plate(kind, tmp_path / "plate", listed)
    folders = _folders(plate)
    listed.clear()
    opened = open_plate(plate)
    assert opened.microscope == kind
    assert os.path.realpath(plate) in listed
    assert set(listed) <= folders
    assert max(listed.values()) == 1, listed


@pytest.mark.parametrize("kind", sorted(PLATES))
def test_an_unchanged_plate_is_not_listed_again(
    kind: str, tmp_path: Path, listed: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plate = _plate(kind, tmp_path / "plate", listed)
    # As if the plate had been written long ago (its folders are settled).
    monkeypatch.setattr(settled_listings, "SETTLED_S", -3600.0)
    detect_microscope(plate)
    first = open_plate(plate)
    again = open_plate(plate)
    assert max(listed.values()) == 1, listed
    assert dict(again.planes()) == dict(first.planes())


def test_a_changed_folder_is_listed_again(
    tmp_path: Path, listed: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plate = write_plate("imagexpress", tmp_path / "plate", wells=["A01", "B02"], sites=2)
    listed.clear()
    monkeypatch.setattr(settled_listings, "SETTLED_S", -3600.0)
    first = open_plate(plate)
    assert first.missing() == []
    gone = PlaneKey("B02", 2, 1)
    (plate / first.address(gone)).unlink()
    again = open_plate(plate)
    assert listed[os.path.realpath(plate)] == 2
    assert again.missing() == [gone]


def test_a_folder_changed_just_before_it_was_listed_is_listed_again(
    tmp_path: Path, listed: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A change within a timestamp's granularity may leave the folder's times as they were.
    plate = write_plate("imagexpress", tmp_path / "plate", wells=["A01"])
    listed.clear()
    monkeypatch.setattr(settled_listings, "SETTLED_S", 3600.0)
    detect_microscope(plate)
    open_plate(plate)
    assert listed[os.path.realpath(plate)] == 2


def test_an_imagexpress_scan_makes_no_plane_key_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plate = write_plate("imagexpress", tmp_path / "plate", wells=["A01", "B02"], sites=4, t=2)
    made: list[PlaneKey] = []

    def counting(*args: object) -> PlaneKey:
        made.append(PlaneKey(*args))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(imagexpress, "PlaneKey", counting)
    monkeypatch.setattr(_imagexpress_planes, "PlaneKey", counting)
    opened = open_plate(plate)
    assert opened.metadata.site_count == 4
    assert len(made) <= 2  # the first plane and the one a Z step above it
    planes = dict(opened.planes())
    assert len(planes) == 2 * 4 * 2
    assert len(made) >= len(planes)


def test_names_equal_without_case_are_found_by_name_first(tmp_path: Path) -> None:
    from platekit.microscopes import PlateSource

    for name in ("b.TXT", "B.txt", "a.txt", "Index.XML"):
        (tmp_path / name).write_text(name)
    source = PlateSource(tmp_path)
    assert source.files_by_lower_name() == {
        "b.txt": "B.txt",
        "a.txt": "a.txt",
        "index.xml": "Index.XML",
    }
    found = source.find("index.xml")
    assert found is not None and found.name == "Index.XML"


def test_opening_makes_no_map_of_lowered_names_where_every_name_is_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platekit.microscopes import PlateSource

    plate = write_plate("imagexpress", tmp_path / "plate", wells=["A01", "B02"], sites=2)
    made: list[str] = []
    by_lower_name = PlateSource.files_by_lower_name

    def counting(self: PlateSource) -> dict[str, str]:
        made.append(self.location)
        return by_lower_name(self)

    monkeypatch.setattr(PlateSource, "files_by_lower_name", counting)
    # Every handler's detection looks for its files without case in one search of the
    # lowered names, not in a map of them all.
    detect_microscope(plate)
    assert open_plate(plate).microscope == "imagexpress"
    assert made == []


@pytest.mark.parametrize("odd", ["", "line\nbreak.txt"])
def test_files_are_found_without_case_in_listing_order(tmp_path: Path, odd: str) -> None:
    from platekit.microscopes import PlateSource

    names = ["b.HTD", "a.htd", "B.txt", "plate.Htd.tif", "c.htdx", *([odd] if odd else [])]
    for name in names:
        (tmp_path / name).write_text(name)
    source = PlateSource(tmp_path)
    listing = source.entries()[0]
    assert source.files_ending(".htd") == [n for n in listing if n.lower().endswith(".htd")]
    assert sorted(source.files_ending(".htd")) == ["a.htd", "b.HTD"]
    assert source.has_file_without_case("A.HTD")
    assert source.has_file_without_case("b.txt")
    assert not source.has_file_without_case("d.htd")
    assert not source.has_file_without_case("htd")
    assert source.find("B.HTD") is not None and source.find("B.HTD").name == "b.HTD"
    assert source.find("a.txt") is None


def test_a_plate_path_given_as_bytes_opens_as_its_text_does(tmp_path: Path) -> None:
    source = write_plate("imagexpress", tmp_path / "P", wells=["A01"])
    given = os.fsencode(source)
    assert detect_microscope(given).name == "imagexpress"  # type: ignore[arg-type]
    assert list(open_plate(given).planes()) == list(open_plate(source).planes())  # type: ignore[arg-type]
