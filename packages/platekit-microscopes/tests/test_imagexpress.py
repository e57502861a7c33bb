"""The ImageXpress handler: the contract on every layout, and what real MetaXpress plates do."""

from __future__ import annotations

import pickle
import re
import shutil
import string
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr
from hypothesis import given
from hypothesis import strategies as st

from platekit.microscopes import (
    Channel,
    PlaneKey,
    PlateError,
    PlateFormatError,
    convert,
    detect_microscope,
    open_plate,
    well_name,
)
from platekit.microscopes._ngff import unwrap
from platekit.microscopes.handlers import _imagexpress_names, _metaseries, imagexpress
from platekit.microscopes.handlers.imagexpress import ImageXpressHandler, ImageXpressParser
from platekit.microscopes.testing import expected_pixels, write_plate
from platekit.microscopes.testing.contract import HandlerContract
from platekit.registry._cli import main

PARSER = ImageXpressParser()
GUID = "3F2504E0-4F89-41D3-9A0C-0305E82C3301"


class TestImageXpress(HandlerContract):
    kind = "imagexpress"


# Variant -> (writer options, z planes, time points) of the contract's plate.
VARIANTS: dict[str, tuple[dict[str, Any], int, int]] = {
    "flat": ({"layout": "flat"}, 1, 1),
    "timepoint": ({"layout": "timepoint"}, 1, 2),
    "zstep": ({"layout": "zstep"}, 2, 1),
    "nested": ({"layout": "timepoint_zstep"}, 2, 2),
    "htd only in TimePoint_1, lower case": (
        {"htd_in_timepoint": "only", "htd_name_case": "lower"},
        2,
        2,
    ),
    "htd in both": ({"htd_in_timepoint": True}, 1, 1),
    "GUIDs, thumbnails, .TIF": ({"guid": True, "thumbnails": True, "extension": ".TIF"}, 1, 2),
    "bracketed GUIDs, UTF-8 HTD": ({"guid": "bracketed", "description_encoding": "utf-8"}, 2, 1),
    "projections in ZStep_0": ({"projections": True}, 2, 2),
}


class TestImageXpressVariants(HandlerContract):
    """The contract again, on each folder layout and naming MetaXpress uses."""

    kind = "imagexpress"

    @pytest.fixture(autouse=True, params=list(VARIANTS))
    def variant(self, request: pytest.FixtureRequest) -> None:
        self.options, self.z, self.t = VARIANTS[request.param]

    @pytest.fixture
    def spec(self, variant: None) -> dict[str, Any]:
        return {
            "wells": ["A01", "A02", "B03"],
            "sites": 2,
            "channels": 2,
            "z": self.z,
            "t": self.t,
            "shape": (24, 32),
            "pixel_size_um": 0.5,
        }

    def write(self, folder: Path, **spec: Any) -> Path:
        return write_plate(self.kind, folder, **self.options, **spec)


# -- file names --------------------------------------------------------------------------

prefixes = st.text(string.ascii_letters + string.digits + "_- .", min_size=1, max_size=24)
wells = st.builds(well_name, st.integers(1, 16), st.integers(1, 24)) | st.just("AA01")
numbers = st.none() | st.tuples(st.integers(1, 120), st.integers(1, 3))
guids = st.sampled_from(["", GUID, GUID.lower(), f"_{GUID}", f"_[{GUID}]", f"{{{GUID}}}"])


@given(prefixes, wells, numbers, numbers, guids, st.sampled_from([".tif", ".TIF"]))
def test_names_parse_right_to_left_and_format_back(
    prefix: str,
    well: str,
    site: tuple[int, int] | None,
    wave: tuple[int, int] | None,
    guid: str,
    extension: str,
) -> None:
    def part(letter: str, number: tuple[int, int] | None) -> str:
        return f"_{letter}{number[0]:0{number[1]}d}" if number else ""

    stem = f"{prefix}_{well}{part('s', site)}{part('w', wave)}"
    name = f"{stem}{guid}{extension}"
    parsed = PARSER.parse(name)
    assert parsed is not None, name
    assert parsed.prefix == prefix
    assert parsed.well == well
    assert parsed.site == (site[0] if site else None)
    assert parsed.channel == (wave[0] if wave else None)
    assert parsed.extension == extension
    assert parsed.get("guid") == (guid or None)
    assert PARSER.format(parsed) == name
    assert PARSER.parse(f"{stem}_thumb{guid}{extension}") is None


