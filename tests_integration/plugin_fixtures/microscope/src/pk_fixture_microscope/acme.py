"""The made-up Acme format: ``acme-plate.json`` lists wells and channels; one TIFF per plane,
named ``<well>-s<site>-c<channel>.tif``."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from platekit.microscopes import (
    Channel,
    FilenameParser,
    MetadataHandler,
    MicroscopeHandler,
    PlaneName,
    PlateMetadata,
    PlateScan,
)

_NAME = re.compile(r"([A-P]\d{2})-s(\d+)-c(\d+)\.tif")


class AcmeParser(FilenameParser):
    def parse(self, name: str) -> PlaneName | None:
        match = _NAME.fullmatch(name)
        if match is None:
            return None
        return PlaneName(match.group(1), site=int(match.group(2)), channel=int(match.group(3)))

    def format(self, plane: PlaneName) -> str:
        return f"{plane.well}-s{plane.site}-c{plane.channel}.tif"


class AcmeMetadata(MetadataHandler):
    def find_metadata_file(self, plate: Path) -> Path:
        path = Path(plate) / "acme-plate.json"
        if not path.is_file():
            raise FileNotFoundError(f"no acme-plate.json in {plate}")
        return path

    def read(self, plate: Path) -> PlateMetadata:
        data = json.loads(self.find_metadata_file(plate).read_text())
        return PlateMetadata(
            name=data["name"],
            microscope="acme",
            rows=8,
            columns=12,
            wells=data["wells"],
            sites=list(range(1, data["sites"] + 1)),
            channels={n: Channel(n, name) for n, name in enumerate(data["channels"], 1)},
            pixel_size_um=data["pixel_size_um"],
        )


class AcmeHandler(MicroscopeHandler):
    _microscope_type = "acme"
    display_name = "Acme Imager (test fixture)"
    looks_for = "acme-plate.json in the plate folder"
    parser = AcmeParser()
    metadata_handler = AcmeMetadata

    def scan(self, plate: Path) -> PlateScan:
        meta = self.metadata().read(plate)
        planes = {}
        for name in os.listdir(plate):
            parsed = self.parser.parse(name)
            if parsed is not None:
                planes[parsed.key()] = name
        missing = [key for key in meta.expected_planes() if key not in planes]
        return PlateScan(meta, planes, missing)


def write_acme_plate(folder: str) -> None:
    """Two wells, two sites, two channels of 16x20 uint16 images."""
    import numpy as np
    import tifffile

    os.makedirs(folder)
    wells = ["A01", "B02"]
    meta = {
        "name": "AcmePlate",
        "wells": wells,
        "sites": 2,
        "channels": ["DAPI", "GFP"],
        "pixel_size_um": 0.3,
    }
    Path(folder, "acme-plate.json").write_text(json.dumps(meta))
    for n, well in enumerate(wells):
        for site in (1, 2):
            for channel in (1, 2):
                pixels = np.full((16, 20), 100 * n + 10 * site + channel, np.uint16)
                tifffile.imwrite(Path(folder, f"{well}-s{site}-c{channel}.tif"), pixels)
