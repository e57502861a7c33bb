"""Real Harmony exports (V1, V5 and V7 from the pe2loaddata sdist) read, inspect and convert right.

What each export should hold is read here from its own Index XML, independently of the
handler, and every pixel is compared with tifffile's reading of the vendor file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

from platekit.microscopes import PlaneKey, convert, detect_microscope, open_plate
from platekit.microscopes._ngff import unwrap, well_path
from platekit.microscopes._wells import well_name
from platekit.registry._cli import main

VERSIONS = ["Version1", "Version5", "Version7"]


@dataclass
class Expected:
    """What an export's Index XML says, read without platekit."""

    name: str
    rows: int
    columns: int
    wells: list[str]
    channels: dict[int, tuple[str, float, float | None]] = field(default_factory=dict)
    planes: dict[PlaneKey, str] = field(default_factory=dict)
    positions_um: dict[PlaneKey, tuple[float, float, float]] = field(default_factory=dict)
    pixel_size_um: float = 0.0
    shape: tuple[int, int] = (0, 0)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: ET.Element) -> dict[str, ET.Element]:
    return {_local(child.tag): child for child in element}


def read_index(images: Path) -> Expected:
    [index] = [p for p in images.iterdir() if p.name in ("Index.idx.xml", "Index.xml")]
    root = ET.fromstring(index.read_bytes())
    parts = _children(root)
    plate = _children(next(iter(parts["Plates"])))
    wells = [
        well_name(int(_children(w)["Row"].text), int(_children(w)["Col"].text))  # type: ignore[arg-type]
        for w in parts["Wells"]
    ]
    expected = Expected(
        name=plate["Name"].text or "",
        rows=int(plate["PlateRows"].text or 0),
        columns=int(plate["PlateColumns"].text or 0),
        wells=wells,
    )
    # Harmony 7 keeps the channel description in Maps, older versions in each Image.
    described = {}
    for entry in root.iter():
        if _local(entry.tag) == "Entry" and "ChannelName" in _children(entry):
            described[int(entry.get("ChannelID", "0"))] = _children(entry)
    for image in parts["Images"]:
        fields = _children(image)
        channel = int(fields["ChannelID"].text or 0)
        description = fields if "ChannelName" in fields else described[channel]
        emission = float(description["MainEmissionWavelength"].text or 0)
        expected.channels[channel] = (
            description["ChannelName"].text or "",
            float(description["MainExcitationWavelength"].text or 0),
            emission or None,
        )
        expected.pixel_size_um = float(description["ImageResolutionX"].text or 0) * 1e6
        expected.shape = (
            int(description["ImageSizeY"].text or 0),
            int(description["ImageSizeX"].text or 0),
        )
        timepoint = re.search(r"K(\d+)", fields["id"].text or "")
        assert timepoint is not None
        key = PlaneKey(
            well_name(int(fields["Row"].text or 0), int(fields["Col"].text or 0)),
            int(fields["FieldID"].text or 0),
            channel,
            int(fields["PlaneID"].text or 0),
            int(timepoint.group(1)),
        )
        expected.planes[key] = fields["URL"].text or ""
        expected.positions_um[key] = tuple(  # type: ignore[assignment]
            float(fields[f"Position{axis}"].text or 0) * 1e6 for axis in "XYZ"
        )
    return expected


@pytest.fixture(params=VERSIONS)
def export(request: pytest.FixtureRequest, pe2loaddata_exports: Path) -> Path:
    """One real export's measurement folder (its index and TIFFs are in ``images/``)."""
    return pe2loaddata_exports / str(request.param)


@pytest.mark.parametrize("opened", ["measurement", "images"])
def test_the_export_is_detected_from_either_folder(export: Path, opened: str) -> None:
    folder = export if opened == "measurement" else export / "images"
    assert detect_microscope(folder).name == "opera_phenix"


def test_the_metadata_is_what_the_index_says(export: Path) -> None:
    expected = read_index(export / "images")
    meta = open_plate(export).metadata
    assert (meta.name, meta.rows, meta.columns) == (expected.name, expected.rows, expected.columns)
    assert meta.wells == expected.wells
    assert meta.sites == sorted({key.site for key in expected.planes})
    assert meta.z_count == len({key.z_index for key in expected.planes})
    assert meta.t_count == len({key.timepoint for key in expected.planes})
    channels = {
        number: (channel.name, channel.excitation_nm, channel.emission_nm)
        for number, channel in meta.channels.items()
    }
    assert channels == expected.channels
    assert meta.pixel_size_um == pytest.approx(expected.pixel_size_um)
    assert meta.image_shape == expected.shape and meta.dtype == "uint16"
    for key, position in expected.positions_um.items():
        assert meta.positions[key] == pytest.approx(position)


def test_every_plane_is_where_the_index_says_and_nothing_is_missing(export: Path) -> None:
    expected = read_index(export / "images")
    plate = open_plate(export)
    assert {key: Path(address).name for key, address in plate.planes()} == expected.planes
    assert plate.missing() == []


def test_every_plane_reads_as_tifffile_reads_the_vendor_file(export: Path) -> None:
    plate = open_plate(export)
    for key, url in read_index(export / "images").planes.items():
        vendor = tifffile.imread(export / "images" / url)
        pixels = plate.read_plane(key)
        assert pixels.dtype == vendor.dtype and np.array_equal(pixels, vendor), key


def test_inspect_reports_the_compressions_of_the_export(
    export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(export)]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    found = {line[1]: line[2] for line in lines if line[0] == "compression"}
    kinds = set()
    for path in (export / "images").glob("*.tiff"):
        with tifffile.TiffFile(path) as tiff:
            kinds.add(tiff.pages.first.compression.name)
    assert kinds <= {"LZW", "NONE"} and kinds  # what the exports are known to hold
    assert set(found) == {{"LZW": "LZW", "NONE": "none"}[kind] for kind in kinds}
    assert set(found.values()) == {"(decodable)"}


def test_the_conversion_holds_the_vendor_pixels(export: Path, tmp_path: Path) -> None:
    expected = read_index(export / "images")
    out = tmp_path / "out.zarr"
    result = convert(export, out)
    assert result.planes_written == len(expected.planes) and not result.bad
    channels = sorted(expected.channels)
    root = zarr.open_group(str(out), mode="r")
    assert unwrap("0.5", dict(root.attrs))["plate"]["wells"][0]["path"] == "A/1"
    for key, url in expected.planes.items():
        field_group = zarr.open_group(str(out / well_path(key.well) / str(key.site - 1)), mode="r")
        [multiscale] = unwrap("0.5", dict(field_group.attrs))["multiscales"]
        axes = [axis["name"] for axis in multiscale["axes"]]
        position = {
            "t": key.timepoint - 1,
            "c": channels.index(key.channel),
            "z": key.z_index - 1,
        }
        array = field_group[multiscale["datasets"][0]["path"]]
        stored = np.asarray(array[tuple(position[a] for a in axes[:-2])])
        assert np.array_equal(stored, tifffile.imread(export / "images" / url)), key
