"""The Opera Phenix / Operetta handler: Harmony 5 and 7 exports, both layouts, hostile indexes."""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from hypothesis import given
from hypothesis import strategies as st

from platekit.microscopes import PlateFormatError, detect_microscope, open_plate
from platekit.microscopes._handler import MICROSCOPE_HANDLERS
from platekit.microscopes._model import PlaneKey, PlaneName
from platekit.microscopes.testing import expected_pixels, write_plate
from platekit.microscopes.testing.contract import HandlerContract

KIND = "opera_phenix"


class TestOperaV5(HandlerContract):
    kind = KIND


class TestOperaV7(HandlerContract):
    kind = KIND

    def write(self, folder: Path, **spec: Any) -> Path:
        return write_plate(self.kind, folder, version=7, **spec)


class TestOperaFlat(HandlerContract):
    """The index and the TIFFs in the measurement folder itself, as some exports have them."""

    kind = KIND

    def write(self, folder: Path, **spec: Any) -> Path:
        return write_plate(self.kind, folder, index_in_images=False, **spec)


def parser() -> Any:
    return MICROSCOPE_HANDLERS[KIND]().parser


def index_of(folder: Path) -> Path:
    found = MICROSCOPE_HANDLERS[KIND]().metadata().find_metadata_file(folder)
    assert isinstance(found, Path)
    return found


def rewrite(index: Path, change: Any) -> None:
    """Apply ``change`` (text -> text) to the index, keeping its byte-order mark."""
    data = index.read_bytes()
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    index.write_bytes(bom + change(data[len(bom) :].decode("utf-8")).encode("utf-8"))


# -- layouts ---------------------------------------------------------------------------