@given(prefixes, wells, numbers, numbers, guids)
def test_a_scan_reads_a_name_after_a_known_prefix_as_the_parser_does(
    prefix: str, well: str, site: tuple[int, int] | None, wave: tuple[int, int] | None, guid: str
) -> None:
    # A scan reads a listing with one pattern for the names that start with one
    # plane's prefix: whichever prefix that is, a tail that fits must be the parser's.
    name = (
        f"{prefix}_{well}"
        + (f"_s{site[0]}" if site else "")
        + (f"_w{wave[0]}" if wave else "")
        + f"{guid}.tif"
    )
    parsed = PARSER.parse(name)
    assert parsed is not None
    cuts = [index + 1 for index, letter in enumerate(name) if letter == "_"]
    tail = re.compile(_imagexpress_names._TAIL)
    fits = [cut for cut in cuts if tail.fullmatch(name, cut)]
    assert fits == [len(parsed.prefix) + 1]


def _plane_name(prefix: str, well: str, site: int | None, wave: int | None, rest: str) -> str:
    return (
        f"{prefix}_{well}"
        + (f"_s{site}" if site is not None else "")
        + (f"_w{wave}" if wave is not None else "")
        + rest
    )


listing_names = st.one_of(
    st.builds(
        _plane_name,
        st.sampled_from(["Plate", "Plate_2", "P"]),
        wells,
        st.none() | st.integers(1, 12),
        st.none() | st.integers(1, 4),
        st.sampled_from([".tif", ".TIF", "_thumb.tif", f"{GUID}.tif", ".png"]),
    ),
    st.sampled_from(["Plate.HTD", "notes.txt", "A01_s1_w1.tif", "a\nPlate_A01.tif", "_A01.tif"]),
)


@given(st.lists(listing_names, max_size=30, unique=True))
def test_a_listing_read_at_once_gives_what_reading_name_by_name_gives(names: list[str]) -> None:
    by_name = []
    for name in names:
        parsed = _imagexpress_names.NAME.fullmatch(name)
        if parsed is not None and not parsed["thumb"]:
            end = max(parsed.end("well"), parsed.end("site"), parsed.end("wave"))
            stem = name[parsed.start("well") : end]
            well, site, wave = parsed["well"], parsed["site"] or "", parsed["wave"] or ""
            by_name.append((name, stem, well, site, wave))
    at_once = [row[:5] for row in _imagexpress_names.plane_rows(names)]
    assert at_once == by_name


@pytest.mark.parametrize(
    ("names", "count"),
    [
        (["P_A01_s1_w1.tif", "P_A01_s2_w1.tif", f"P_A01_s1_w1{GUID}.tif", "P_A01_s1_w1.TIF"], 2),
        (["P_A01_s1_w1.tif", "P_A01_s01_w1.tif", "P_A01_w1.tif", "P_A01_s2_w1.tif"], 2),
        (["P_A01.tif", "P_A01_s1_w1.tif", "P_B02.tif"], 2),
    ],
)
def test_a_listing_counts_each_plane_once_however_its_names_spell_it(
    names: list[str], count: int
) -> None:
    listed = _imagexpress_names.Listed(_imagexpress_names.plane_rows(names))
    assert listed.count == count
    assert listed.has("A01", 1, 1)
    assert not listed.has("A01", 3, 1)
    assert not listed.has("C03", 1, 1)
    assert listed.has("B02", 1, 1) == any(name.startswith("P_B02") for name in names)
    # A plane's file is its first row, found from its stem without a key made per row.
    assert listed.name("A01", 1, 1) == names[0]
    assert listed.name("A01", 3, 1) is None
    assert listed.name("C03", 1, 1) is None


def test_a_name_without_a_prefix_keeps_its_zero_padded_site() -> None:
    parsed = PARSER.parse("A01_s001_w1.tif")
    assert parsed is not None
    assert (parsed.prefix, parsed.well, parsed.site, parsed.channel) == ("", "A01", 1, 1)
    assert PARSER.format(parsed) == "A01_s001_w1.tif"


