"""The plate overview: one picture of the whole plate, looked at pixel by pixel."""

from __future__ import annotations

import json
import re
import sys
import threading
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
import tifffile

from platekit.microscopes import PlaneKey, open_plate
from platekit.microscopes._overview import BACKGROUND, EMPTY, GRID, MISSING, overview
from platekit.microscopes._plate import Plate
from platekit.microscopes.testing import hash_tree, write_plate
from platekit.registry._cli import main
from platekit.registry._install import install_command

WELLS = ["A01", "A02", "B01", "B02", "C03"]
needs_pillow = pytest.mark.skipif(
    find_spec("PIL") is None, reason="Pillow is not installed (platekit-microscopes[overview])"
)
CELL = 24


def harmony(tmp_path: Path, **options: object) -> Path:
    """A Harmony 7 plate (uncompressed TIFFs, which a test may rewrite) of WELLS."""
    settings: dict[str, object] = {"wells": WELLS, "channels": 2, "shape": (64, 80)}
    settings.update(options)
    tmp_path.mkdir(exist_ok=True)
    return write_plate("opera_phenix", tmp_path / "plate", version=7, **settings)  # type: ignore[arg-type]


def brighten(plate: Plate, well: str) -> None:
    """Make every plane of ``well`` sixteen times brighter, in its file."""
    for key, address in plate.planes():
        if key.well == well:
            path = plate.path / address
            tifffile.imwrite(path, tifffile.imread(path) * np.uint16(16))


def block(picture: np.ndarray, row: int, column: int, cell: int = CELL) -> np.ndarray:
    """The cell of the well at 1-based ``row`` and ``column`` (labels take row and column 0)."""
    return picture[row * cell : (row + 1) * cell, column * cell : (column + 1) * cell]


@needs_pillow
def test_the_picture_is_the_plate_format_in_cells_with_a_label_row_and_column(
    tmp_path: Path,
) -> None:
    for plate_format, cell in (((8, 12), CELL), ((16, 24), 16)):
        folder = harmony(tmp_path / str(cell), plate_format=plate_format, channels=1)
        picture = open_plate(folder).overview(cell=cell)
        rows, columns = plate_format
        assert picture.shape == ((rows + 1) * cell, (columns + 1) * cell, 3)
        assert picture.dtype == np.uint8
        # Every well's cell starts where the grid says: its outer pixels are the grid's.
        for row in range(1, rows + 1):
            for column in range(1, columns + 1):
                edge = block(picture, row, column, cell)
                for line in (edge[0], edge[-1], edge[:, 0], edge[:, -1]):
                    assert (line == GRID).all(), (row, column)


@needs_pillow
def test_a_bright_well_is_bright_where_it_is_on_the_plate(tmp_path: Path) -> None:
    plate = open_plate(harmony(tmp_path, channels=1))
    brighten(plate, "B02")
    picture = plate.overview(cell=CELL).astype(float)
    means = {
        well: block(picture, row, column)[1:-1, 1:-1].mean()
        for well, (row, column) in {
            "A01": (1, 1),
            "A02": (1, 2),
            "B01": (2, 1),
            "B02": (2, 2),
            "C03": (3, 3),
        }.items()
    }
    others = [mean for well, mean in means.items() if well != "B02"]
    assert means["B02"] > 3 * max(others)


@needs_pillow
def test_a_well_without_images_is_an_empty_cell(tmp_path: Path) -> None:
    picture = open_plate(harmony(tmp_path)).overview(cell=CELL)
    for row, column in ((4, 5), (8, 12), (1, 3)):  # D05, H12, A03: not acquired
        assert (block(picture, row, column)[1:-1, 1:-1] == EMPTY).all()
    # An imaged well's cell is not empty.
    assert not (block(picture, 3, 3)[1:-1, 1:-1] == EMPTY).all(axis=-1).any()