def test_planes_below_images_are_addressed_from_the_measurement_folder(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1__2024-05-14T10_21_33-Measurement 1")
    plate = open_plate(folder)
    assert plate.metadata.extra["index_file"] == "Images/Index.idx.xml"
    key, address = next(plate.planes())
    assert address == "Images/r01c01f01p01-ch1sk1fk1fl1.tiff"
    np.testing.assert_array_equal(plate.read_plane(key), expected_pixels(key))


def test_flat_layout_addresses_are_file_names(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", index_in_images=False)
    assert (folder / "Index.idx.xml").is_file()
    assert not (folder / "Images").exists()
    _, address = next(open_plate(folder).planes())
    assert address == "r01c01f01p01-ch1sk1fk1fl1.tiff"


def test_the_images_folder_itself_opens_as_the_plate(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Measurement 1", name="Screen7")
    plate = open_plate(folder / "Images")
    assert plate.metadata.name == "Screen7"
    key, address = next(plate.planes())
    assert address == "r01c01f01p01-ch1sk1fk1fl1.tiff"
    np.testing.assert_array_equal(plate.read_plane(key), expected_pixels(key))


def test_harmony_7_writes_index_xml(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", version=7)
    assert index_of(folder).name == "Index.xml"
    assert open_plate(folder).metadata.extra["harmony_version"] == 7


def test_a_flat_field_export_index_is_read(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", index_name="Index.ref.xml")
    assert detect_microscope(folder).name == KIND
    assert open_plate(folder).metadata.extra["index_file"] == "Images/Index.ref.xml"


def test_a_columbus_index_is_read(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["B02"], channels=2)
    index = index_of(folder)
    rewrite(
        index,
        lambda text: text.replace(
            "http://www.perkinelmer.com/PEHH/HarmonyV5", "http://www.perkinelmer.com/Columbus"
        ),
    )
    index.rename(index.with_name("ImageIndex.ColumbusIDX.xml"))
    plate = open_plate(folder)
    assert plate.metadata.extra["schema"] == "http://www.perkinelmer.com/Columbus"
    assert [key for key, _ in plate.planes()] == [PlaneKey("B02", 1, 1), PlaneKey("B02", 1, 2)]


def test_a_plane_inside_a_multi_image_tiff_is_refused(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"], channels=2)
    rewrite(
        index_of(folder),
        lambda text: text.replace(
            "<URL>r01c01f01p01-ch2sk1fk1fl1.tiff</URL>",
            '<URL BufferNo="1">r01c01f01p01-ch1sk1fk1fl1.tiff</URL>',
        ),
    )
    with pytest.raises(PlateFormatError, match="BufferNo"):
        open_plate(folder)


def test_an_index_xml_of_another_format_is_not_taken_for_harmony(tmp_path: Path) -> None:
    (tmp_path / "Index.xml").write_text('<?xml version="1.0"?>\n<Catalogue><Entry/></Catalogue>\n')
    assert MICROSCOPE_HANDLERS[KIND]().detect(tmp_path) is None


# -- file names ------------------------------------------------------------------------


def test_parse_a_harmony_file_name() -> None:
    assert parser().parse("r02c01f02p01-ch3sk2fk1fl1.tiff") == PlaneName(
        well="B01",
        site=2,
        channel=3,
        z_index=1,
        timepoint=2,
        extension=".tiff",
        extra=(("fk", "1"), ("fl", "1")),
    )


@pytest.mark.parametrize(
    "name",
    [
        "Index.idx.xml",
        "r1c1f1p1-ch1sk1fk1fl1.tiff",
        "r001c01f01p01-ch1sk1fk1fl1.tiff",
        "r00c01f01p01-ch1sk1fk1fl1.tiff",
        "r01c01f01p01-ch01sk1fk1fl1.tiff",
        "r01c01f01p01-ch1sk0fk1fl1.tiff",
        "r01c01f01p01-ch1sk1fk1fl1.png",
        "r01c01f01p01-ch1sk1fk1fl1.tiff.bak",
        "R01C01F01P01-CH1SK1FK1FL1.tiff",
        "A01_s1_w1.tif",
    ],
)
def test_other_names_are_not_planes(name: str) -> None:
    assert parser().parse(name) is None


@given(
    row=st.integers(1, 32),
    column=st.integers(1, 48),
    field=st.integers(1, 400),
    plane=st.integers(1, 150),
    channel=st.integers(1, 12),
    timepoint=st.integers(1, 999),
    fk=st.integers(1, 9),
    fl=st.integers(1, 9),
    extension=st.sampled_from([".tiff", ".tif", ".TIFF"]),
)
def test_file_names_round_trip(
    row: int,
    column: int,
    field: int,
    plane: int,
    channel: int,
    timepoint: int,
    fk: int,
    fl: int,
    extension: str,
) -> None:
    name = (
        f"r{row:02d}c{column:02d}f{field:02d}p{plane:02d}-ch{channel}sk{timepoint}"
        f"fk{fk}fl{fl}{extension}"
    )
    parsed = parser().parse(name)
    assert parsed is not None
    assert (parsed.site, parsed.z_index, parsed.channel, parsed.timepoint) == (
        field,
        plane,
        channel,
        timepoint,
    )
    assert parser().format(parsed) == name
    assert parser().parse(parser().format(parsed)) == parsed


# -- time points -----------------------------------------------------------------------


def timepoint_ids(index: Path) -> set[int]:
    return {int(t) for t in re.findall(r"<TimepointID>(\d+)</TimepointID>", index.read_text())}


def test_harmony_5_and_7_give_the_same_timepoints(tmp_path: Path) -> None:
    spec: dict[str, Any] = {"wells": ["A01", "C05"], "sites": 2, "t": 3, "shape": (16, 16)}
    v5 = write_plate(KIND, tmp_path / "v5", version=5, **spec)
    v7 = write_plate(KIND, tmp_path / "v7", version=7, **spec)
    # The indexes really differ: Harmony 5 counts from 0, Harmony 7 from 1.
    assert timepoint_ids(index_of(v5)) == {0, 1, 2}
    assert timepoint_ids(index_of(v7)) == {1, 2, 3}
    plate5, plate7 = open_plate(v5), open_plate(v7)
    keys5 = [key for key, _ in plate5.planes()]
    assert keys5 == [key for key, _ in plate7.planes()]
    assert {key.timepoint for key in keys5} == {1, 2, 3}
    assert plate5.metadata.t_count == plate7.metadata.t_count == 3
    last = PlaneKey("C05", 2, 1, 1, 3)
    for plate in (plate5, plate7):
        np.testing.assert_array_equal(plate.read_plane(last), expected_pixels(last, (16, 16)))


@pytest.mark.parametrize("version", [5, 7])
def test_timepoint_id_is_used_when_neither_url_nor_id_name_the_plane(
    tmp_path: Path, version: int
) -> None:
    every = [PlaneKey("A01", 1, 1, 1, t) for t in (1, 2)]
    folder = write_plate(
        KIND, tmp_path / "Plate1", wells=["A01"], t=2, version=version, missing=every
    )
    rewrite(index_of(folder), lambda text: re.sub(r"<id>\d{4}K", "<id>img", text))
    assert open_plate(folder).missing() == every


# -- byte-order mark -------------------------------------------------------------------


@pytest.mark.parametrize("bom", [True, False])
def test_index_with_or_without_a_byte_order_mark(tmp_path: Path, bom: bool) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", name="Screen7", bom=bom)
    assert index_of(folder).read_bytes().startswith(b"\xef\xbb\xbf") is bom
    plate = open_plate(folder)
    assert plate.metadata.name == "Screen7"
    assert len(list(plate.planes())) == 2


# -- missing planes --------------------------------------------------------------------


def test_an_entry_with_an_empty_url_is_missing(tmp_path: Path) -> None:
    gone = PlaneKey("A02", 1, 2, 2, 1)
    folder = write_plate(KIND, tmp_path / "Plate1", channels=2, z=2, missing=[gone])
    assert "<URL />" in index_of(folder).read_text(encoding="utf-8-sig")
    plate = open_plate(folder)
    assert plate.missing() == [gone]
    assert gone not in dict(plate.planes())
    assert len(list(plate.planes())) == 2 * 2 * 2 - 1


def test_an_entry_whose_file_is_gone_is_missing(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"], sites=2)
    (folder / "Images" / "r01c01f02p01-ch1sk1fk1fl1.tiff").unlink()
    plate = open_plate(folder)
    assert plate.missing() == [PlaneKey("A01", 2)]
    assert [key for key, _ in plate.planes()] == [PlaneKey("A01", 1)]


def test_an_entry_pointing_outside_the_plate_is_missing(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"])
    outside = tmp_path / "elsewhere.tiff"
    tifffile.imwrite(outside, np.zeros((8, 8), "uint16"))
    rewrite(
        index_of(folder),
        lambda text: text.replace(
            "<URL>r01c01f01p01-ch1sk1fk1fl1.tiff</URL>", "<URL>../../elsewhere.tiff</URL>"
        ),
    )
    plate = open_plate(folder)
    assert plate.missing() == [PlaneKey("A01")]
    assert list(plate.planes()) == []


# -- hostile and damaged indexes -------------------------------------------------------

_opened: list[str] | None = None


def _watch_opens(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _opened is not None and args and isinstance(args[0], str | Path):
        _opened.append(str(args[0]))


_hook_installed = False


@pytest.fixture
def opened() -> Any:
    """The paths the process opens while the test runs (an audit hook, armed only then)."""
    global _opened, _hook_installed
    if not _hook_installed:
        # Audit hooks cannot be removed; this one does nothing unless a test arms it.
        sys.addaudithook(_watch_opens)
        _hook_installed = True
    _opened = []
    yield _opened
    _opened = None


def replace_index(folder: Path, text: str) -> Path:
    index = index_of(folder)
    index.write_text(text, encoding="utf-8")
    return index


def test_an_external_entity_is_refused_and_its_file_never_read(
    tmp_path: Path, opened: list[str]
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"])
    for target in (secret.as_uri(), "file:///etc/passwd"):
        opened.clear()
        index = replace_index(
            folder,
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f'<!DOCTYPE x [<!ENTITY e SYSTEM "{target}">]>\n'
            '<EvaluationInputData Version="1" '
            'xmlns="http://www.perkinelmer.com/PEHH/HarmonyV5">\n'
            "  <Plates><Plate><Name>&e;</Name></Plate></Plates>\n"
            "</EvaluationInputData>\n",
        )
        with pytest.raises(PlateFormatError) as raised:
            open_plate(folder)
        assert raised.value.path == str(index)
        assert raised.value.line == 2
        assert "TOP-SECRET" not in str(raised.value)
    # The hook saw the index being read, and never the file the entity names.
    assert str(index) in opened
    assert not [path for path in opened if "secret" in path or "passwd" in path]


def test_a_billion_laughs_index_is_refused(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"])
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    ]
    replace_index(
        folder,
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n'
        + "\n".join(f"  {entity}" for entity in entities)
        + "\n]>\n<EvaluationInputData><User>&lol9;</User></EvaluationInputData>\n",
    )
    with pytest.raises(PlateFormatError, match="refused"):
        open_plate(folder)


def test_a_malformed_index_names_its_file_and_line(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"])
    index = index_of(folder)
    rewrite(index, lambda text: text.replace("</PlateRows>", "</PlateRow>"))
    lines = index.read_text(encoding="utf-8-sig").splitlines()
    line = next(n for n, text in enumerate(lines, start=1) if "</PlateRow>" in text)
    with pytest.raises(PlateFormatError) as raised:
        open_plate(folder)
    assert raised.value.path == str(index)
    assert raised.value.line == line
    assert f"Index.idx.xml, line {line}" in str(raised.value)


def test_a_truncated_index_is_a_format_error(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01", "A02"])
    index = index_of(folder)
    index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    with pytest.raises(PlateFormatError, match=r"Index\.idx\.xml, line \d+"):
        open_plate(folder)


def test_xml_that_is_no_harmony_index_is_a_format_error(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"])
    replace_index(folder, '<?xml version="1.0"?>\n<Catalogue/>\n')
    with pytest.raises(PlateFormatError, match="not a Harmony image index"):
        open_plate(folder)


def test_a_number_that_is_not_one_is_a_format_error(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"])
    rewrite(
        index_of(folder),
        lambda text: text.replace("<FieldID>1</FieldID>", "<FieldID>one</FieldID>"),
    )
    with pytest.raises(PlateFormatError, match=r"FieldID is 'one'"):
        open_plate(folder)


def test_two_entries_for_one_plane_are_a_format_error(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"])

    def duplicate(text: str) -> str:
        image = re.search(r"    <Image Version=\"1\">.*?</Image>\r\n", text, re.DOTALL)
        assert image is not None
        return text.replace(image.group(0), image.group(0) * 2)

    rewrite(index_of(folder), duplicate)
    with pytest.raises(PlateFormatError, match="both plane A01"):
        open_plate(folder)


# -- metadata --------------------------------------------------------------------------


@pytest.mark.parametrize("version", [5, 7])
def test_channel_names_and_wavelengths(tmp_path: Path, version: int) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"], channels=5, version=version)
    channels = open_plate(folder).metadata.channels
    assert [(c.id, c.name, c.excitation_nm, c.emission_nm) for c in channels.values()] == [
        (1, "HOECHST 33342", 375, 456),
        (2, "Alexa 488", 488, 522),
        (3, "Alexa 568", 561, 599),
        (4, "Alexa 647", 640, 706),
        # Harmony writes emission 0 for brightfield: no emission wavelength.
        (5, "Brightfield", 740, None),
    ]


@pytest.mark.parametrize("version", [5, 7])
def test_pixel_size_is_read_from_metres_into_um(tmp_path: Path, version: int) -> None:
    folder = write_plate(
        KIND, tmp_path / "Plate1", wells=["A01"], pixel_size_um=0.598178730491848, version=version
    )
    assert '<ImageResolutionX Unit="m">5.98178730491848E-07<' in index_of(folder).read_text(
        encoding="utf-8-sig"
    )
    assert open_plate(folder).metadata.pixel_size_um == pytest.approx(0.598178730491848, rel=1e-9)


@pytest.mark.parametrize("version", [5, 7])
def test_image_shape_dtype_and_plate_format(tmp_path: Path, version: int) -> None:
    folder = write_plate(
        KIND,
        tmp_path / "Plate1",
        wells=["P24"],
        shape=(20, 36),
        dtype="uint8",
        plate_format=(16, 24),
        version=version,
    )
    meta = open_plate(folder).metadata
    assert meta.image_shape == (20, 36)
    assert meta.dtype == "uint8"
    assert (meta.rows, meta.columns) == (16, 24)
    assert meta.extra["plate_type"] == "384 PerkinElmer CellCarrier Ultra"


@pytest.mark.parametrize("version", [5, 7])
def test_stage_positions_and_z_step(tmp_path: Path, version: int) -> None:
    folder = write_plate(
        KIND,
        tmp_path / "Plate1",
        wells=["A01"],
        sites=4,
        z=3,
        shape=(10, 20),
        pixel_size_um=0.5,
        z_step_um=1.5,
        version=version,
    )
    meta = open_plate(folder).metadata
    assert meta.z_step_um == pytest.approx(1.5)
    # Four fields on a 2 x 2 grid around the well's centre, 10 µm wide and 5 µm high.
    assert meta.grid == (2, 2)
    assert meta.positions[PlaneKey("A01", 1, 1, 1, 1)] == pytest.approx((-5.0, 2.5, 0.0))
    assert meta.positions[PlaneKey("A01", 4, 1, 3, 1)] == pytest.approx((5.0, -2.5, 3.0))
    assert len(meta.positions) == 4 * 3


def test_fields_off_a_grid_have_no_grid(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"], sites=3)
    assert open_plate(folder).metadata.grid is None


def test_one_plane_has_no_z_step(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"])
    assert open_plate(folder).metadata.z_step_um is None


def test_instrument_and_measurement_in_extra(tmp_path: Path) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"], instrument="Operetta")
    extra = open_plate(folder).metadata.extra
    assert extra["instrument_type"] == "Operetta"
    assert uuid.UUID(str(extra["measurement_id"]))
    assert str(extra["measurement_start_time"]).startswith("2024-05-14T10:21:33")
    assert extra["channels"]["1"]["type"] == "Fluorescence"  # type: ignore[index]


# -- the synthetic writer --------------------------------------------------------------


@pytest.mark.parametrize(("version", "compression"), [(5, "LZW"), (7, "NONE")])
def test_writer_compresses_as_harmony_does(tmp_path: Path, version: int, compression: str) -> None:
    folder = write_plate(KIND, tmp_path / "Plate1", wells=["A01"], version=version)
    with tifffile.TiffFile(folder / "Images" / "r01c01f01p01-ch1sk1fk1fl1.tiff") as tiff:
        assert tiff.pages.first.compression.name == compression


def test_the_harmony5_writer_refuses_lzw_without_imagecodecs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An entry of None in sys.modules makes `import imagecodecs` raise ImportError.
    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    with pytest.raises(ImportError, match=r"Harmony 5 export is LZW.*pip install imagecodecs"):
        write_plate(KIND, tmp_path / "Plate1", wells=["A01"])
    assert not list(tmp_path.rglob("*.tiff"))
    write_plate(KIND, tmp_path / "Plate7", wells=["A01"], version=7)  # uncompressed needs none


def test_writer_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="use 5 or 7"):
        write_plate(KIND, tmp_path / "Plate1", version=6)
    with pytest.raises(ValueError, match="does not take"):
        write_plate(KIND, tmp_path / "Plate2", layout="flat")