@pytest.mark.parametrize(
    "name",
    [
        "Plate1.HTD",
        "notes.txt",
        "Plate1_A01_s1_w1.png",
        "Plate1_A01_s1_w1_thumb.tif",
        f"Plate1_A01_s1_w1_thumb{GUID}.TIF",
        "Plate1_A00_s1_w1.tif",
        "Plate1_a01_s1_w1.tif",
        "Plate1_A01_w1_s1.tif",
        "_A01.tif",
    ],
)
def test_other_files_are_not_planes(name: str) -> None:
    assert PARSER.parse(name) is None


# -- finding the HTD ---------------------------------------------------------------------


@pytest.mark.parametrize("rename", [".HTD", ".htd", ".Htd"])
def test_the_htd_is_found_whatever_the_case_of_its_extension(tmp_path: Path, rename: str) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1")
    (folder / "Plate1.HTD").rename(folder / f"Plate1{rename}")
    assert detect_microscope(folder).name == "imagexpress"
    assert ImageXpressHandler().detect(folder) == folder / f"Plate1{rename}"
    assert open_plate(folder).metadata.wells == ["A01", "A02"]


def test_an_htd_only_in_timepoint_1_is_found(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", htd_in_timepoint="only")
    assert not list(folder.glob("*.HTD"))
    assert detect_microscope(folder).name == "imagexpress"
    meta = open_plate(folder).metadata
    assert meta.extra["htd"] == "TimePoint_1/Plate1.HTD"
    assert meta.name == "Plate1"


def test_a_folder_without_an_htd_says_what_was_looked_for(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1")
    (folder / "Plate1.HTD").unlink()
    assert ImageXpressHandler().detect(folder) is None
    with pytest.raises(FileNotFoundError, match=r"no \.HTD file .*TimePoint_1"):
        open_plate(folder, microscope="imagexpress")


# -- the HTD -----------------------------------------------------------------------------


def htd_lines(folder: Path) -> list[str]:
    return (folder / "Plate1.HTD").read_bytes().decode("cp1252").split("\r\n")


def write_htd(folder: Path, lines: list[str], encoding: str = "cp1252") -> None:
    (folder / "Plate1.HTD").write_bytes("\r\n".join(lines).encode(encoding))


def test_the_htd_is_written_as_metaxpress_writes_it(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", sites=2, channels=2)
    data = (folder / "Plate1.HTD").read_bytes()
    assert data.startswith(b'"HTSInfoFile", Version 1.0\r\n')
    assert data.endswith(b'"EndFile"\r\n')
    assert data.count(b"\n") == data.count(b"\r\n")
    assert b"10 \xb5M" in data  # Windows-1252, not UTF-8


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8"])
def test_the_description_reads_in_either_encoding(tmp_path: Path, encoding: str) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", description_encoding=encoding)
    assert open_plate(folder).metadata.extra["description"] == "Plate1, synthetic plate, 10 µM"


def test_bytes_that_are_not_windows_1252_read_as_latin_1(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1")
    data = (folder / "Plate1.HTD").read_bytes().replace(b"10 \xb5M", b"\x81\x8d\x85")
    (folder / "Plate1.HTD").write_bytes(data)
    meta = open_plate(folder).metadata
    assert meta.extra["description"] == "Plate1, synthetic plate, \x81\x8d\x85"
    assert meta.wells == ["A01", "A02"]


def test_lf_line_ends_and_a_byte_order_mark_read_like_crlf(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", sites=4, channels=2)
    before = open_plate(folder).metadata
    text = "\ufeff" + "\n".join(htd_lines(folder))
    (folder / "Plate1.HTD").write_bytes(text.encode("utf-8"))
    after = open_plate(folder).metadata
    assert (after.wells, after.sites, after.channels, after.grid) == (
        before.wells,
        before.sites,
        before.channels,
        before.grid,
    )


def test_the_plate_format_comes_from_xwells_and_ywells(tmp_path: Path) -> None:
    folder = write_plate(
        "imagexpress", tmp_path / "Plate1", wells=["P24", "A01"], plate_format=(16, 24)
    )
    meta = open_plate(folder).metadata
    assert (meta.rows, meta.columns) == (16, 24)
    assert meta.wells == ["A01", "P24"]


def test_sites_are_the_selected_cells_in_reading_order(tmp_path: Path) -> None:
    ring = [[True, True, True], [True, False, True], [True, True, True]]
    folder = write_plate(
        "imagexpress",
        tmp_path / "Plate1",
        wells=["A01"],
        sites=8,
        site_selection=ring,
        shape=(16, 16),
    )
    plate = open_plate(folder)
    assert plate.metadata.sites == list(range(1, 9))
    assert plate.metadata.grid == (3, 3)
    assert plate.metadata.extra["site_cells"] == [
        [1, 1],
        [1, 2],
        [1, 3],
        [2, 1],
        [2, 3],
        [3, 1],
        [3, 2],
        [3, 3],
    ]
    assert len(list(plate.planes())) == 8
    np.testing.assert_array_equal(
        plate.read("A01", site=8), expected_pixels(PlaneKey("A01", 8), (16, 16))
    )


def test_a_single_site_plate_has_no_site_in_its_names(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", sites=1, channels=1, wave_names=False)
    assert '"Sites", FALSE' in htd_lines(folder)
    names = sorted(path.name for path in folder.glob("*.tif"))
    assert names == ["Plate1_A01.tif", "Plate1_A02.tif"]
    plate = open_plate(folder)
    assert plate.metadata.sites == [1]
    assert list(plate.metadata.channels) == [1]
    np.testing.assert_array_equal(plate.read("A02"), expected_pixels(PlaneKey("A02")))


def uncollect_wave_2(folder: Path) -> None:
    lines = htd_lines(folder)
    lines[lines.index('"WaveCollect2", 1')] = '"WaveCollect2", 0'
    write_htd(folder, lines)


def test_a_wave_not_collected_is_not_a_channel(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", wells=["A01"], channels=3)
    uncollect_wave_2(folder)
    for path in folder.glob("*_w2.tif"):
        path.unlink()
    plate = open_plate(folder)
    assert plate.metadata.channels == {1: Channel(1, "DAPI"), 3: Channel(3, "TexasRed")}
    assert [key.channel for key, _ in plate.planes()] == [1, 3]
    assert plate.missing() == []
    np.testing.assert_array_equal(
        plate.read("A01", channel=3), expected_pixels(PlaneKey("A01", 1, 3))
    )


def test_files_of_a_wave_not_collected_are_left_out(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", wells=["A01"], channels=3)
    uncollect_wave_2(folder)
    plate = open_plate(folder)
    assert [key.channel for key, _ in plate.planes()] == [1, 3]
    assert plate.metadata.extra["unlisted_files"] == 1


def test_a_well_the_htd_does_not_select_is_left_out(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", wells=["A01"])
    shutil.copy(folder / "Plate1_A01_w1.tif", folder / "Plate1_H12_w1.tif")
    plate = open_plate(folder)
    assert plate.metadata.wells == ["A01"]
    assert [key.well for key, _ in plate.planes()] == ["A01"]
    assert plate.metadata.extra["unlisted_files"] == 1


def test_files_the_htd_does_not_list_are_said_to_be_left_out(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", wells=["A01", "A02"], channels=2)
    htd = folder / "Plate1.HTD"
    # An HTD of another run, one wave fewer: half the images are no plane of the plate.
    htd.write_bytes(htd.read_bytes().replace(b'"NWavelengths", 2', b'"NWavelengths", 1'))
    plate = open_plate(folder)
    assert [key.channel for key, _ in plate.planes()] == [1, 1]
    assert plate.metadata.notices == [
        "2 image files name planes Plate1.HTD does not list (a well, site or wave it does not "
        "select, or a time point or z step past its counts): left out of the plate; if they "
        "belong to it, check that the HTD is this plate's own"
    ]
    assert open_plate(write_plate("imagexpress", tmp_path / "Plate2")).metadata.notices == []


def test_a_missing_well_is_reported_plane_by_plane(tmp_path: Path) -> None:
    gone = [PlaneKey("B03", site, 1) for site in (1, 2)]
    folder = write_plate(
        "imagexpress", tmp_path / "Plate1", wells=["A01", "B03"], sites=2, missing=gone
    )
    plate = open_plate(folder)
    assert plate.metadata.wells == ["A01", "B03"]
    assert plate.missing() == gone


# Each case: (line to find, its replacement, what the error says).
MALFORMED = {
    "no HTSInfoFile": (
        '"HTSInfoFile", Version 1.0',
        '"HTSInfo", Version 1.0',
        'does not start with "HTSInfoFile"',
    ),
    "unquoted key": ('"XWells", 12', "XWells, 12", "is not an HTD line"),
    "unterminated quote": (
        '"Description", "Plate1, synthetic plate, 10 µM"',
        '"Description", "Plate1',
        "malformed",
    ),
    "not a number": ('"XWells", 12', '"XWells", twelve', "whole number"),
    "not a flag": ('"ZSeries", FALSE', '"ZSeries", MAYBE', "TRUE or FALSE"),
    "short selection": (
        '"WellsSelection2", ' + ", ".join(["FALSE"] * 12),
        '"WellsSelection2", ' + ", ".join(["FALSE"] * 11),
        "lists 11 values",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_htd_is_reported_with_its_file_and_line(tmp_path: Path, case: str) -> None:
    find, replacement, says = MALFORMED[case]
    folder = write_plate("imagexpress", tmp_path / "Plate1")
    lines = htd_lines(folder)
    number = lines.index(find) + 1
    lines[number - 1] = replacement
    write_htd(folder, lines)
    with pytest.raises(PlateFormatError, match=says) as caught:
        open_plate(folder)
    assert caught.value.line == number
    assert caught.value.path == str(folder / "Plate1.HTD")
    assert f"Plate1.HTD, line {number}:" in str(caught.value)


def test_an_htd_that_selects_no_well_says_so(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", wells=["A01"])
    lines = [
        line.replace("TRUE", "FALSE") if line.startswith('"WellsSelection') else line
        for line in htd_lines(folder)
    ]
    write_htd(folder, lines)
    with pytest.raises(PlateFormatError, match="selects no well"):
        open_plate(folder)


# -- folders -----------------------------------------------------------------------------


def test_thumbnails_are_skipped(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", sites=2, thumbnails=True, guid=True)
    assert len(list(folder.glob("*_thumb*.tif"))) == 4
    plate = open_plate(folder)
    assert len(list(plate.planes())) == 4
    assert not any("_thumb" in address for _, address in plate.planes())
    assert "unlisted_files" not in plate.metadata.extra


def test_projections_beside_zstep_folders_are_not_planes(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", wells=["A01"], z=3)
    shutil.copy(folder / "TimePoint_1/ZStep_2/Plate1_A01_w1.tif", folder / "TimePoint_1")
    plate = open_plate(folder)
    assert [address for _, address in plate.planes()] == [
        f"TimePoint_1/ZStep_{z}/Plate1_A01_w1.tif" for z in (1, 2, 3)
    ]


@pytest.mark.parametrize(("compression", "written"), [("lzw", "LZW"), (None, "NONE")])
def test_the_writer_compresses_as_metaxpress_does(
    tmp_path: Path, compression: str | None, written: str
) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", compression=compression)
    plate = open_plate(folder)
    for key, address in plate.planes():
        with tifffile.TiffFile(folder / address) as tiff:
            assert tiff.pages.first.compression.name == written
        assert np.array_equal(plate.read_plane(key), expected_pixels(key))


def test_the_writer_refuses_lzw_without_imagecodecs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An entry of None in sys.modules makes `import imagecodecs` raise ImportError.
    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    with pytest.raises(ImportError, match=r"MetaXpress export is LZW.*pip install imagecodecs"):
        write_plate("imagexpress", tmp_path / "Plate1")
    assert not list(tmp_path.rglob("*.tif"))


# -- projections ---------------------------------------------------------------------------

PROJECTED = {"wells": ["A01", "B02"], "sites": 2, "channels": 2, "z": 3, "t": 2, "shape": (24, 32)}


def projected_plate(tmp_path: Path) -> Path:
    return write_plate("imagexpress", tmp_path / "Plate1", projections=True, **PROJECTED)  # type: ignore[arg-type]


def maximum_projection(key: PlaneKey) -> np.ndarray:
    stack = [
        expected_pixels(PlaneKey(key.well, key.site, key.channel, z, key.timepoint), (24, 32))
        for z in range(1, 4)
    ]
    return np.max(stack, axis=0)


def test_the_writer_puts_projections_in_zstep_0(tmp_path: Path) -> None:
    folder = projected_plate(tmp_path)
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("ZStep_0/*.tif"))
    assert len(written) == 2 * 2 * 2 * 2  # wells, sites, waves, time points
    assert "TimePoint_2/ZStep_0/Plate1_B02_s2_w1.tif" in written
    assert '"ZProjection", TRUE' in (folder / "Plate1.HTD").read_text("cp1252")


def test_projections_are_left_out_of_the_z_stack_and_a_notice_says_so(tmp_path: Path) -> None:
    plate = open_plate(projected_plate(tmp_path))
    assert plate.metadata.z_count == 3
    assert not any("ZStep_0" in address for _, address in plate.planes())
    assert len(list(plate.planes())) == 2 * 2 * 2 * 3 * 2 and plate.missing() == []
    [notice] = plate.metadata.notices
    assert "16 projection images" in notice and "projections=True / --projections" in notice
    assert plate.metadata.extra["projection_images"] == 16
    assert "unlisted_files" not in plate.metadata.extra


def test_projections_true_reads_them_as_the_plate_at_z_1(tmp_path: Path) -> None:
    plate = open_plate(projected_plate(tmp_path), projections=True)
    meta = plate.metadata
    assert (meta.z_count, meta.t_count, meta.z_step_um) == (1, 2, None)
    planes = dict(plate.planes())
    assert len(planes) == 16 and plate.missing() == []
    assert all(address.split("/")[1] == "ZStep_0" for address in planes.values())
    for key in planes:
        assert key.z_index == 1
        assert np.array_equal(plate.read_plane(key), maximum_projection(key)), key
    assert "read as the plate" in meta.notices[0]


def test_projections_beside_zstep_folders_are_read_when_there_is_no_zstep_0(
    tmp_path: Path,
) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", wells=["A01"], z=3)
    shutil.copy(folder / "TimePoint_1/ZStep_2/Plate1_A01_w1.tif", folder / "TimePoint_1")
    plate = open_plate(folder, projections=True)
    assert dict(plate.planes()) == {PlaneKey("A01"): "TimePoint_1/Plate1_A01_w1.tif"}


def test_projections_true_without_projections_says_so(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", wells=["A01"], z=3)
    with pytest.raises(PlateError, match=r"holds no projections.*without projections=True"):
        open_plate(folder, projections=True)


def test_projections_true_on_a_format_without_them_is_refused(tmp_path: Path) -> None:
    folder = write_plate("opera_phenix", tmp_path / "Harmony", wells=["A01"])
    with pytest.raises(PlateError, match="projections platekit does not read"):
        open_plate(folder, projections=True)


def test_a_conversion_of_projections_never_resumes_into_the_z_stack(tmp_path: Path) -> None:
    folder = projected_plate(tmp_path)
    out = tmp_path / "out.zarr"
    result = convert(open_plate(folder, projections=True), out)
    assert result.planes_written == 16
    field = zarr.open_group(str(out / "B" / "2" / "1"), mode="r")
    axes = [axis["name"] for axis in unwrap("0.5", dict(field.attrs))["multiscales"][0]["axes"]]
    assert axes == ["t", "c", "y", "x"]
    stored = np.asarray(field["0"][1, 0])
    assert np.array_equal(stored, maximum_projection(PlaneKey("B02", 2, 1, 1, 2)))
    with pytest.raises(FileExistsError):
        convert(folder, out)


def test_inspect_and_convert_take_projections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = projected_plate(tmp_path)
    assert main(["inspect", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "z planes       3" in text and "note: 16 projection images" in text
    assert main(["inspect", "--projections", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "z planes       1" in text and "planes         16 present" in text
    out = tmp_path / "out.zarr"
    assert main(["convert", "--projections", "-q", str(folder), str(out)]) == 0
    assert open_plate(out).metadata.z_count == 1


def test_a_prefix_with_underscores_is_the_plate_name(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Screen_2024_01", wells=["C07"], sites=2)
    plate = open_plate(folder)
    assert plate.metadata.name == "Screen_2024_01"
    assert [address for _, address in plate.planes()] == [
        "Screen_2024_01_C07_s1_w1.tif",
        "Screen_2024_01_C07_s2_w1.tif",
    ]


# -- what the TIFFs say ------------------------------------------------------------------


def test_pixel_size_shape_and_dtype_come_from_the_first_plane(tmp_path: Path) -> None:
    folder = write_plate(
        "imagexpress", tmp_path / "Plate1", pixel_size_um=0.325, shape=(20, 30), dtype="uint8"
    )
    assert "PixelSize" not in "".join(htd_lines(folder))
    meta = open_plate(folder).metadata
    assert meta.pixel_size_um == pytest.approx(0.325)
    assert (meta.image_shape, meta.dtype) == ((20, 30), "uint8")
    assert meta.extra["objective"] == "20X Plan Apo"


def test_a_pixel_size_in_the_htd_comes_first(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", pixel_size_in_htd=True)
    lines = htd_lines(folder)
    lines[lines.index('"PixelSize", 0.65')] = '"PixelSize", 1.3'
    write_htd(folder, lines)
    assert open_plate(folder).metadata.pixel_size_um == pytest.approx(1.3)


def test_a_plane_without_metaseries_xml_gives_no_pixel_size(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", shape=(16, 16))
    tifffile.imwrite(
        folder / "Plate1_A01_w1.tif", expected_pixels(PlaneKey("A01"), (16, 16)), metadata=None
    )
    meta = open_plate(folder).metadata
    assert meta.pixel_size_um is None
    assert meta.image_shape == (16, 16)


def test_the_z_step_comes_from_the_z_positions(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", z=3, z_step_um=1.5)
    assert open_plate(folder).metadata.z_step_um == pytest.approx(1.5)


def test_stage_positions_are_read_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1", sites=2, channels=2)
    opened: list[str] = []
    read = _metaseries.tiff_header

    def counting(path: Path) -> _metaseries.TiffHeader | None:
        opened.append(path.name)
        return read(path)

    monkeypatch.setattr(imagexpress, "tiff_header", counting)
    monkeypatch.setattr(_metaseries, "tiff_header", counting)
    plate = open_plate(folder)
    assert opened == ["Plate1_A01_s1_w1.tif"]

    positions = plate.metadata.positions
    assert len(positions) == 8
    assert len(opened) == 1 + 8
    for key, address in plate.planes():
        with tifffile.TiffFile(folder / address) as tiff:
            plane = tiff.metaseries_metadata["PlaneInfo"]
        assert positions[key] == pytest.approx(
            (plane["stage-position-x"], plane["stage-position-y"], plane["z-position"])
        )
    assert positions[PlaneKey("A01", 1, 1)] != positions[PlaneKey("A01", 2, 1)]


def test_metadata_pickles_with_its_positions(tmp_path: Path) -> None:
    meta = open_plate(write_plate("imagexpress", tmp_path / "Plate1")).metadata
    copy = pickle.loads(pickle.dumps(meta))
    assert type(copy.positions) is dict
    assert copy == meta
    assert len(copy.positions) == 2


# -- the writer --------------------------------------------------------------------------


def test_the_writers_metaseries_xml_has_what_metaxpress_records(tmp_path: Path) -> None:
    # The stage's own axes, the site's label and the exposure, as MetaXpress writes them
    # (faim-ipa's MetaXpress converter refuses a plane without them).
    folder = write_plate("imagexpress", tmp_path / "Plate1", sites=2, channels=2)
    plate = open_plate(folder)
    for key, address in plate.planes():
        with tifffile.TiffFile(folder / address) as tiff:
            plane = tiff.metaseries_metadata["PlaneInfo"]
        assert (
            plane["ImageXpress Micro X"],
            plane["ImageXpress Micro Y"],
            plane["ImageXpress Micro Z"],
        ) == (plane["stage-position-x"], plane["stage-position-y"], plane["z-position"])
        assert plane["stage-label"] == f"{key.well} : Site {key.site}"
        value, unit = plane["Exposure Time"].split(" ")
        assert float(value) > 0 and unit == "ms"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"colour": "red"}, "does not take"),
        ({"layout": "flat", "z": 2}, "cannot hold"),
        ({"layout": "zstep", "t": 2}, "cannot hold"),
        ({"sites": 2, "site_names": False}, "needs site_names"),
        ({"sites": 3, "site_selection": [[True, True]]}, "selects 2 sites"),
    ],
)
def test_the_writer_refuses_what_metaxpress_cannot_write(
    tmp_path: Path, options: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        write_plate("imagexpress", tmp_path / "Plate1", **options)


def _values_one_by_one(rest: str) -> tuple[str, ...]:
    """The values of an HTD line's text after its key, read value by value with the quoted-value
    pattern (the reading every line had before bare lines were split at their commas)."""
    from platekit.microscopes.handlers._htd import _VALUE

    values, position = [], 0
    while True:
        value = _VALUE.match(rest, position)
        assert value is not None
        quoted, bare, separator = value.groups()
        values.append(quoted.replace('""', '"') if quoted is not None else bare)
        position = value.end()
        if not separator:
            return tuple(values)


@given(st.text(alphabet=st.characters(blacklist_characters='"\n'), min_size=1))
def test_an_htd_line_of_bare_values_reads_as_value_by_value(rest: str) -> None:
    from platekit.microscopes.handlers._htd import _parse_line

    assert _parse_line(Path("p.HTD"), f'"Key",{rest}', 1).values == _values_one_by_one(rest)


@pytest.mark.parametrize(
    ("row", "values"),
    [
        ('"WellsSelection1", TRUE, FALSE,  TRUE ', ("TRUE", "FALSE", "TRUE")),
        ('"XWells", 12', ("12",)),
        ('"Description", a,, b,', ("a", "", "b", "")),
        ('"Description", "a, ""b""", c', ('a, "b"', "c")),
        ('"EndFile"', ()),
    ],
)
def test_an_htd_line_reads_its_values(row: str, values: tuple[str, ...]) -> None:
    from platekit.microscopes.handlers._htd import _parse_line

    assert _parse_line(Path("p.HTD"), row, 1).values == values


@pytest.mark.parametrize("enabled", [True, False])
def test_a_listing_is_read_with_no_cycle_collection_and_the_collector_left_as_it_was(
    enabled: bool,
) -> None:
    import gc

    names = [
        f"P_{row}{column:02d}_s{site}_w1.tif"
        for row in "ABCDEFGH"
        for column in range(1, 13)
        for site in range(1, 101)
    ]
    started: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    was = gc.isenabled()
    gc.enable() if enabled else gc.disable()
    gc.callbacks.append(count)
    try:
        listed = _imagexpress_names.read_listing(names)
        assert gc.isenabled() == enabled
    finally:
        gc.callbacks.remove(count)
        gc.enable() if was else gc.disable()
    assert listed.count == len(names)
    # At most the one collection the resumed collector starts; reading the rows with it
    # running started one every few hundred of them.
    assert len(started) <= (1 if enabled else 0), started


def test_a_damaged_first_file_leaves_the_plate_its_pixel_size_and_image_shape(
    tmp_path: Path,
) -> None:
    plate = write_plate(
        "imagexpress", tmp_path / "plate", wells=["A01", "A02"], shape=(24, 32), pixel_size_um=0.5
    )
    first = plate / next(open_plate(plate).planes())[1]
    damaged = shutil.copytree(plate, tmp_path / "damaged")
    (damaged / first.relative_to(plate)).write_bytes(first.read_bytes()[:100])
    meta = open_plate(damaged).metadata
    assert (meta.pixel_size_um, meta.image_shape, meta.dtype) == (0.5, (24, 32), "uint16")
    out = convert(damaged, tmp_path / "out.zarr", skip_bad_planes=True)
    assert len(out.absent) == 1
    image = zarr.open_group(tmp_path / "out.zarr" / "A" / "1" / "0", mode="r")
    scale = unwrap("0.5", image.attrs.asdict())["multiscales"][0]["datasets"][0]
    assert scale["coordinateTransformations"][0]["scale"][-2:] == [0.5, 0.5]