@needs_pillow
def test_a_well_with_a_missing_plane_has_an_orange_frame(tmp_path: Path) -> None:
    folder = harmony(tmp_path, missing=[PlaneKey("C03", 1, 2, 1, 1)])
    picture = open_plate(folder).overview(cell=CELL)
    frame = block(picture, 3, 3)[1:-1, 1:-1]
    for line in (frame[0], frame[-1], frame[:, 0], frame[:, -1]):
        assert (line == MISSING).all()
    # Channel 1 of C03 is still shown inside the frame.
    assert block(picture, 3, 3)[8:-8, 8:-8].any()
    for row, column in ((1, 1), (1, 2), (2, 1), (2, 2)):
        assert not (block(picture, row, column)[1:-1, 1:-1][0] == MISSING).all(axis=-1).any()


@needs_pillow
def test_row_letters_and_column_numbers_are_drawn_in_the_margins(tmp_path: Path) -> None:
    picture = open_plate(harmony(tmp_path)).overview(cell=CELL)
    for row in range(1, 9):
        assert (block(picture, row, 0) != BACKGROUND).any(axis=-1).sum() > 5, row
    for column in range(1, 13):
        assert (block(picture, 0, column) != BACKGROUND).any(axis=-1).sum() > 5, column
    assert (block(picture, 0, 0) == BACKGROUND).all()


@needs_pillow
def test_channels_take_the_metadata_colours_or_the_palette(tmp_path: Path) -> None:
    # Channel 1 black, channel 2 at full colour, so each thumbnail is channel 2's colour.
    windows = {1: (1e6, 2e6), 2: (-2.0, -1.0)}
    cellvoyager = write_plate("cellvoyager", tmp_path / "cv", wells=["A01"], channels=2)
    opera = harmony(tmp_path)
    for folder, colour in ((cellvoyager, (0x00, 0xFF, 0xA1)), (opera, (0x00, 0xFF, 0x00))):
        plate = open_plate(folder)
        assert plate.metadata.channels[2].color in ("00FFA1", None)
        inner = block(plate.overview(cell=CELL, windows=windows), 1, 1)[1:-1, 1:-1]
        assert (inner[inner.any(axis=-1)] == colour).all()
    # One channel alone is grey.
    inner = block(open_plate(opera).overview(cell=CELL, channels=[2]), 1, 1)[1:-1, 1:-1]
    assert inner.any() and (inner[..., 0] == inner[..., 1]).all()
    assert (inner[..., 1] == inner[..., 2]).all()


@needs_pillow
def test_each_well_and_channel_is_read_once_at_the_chosen_field_in_parallel(
    tmp_path: Path,
) -> None:
    plate = open_plate(harmony(tmp_path, sites=3, plate_format=(16, 24)))
    read_plane = plate.read_plane
    reads: list[PlaneKey] = []
    lock = threading.Lock()
    # The first two reads wait for each other: they only both pass if they run at once.
    together = threading.Barrier(2, timeout=10)

    def recording(key: PlaneKey) -> np.ndarray:
        with lock:
            reads.append(key)
            first_two = len(reads) <= 2
        if first_two:
            together.wait()
        return read_plane(key)

    plate.read_plane = recording  # type: ignore[method-assign]
    plate.overview(field=2, threads=4)
    expected = [PlaneKey(well, 2, channel) for well in WELLS for channel in (1, 2)]
    assert sorted(reads) == expected


@needs_pillow
def test_options_the_plate_cannot_satisfy_are_one_sentence(tmp_path: Path) -> None:
    plate = open_plate(harmony(tmp_path))
    with pytest.raises(ValueError, match=r"field 4 is not one of the plate's fields \(1\)"):
        plate.overview(field=4)
    with pytest.raises(ValueError, match=r"channel 3 is not among the plate's channels \(1, 2\)"):
        plate.overview(channels=[3])
    with pytest.raises(ValueError, match="no channel chosen; choose one or more of 1, 2"):
        plate.overview(channels=[])
    with pytest.raises(ValueError, match=r"percentiles 99\.0, 1\.0"):
        plate.overview(percentiles=(99.0, 1.0))


