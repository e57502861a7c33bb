"""A plate opened again while its files are unchanged reuses the scan made when it was opened.

Each test counts the handler's scans; the plates are made to look settled (or not) by
moving the settling time, as in test_opening.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from platekit.microscopes import PlaneKey, PlateSource, open_plate
from platekit.microscopes import _settled_listings as settled_listings
from platekit.microscopes._handler import MICROSCOPE_HANDLERS
from platekit.microscopes.testing import write_plate

KINDS = ["imagexpress", "opera_phenix", "cellvoyager"]
#: The file each format's scan reads its metadata from.
METADATA = {
    "imagexpress": "*.HTD",
    "opera_phenix": "Images/Index*.xml",
    "cellvoyager": "MeasurementData.mlf",
}


@pytest.fixture(autouse=True)
def fresh_listings() -> None:
    settled_listings.forget()


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every plate looks as if written long ago."""
    monkeypatch.setattr(settled_listings, "SETTLED_S", -3600.0)


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The type of each handler whose scan ran, in order."""
    ran: list[str] = []
    for kind in KINDS:
        handler = MICROSCOPE_HANDLERS[kind]
        scan = handler.scan

        def counting(self: object, plate: object, _scan: Any = scan, _kind: str = kind) -> object:
            ran.append(_kind)
            return _scan(self, plate)

        monkeypatch.setattr(handler, "scan", counting)
    return ran


def _plate(kind: str, folder: Path) -> Path:
    return write_plate(kind, folder, wells=["A01", "B02"], sites=2, channels=2)


def _metadata_file(kind: str, plate: Path) -> Path:
    (found,) = plate.glob(METADATA[kind])
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_an_unchanged_plate_is_scanned_once(
    kind: str, tmp_path: Path, settled: None, scans: list[str]
) -> None:
    plate = _plate(kind, tmp_path / "plate")
    first = open_plate(plate)
    again = open_plate(plate)
    assert scans == [kind]
    assert dict(again.planes()) == dict(first.planes())
    assert again.metadata == first.metadata
    assert again.missing() == first.missing()


@pytest.mark.parametrize("kind", KINDS)
def test_a_changed_metadata_file_is_read_again(
    kind: str, tmp_path: Path, settled: None, scans: list[str]
) -> None:
    plate = _plate(kind, tmp_path / "plate")
    open_plate(plate)
    metadata = _metadata_file(kind, plate)
    # Rewritten in place with a later time: the folder's own times do not change.
    folder_times = os.stat(metadata.parent).st_mtime_ns
    metadata.write_bytes(metadata.read_bytes())
    os.utime(metadata, ns=(os.stat(metadata).st_atime_ns, folder_times + 10**9))
    assert os.stat(metadata.parent).st_mtime_ns == folder_times
    open_plate(plate)
    assert scans == [kind, kind]


def test_a_changed_folder_is_scanned_again(tmp_path: Path, settled: None, scans: list[str]) -> None:
    plate = _plate("imagexpress", tmp_path / "plate")
    first = open_plate(plate)
    gone = PlaneKey("B02", 2, 1)
    (plate / first.address(gone)).unlink()
    again = open_plate(plate)
    assert scans == ["imagexpress", "imagexpress"]
    assert again.missing() == [gone]


def test_a_file_changed_just_before_the_scan_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scans: list[str]
) -> None:
    monkeypatch.setattr(settled_listings, "SETTLED_S", 3600.0)
    plate = _plate("opera_phenix", tmp_path / "plate")
    open_plate(plate)
    open_plate(plate)
    assert scans == ["opera_phenix", "opera_phenix"]


def test_changing_an_opened_plate_does_not_change_the_next_opening(
    tmp_path: Path, settled: None, scans: list[str]
) -> None:
    plate = _plate("opera_phenix", tmp_path / "plate")
    first = open_plate(plate)
    expected = (list(first.metadata.wells), dict(first.planes()))
    first.metadata.wells.clear()
    first._scan.planes.clear()
    second = open_plate(plate)
    second.metadata.wells.append("H12")
    second.metadata.extra["changed"] = True
    third = open_plate(plate)
    assert scans == ["opera_phenix"]
    assert (third.metadata.wells, dict(third.planes())) == expected
    assert "changed" not in third.metadata.extra


def test_stage_positions_are_read_again_for_a_plate_opened_again(
    tmp_path: Path, settled: None, scans: list[str]
) -> None:
    # An ImageXpress plane's stage position is read from its TIFF when first asked for,
    # after the scan; a TIFF rewritten in place since must be read again.
    plate = _plate("imagexpress", tmp_path / "plate")
    first = open_plate(plate)
    plane, other = PlaneKey("A01", 2, 2), PlaneKey("B02", 1, 1)
    before = first.metadata.positions[plane]
    assert before != first.metadata.positions[other]
    (plate / first.address(plane)).write_bytes((plate / first.address(other)).read_bytes())
    again = open_plate(plate)
    assert scans == ["imagexpress"]
    assert again.metadata.positions[plane] == first.metadata.positions[other]


def test_a_plate_given_as_a_source_is_scanned_each_time(
    tmp_path: Path, settled: None, scans: list[str]
) -> None:
    plate = _plate("cellvoyager", tmp_path / "plate")
    open_plate(plate)
    open_plate(PlateSource(plate))
    assert scans == ["cellvoyager", "cellvoyager"]


def test_scans_are_kept_for_the_plates_opened_last(
    tmp_path: Path, settled: None, scans: list[str]
) -> None:
    plates = [
        _plate("cellvoyager", tmp_path / f"plate{n}")
        for n in range(settled_listings.SCANS_KEPT + 1)
    ]
    for plate in plates:
        open_plate(plate)
    open_plate(plates[-1])
    assert len(scans) == len(plates)
    open_plate(plates[0])
    assert len(scans) == len(plates) + 1


def test_changing_an_opened_plates_planes_does_not_change_the_next_openings_positions(
    tmp_path: Path, settled: None, scans: list[str]
) -> None:
    # An ImageXpress plate's stage positions are read, on first use, for the planes it holds.
    plate = _plate("imagexpress", tmp_path / "plate")
    first = open_plate(plate)
    first._scan.planes.clear()
    again = open_plate(plate)
    assert scans == ["imagexpress"]
    assert len(again.metadata.positions) == len(dict(again.planes())) == 2 * 2 * 2


def test_the_files_read_after_the_scan_are_not_listed(
    tmp_path: Path, settled: None, scans: list[str]
) -> None:
    # Only what the scan reads decides whether it is kept; a plate read for hours keeps no list.
    plate = open_plate(_plate("imagexpress", tmp_path / "plate"))
    for key, _ in plate.planes():
        plate.read_plane(key)
    assert plate.source._listings.read is None


@pytest.mark.parametrize(
    ("vendor", "export"),
    [("harmony", "Version1"), ("harmony", "Version7"), ("cellvoyager", "CV7000-example")],
)
def test_an_unchanged_real_export_is_scanned_once(
    request: pytest.FixtureRequest, vendor: str, export: str, settled: None, scans: list[str]
) -> None:
    exports = request.getfixturevalue(
        "pe2loaddata_exports" if vendor == "harmony" else "cellvoyager_exports"
    )
    plate = exports / export / ("images" if vendor == "harmony" else "")
    first = open_plate(plate)
    again = open_plate(plate)
    assert len(scans) == 1
    assert dict(again.planes()) == dict(first.planes())
    assert again.metadata == first.metadata
    assert again.missing() == first.missing()
