"""The opening part of the microscopes benchmark: detect_microscope + open_plate against os.scandir.

For each vendor format, a synthetic 384-well plate of about 3,000 images and
one of about 50,000 is written with tiny 16x16 images (opening reads the
metadata files and at most the first planes' TIFF headers, never pixels).
``detect_microscope`` then ``open_plate`` of the plate folder is timed
against one bare ``os.scandir`` of the folder holding the images (the plate
folder, or a Harmony export's ``Images/``), in the same process, taking
turns, warm (after a first opening), median of many calls. The plates are
left to settle for 2 s first, as any plate copied before it is opened is:
platekit does not list a folder again, nor parse a plate's metadata files
again, while they are unchanged, and does not trust that of a folder or
file changed within 2 s of its reading. The first opening (nothing kept:
every folder listed, every name and metadata file read) is reported too.
"""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from _rst import list_table, rst_section

OPENING_TARGET = 3.0

#: (format, writer, sites, channels) of the plates, each of 384 wells: about 3,000 and
#: about 50,000 images.
PLATES = [
    ("ImageXpress", "imagexpress", 4, 2),
    ("ImageXpress", "imagexpress", 26, 5),
    ("Opera Phenix (Harmony)", "opera_phenix", 4, 2),
    ("Opera Phenix (Harmony)", "opera_phenix", 26, 5),
    ("CellVoyager", "cellvoyager", 4, 2),
    ("CellVoyager", "cellvoyager", 26, 5),
]


@dataclass
class Opening:
    """One plate's opening against one os.scandir of its image folder (median seconds)."""

    format: str
    files: int
    open_s: float
    scan_s: float
    first_s: float
    calls: int

    @property
    def ratio(self) -> float:
        return self.open_s / self.scan_s

    @property
    def first_ratio(self) -> float:
        return self.first_s / self.scan_s

    @property
    def missed(self) -> bool:
        return self.ratio > OPENING_TARGET

    @property
    def verdict(self) -> str:
        return (
            f"{'FAIL' if self.missed else 'PASS'}  {self.format}, {self.files} files: "
            f"detect_microscope + open_plate at most {OPENING_TARGET:g}x one os.scandir: "
            f"{self.ratio:.1f}x"
        )


@dataclass
class OpeningResult:
    facts: str
    openings: list[Opening]

    @property
    def missed(self) -> bool:
        return any(opening.missed for opening in self.openings)

    @property
    def verdicts(self) -> list[str]:
        return [opening.verdict for opening in self.openings]

    @property
    def lines(self) -> list[str]:
        head = f"{'format':<24} {'files':>7} {'open ms':>9} {'scandir ms':>10} {'ratio':>6}"
        rows = [
            f"{o.format:<24} {o.files:>7} {o.open_s * 1e3:>9.2f} {o.scan_s * 1e3:>10.2f} "
            f"{o.ratio:>5.1f}x  (first opening {o.first_s * 1e3:.2f} ms, {o.first_ratio:.1f}x)"
            for o in self.openings
        ]
        return [self.facts, "", head, *rows]

    def rst(self) -> str:
        headers = (
            "format",
            "files",
            "detect + open, ms",
            "os.scandir, ms",
            "ratio",
            "first opening, ms (ratio)",
        )
        table = list_table(
            headers,
            (
                [
                    o.format,
                    o.files,
                    f"{o.open_s * 1e3:.2f}",
                    f"{o.scan_s * 1e3:.2f}",
                    f"{o.ratio:.1f}x",
                    f"{o.first_s * 1e3:.2f} ({o.first_ratio:.1f}x)",
                ]
                for o in self.openings
            ),
        )
        return rst_section(
            "Opening a plate",
            "``detect_microscope`` then ``open_plate`` of a synthetic 384-well plate, against one "
            "bare ``os.scandir`` of the folder holding its images, in the same process, taking "
            "turns, warm (after a first opening), medians. The images are 16x16: opening reads "
            "metadata files and at most the first planes' TIFF headers, never pixels. The plates "
            "settle for 2 s before they are opened, as a plate copied earlier has: an unchanged "
            "folder is not listed again, and the scan of a plate whose folders and metadata "
            "files are unchanged is reused. The first opening, with nothing kept (every folder "
            "listed, every name and metadata file read), is the last column.",
            self.facts,
            table,
            self.verdicts,
        )


def image_folder(plate: Path) -> Path:
    """The folder holding the plate's images: a Harmony export's Images/, else the plate."""
    images = plate / "Images"
    return images if images.is_dir() else plate


def time_opening(plate: Path, calls: int) -> tuple[float, float, float]:
    """Median seconds of detect_microscope + open_plate (warm, then with no listing kept)
    and of one os.scandir of the plate's image folder, taking turns."""
    from platekit.microscopes import _settled_listings, detect_microscope, open_plate

    folder = image_folder(plate)

    def opening() -> None:
        detect_microscope(plate)
        open_plate(plate)

    def first_opening() -> None:
        _settled_listings.forget()
        opening()

    def scanning() -> None:
        with os.scandir(folder) as entries:
            for _ in entries:
                pass

    opening()
    samples: dict[str, list[float]] = {"open": [], "first": [], "scan": []}
    for _ in range(calls):
        for name, run in (("open", opening), ("scan", scanning), ("first", first_opening)):
            started = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - started)
    opening()  # keep the listings for the next plate's warm-up alike
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return medians["open"], medians["scan"], medians["first"]


def bench_opening(work: Path, quick: bool) -> OpeningResult:
    """Write each format's plates, let them settle, and time opening them."""
    from platekit.microscopes.testing import write_plate

    wells = [f"{chr(ord('A') + n // 24)}{n % 24 + 1:02d}" for n in range(384)]
    openings = []
    for name, kind, sites, channels in PLATES:
        images = 384 * sites * channels
        if quick and images > 10_000:
            continue
        print(f"writing a 384-well {name} plate of {images} images...", flush=True)
        plate = write_plate(
            kind,
            work / f"opening-{kind}-{images}",
            wells=wells,
            sites=sites,
            channels=channels,
            shape=(16, 16),
            plate_format=(16, 24),
        )
        files = sum(1 for _ in os.scandir(image_folder(plate)))
        time.sleep(2.1)  # settled, as a plate copied earlier is
        calls = 30 if images < 10_000 else 5
        open_s, scan_s, first_s = time_opening(plate, calls if not quick else max(calls // 3, 3))
        openings.append(Opening(name, files, open_s, scan_s, first_s, calls))
        print(f"  {openings[-1].verdict}", flush=True)
        shutil.rmtree(plate)
    facts = (
        "384 wells x 4 sites x 2 channels, and x 26 sites x 5 channels, of 16x16 uint16 "
        f"images; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{datetime.date.today().isoformat()}"
    )
    return OpeningResult(facts, openings)