def test_without_pillow_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = harmony(tmp_path)
    for name in ("PIL", "PIL.Image", "PIL.ImageDraw", "PIL.ImageFont"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(ImportError) as caught:
        open_plate(folder).overview()
    assert str(caught.value).endswith(install_command("platekit-microscopes", "overview"))
    png = tmp_path / "plate.png"
    assert main(["inspect", str(folder), "--overview", str(png)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.strip().endswith(install_command("platekit-microscopes", "overview"))
    assert not png.exists()


@needs_pillow
def test_inspect_writes_the_overview_and_says_how_long_it_took(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    folder = harmony(tmp_path)
    png = tmp_path / "plate.png"
    command = ["inspect", str(folder), "--overview", str(png), "--channel", "2", "--field", "1"]
    assert main([*command, "--contrast", "0.5,99"]) == 0
    said = capsys.readouterr().out.splitlines()[-1]
    assert re.fullmatch(rf"overview of 5 wells written to {re.escape(str(png))} in \d+\.\d s", said)
    with Image.open(png) as image:
        written = np.asarray(image)
    plate = open_plate(folder)
    assert np.array_equal(written, plate.overview(channels=[2], percentiles=(0.5, 99.0)))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plate", "plate.png"]
    # With --json, standard output stays JSON and the sentence goes to standard error.
    assert main(["inspect", str(folder), "--json", "--overview", str(png)]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["name"] == "plate"
    assert printed.err.startswith("overview of 5 wells written to")


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--overview", "{tmp}/plate.jpg"], "give a file name ending in .png"),
        (["--overview", "{tmp}/nowhere/plate.png"], "its folder does not exist"),
        (["--overview", "{plate}/plate.png"], "which platekit never changes"),
        (["--overview", "{tmp}/plate.png", "--field", "9"], "field 9 is not one of"),
        (["--overview", "{tmp}/plate.png", "--contrast", "high"], "is not two percentiles"),
        (["--field", "0"], "add --overview PNG"),
    ],
)
@needs_pillow
def test_inspect_refuses_an_overview_it_cannot_make_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], said: str
) -> None:
    folder = harmony(tmp_path)
    before = hash_tree(folder)
    argv = [part.format(tmp=tmp_path, plate=folder) for part in options]
    try:
        code = main(["inspect", str(folder), *argv])
    except SystemExit as exc:  # argparse's own refusal: usage, then one line
        code = int(exc.code or 0)
    assert code != 0
    error = capsys.readouterr().err
    assert said in error and "Traceback" not in error
    assert error.strip().splitlines()[-1].count(said) == 1
    assert hash_tree(folder) == before
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.jpg"))


@needs_pillow
def test_real_harmony_exports_make_an_overview(pe2loaddata_exports: Path) -> None:
    for version in ("Version1", "Version5", "Version7"):
        plate = open_plate(pe2loaddata_exports / version)
        result = overview(plate, cell=CELL)
        meta = plate.metadata
        assert result.picture.shape == ((meta.rows + 1) * CELL, (meta.columns + 1) * CELL, 3)
        assert result.wells_shown == len(meta.wells) and not result.unreadable


@needs_pillow
def test_real_cellvoyager_exports_make_an_overview(cellvoyager_exports: Path) -> None:
    shown = {}
    for name in ("CV8000-Minimal-DataSet-2C-3W-4S-FP2-stack", "CV7000-example"):
        plate = open_plate(cellvoyager_exports / name)
        result = overview(plate, cell=CELL)
        meta = plate.metadata
        assert result.picture.shape == ((meta.rows + 1) * CELL, (meta.columns + 1) * CELL, 3)
        shown[name] = result.wells_shown
    # The CV7000 example is its metadata alone: every well listed, none imaged.
    assert shown == {"CV8000-Minimal-DataSet-2C-3W-4S-FP2-stack": 3, "CV7000-example": 0}


@needs_pillow
def test_ctrl_c_or_a_failed_write_leaves_no_picture_and_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    folder = harmony(tmp_path)
    png = tmp_path / "plate.png"
    argv = ["inspect", str(folder), "--overview", str(png)]

    def interrupted(*args: object) -> np.ndarray:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("platekit.microscopes._overview._thumbnail", interrupted)
        assert main(argv) == 130
    assert capsys.readouterr().err == "platekit: interrupted\n"

    def full_disk(self: object, *args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error == (
        f"platekit: cannot write the overview to {str(png)!r} (No space left on device); "
        "choose a folder you can write to\n"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plate"]
