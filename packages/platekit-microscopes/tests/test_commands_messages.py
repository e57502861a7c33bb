"""What the microscope commands say, and what they leave behind, when something goes wrong."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from platekit.microscopes import UnknownPlateError, _commands, _plate, convert, open_plate
from platekit.microscopes._convert import ConversionCancelled
from platekit.microscopes.testing import write_plate
from platekit.registry._cli import main

SMALL = {"wells": ["A01"], "sites": 1, "channels": 1, "shape": (16, 16)}


def small_plate(kind: str, folder: Path) -> Path:
    folder.parent.mkdir(parents=True, exist_ok=True)
    return write_plate(kind, folder, **SMALL)  # type: ignore[arg-type]


def platekit(*args: str, temporary: Path) -> subprocess.CompletedProcess[str]:
    """Run ``platekit`` with ``temporary`` as the system's temporary folder."""
    temporary.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "platekit.registry", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(temporary), "TEMP": str(temporary)},
    )


def test_an_unknown_example_kind_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    failed = platekit(
        "convert", "--example", "bogus", str(tmp_path / "o.zarr"), temporary=temporary
    )
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert "'bogus'" in failed.stderr and "imagexpress, omezarr" in failed.stderr
    assert list(temporary.iterdir()) == []
    assert not (tmp_path / "o.zarr").exists()


def test_an_example_says_where_its_plate_stays(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    done = platekit(
        "convert", "--example", "omezarr", str(tmp_path / "o.zarr"), temporary=temporary
    )
    assert done.returncode == 0, done.stderr
    [kept] = temporary.iterdir()
    assert (kept / "ExamplePlate").is_dir()
    assert f"temporary folder {kept} stays" in done.stdout and f"rm -r {kept}" in done.stdout


def test_a_failed_example_conversion_leaves_no_plate_behind(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    (tmp_path / "o.zarr").write_text("a file, not a folder")
    failed = platekit(
        "convert", "--example", "omezarr", str(tmp_path / "o.zarr"), temporary=temporary
    )
    assert failed.returncode == 1 and "is a file" in failed.stderr
    assert list(temporary.iterdir()) == []
    assert "stays" not in failed.stdout


def test_demo_says_where_its_temporary_folder_stays(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    done = platekit("demo", "--microscope", "omezarr", temporary=temporary)
    assert done.returncode == 0, done.stderr
    [kept] = temporary.iterdir()
    assert (kept / "ExamplePlate.zarr").is_dir()
    assert f"temporary folder {kept} stays" in done.stdout and f"rm -r {kept}" in done.stdout


def test_a_failed_demo_removes_the_folder_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setattr(_commands, "convert_and_report", lambda *args, **kwargs: 1)
    assert main(["demo", "--microscope", "omezarr"]) == 1
    assert list(temporary.iterdir()) == []
    assert main(["demo", "--microscope", "omezarr", str(tmp_path / "new" / "demo")]) == 1
    assert not (tmp_path / "new" / "demo").exists()
    assert "stays" not in capsys.readouterr().out


def test_a_failed_demo_keeps_a_folder_the_user_already_had(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_commands, "convert_and_report", lambda *args, **kwargs: 1)
    (tmp_path / "mine.txt").write_text("kept")
    assert main(["demo", "--microscope", "omezarr", str(tmp_path)]) == 1
    assert (tmp_path / "mine.txt").read_text() == "kept"
    # What the failed demo wrote is gone, so the same command can be run again.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mine.txt"]


@pytest.mark.parametrize("name", ["ExamplePlate", "ExamplePlate.zarr"])
def test_a_demo_never_writes_over_what_its_folder_holds(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / name
    mine.mkdir()
    (mine / "notes.txt").write_text("kept")
    assert main(["demo", str(tmp_path)]) == 1
    assert (mine / "notes.txt").read_text() == "kept"
    assert sorted(path.name for path in tmp_path.iterdir()) == [name]
    [line] = capsys.readouterr().err.strip().splitlines()
    assert repr(str(mine)) in line and "give another folder, or remove it first" in line


def test_convert_prints_the_plates_notices_and_opens_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = small_plate("imagexpress", tmp_path / "plate")
    opened = []
    real_open_plate = _plate.open_plate

    def open_plate(path: object, microscope: str = "auto", **options: bool) -> _plate.Plate:
        plate = real_open_plate(path, microscope, **options)  # type: ignore[arg-type]
        plate.metadata.notices.append("channel 3 (Cy5) is defined but was never acquired")
        opened.append(plate)
        return plate

    monkeypatch.setattr(_plate, "open_plate", open_plate)
    assert main(["convert", str(source), str(tmp_path / "o.zarr")]) == 0
    shown = capsys.readouterr().out
    assert "note: channel 3 (Cy5) is defined but was never acquired" in shown
    assert shown.index("note:") < shown.index("converted 1 wells")
    assert len(opened) == 1
    assert main(["convert", "-q", str(source), str(tmp_path / "q.zarr")]) == 0
    assert capsys.readouterr().out == ""


def test_convert_says_an_unknown_microscope_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = small_plate("imagexpress", tmp_path / "plate")
    assert main(["convert", "--microscope", "bogus", str(source), str(tmp_path / "o.zarr")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "bogus" in error


@pytest.mark.parametrize("plates", [1, 2])
def test_an_output_under_a_file_is_one_line_saying_what_to_do(
    plates: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = [small_plate("imagexpress", tmp_path / f"plate{n}") for n in range(plates)]
    (tmp_path / "afile").write_text("not a folder")
    out = tmp_path / "afile" / ("o.zarr" if plates == 1 else "screen")
    assert main(["convert", *map(str, sources), str(out)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert f"cannot make the output folder {str(out)!r} (Not a directory)" in error
    assert "choose a folder you can write to" in error and "Errno" not in error


@pytest.mark.parametrize(
    ("out", "said"),
    [
        ("", "no output named: give the folder to write, whose name ends in .zarr"),
        ("o.zarr/A", "is inside the Zarr store 'o.zarr'; a plate is a store of its own"),
        ("o", "/o' must be a folder whose name ends in .zarr, e.g. '"),
    ],
)
def test_an_output_that_is_no_store_of_its_own_is_one_line(
    out: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = small_plate("imagexpress", tmp_path / "plate")
    given = str(tmp_path / out) if out else out
    assert main(["convert", str(source), given]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and said in error, error
    assert not (tmp_path / "o.zarr").exists() and not (tmp_path / "o").exists()


# -- a folder that is no plate but is close to one ----------------------------------------


def test_inspect_on_a_plates_parent_names_the_plate(tmp_path: Path) -> None:
    plate = small_plate("imagexpress", tmp_path / "run" / "Plate1")
    with pytest.raises(UnknownPlateError) as caught:
        open_plate(tmp_path / "run")
    assert str(caught.value) == (
        f"{str(tmp_path / 'run')!r} holds a plate in {str(plate)!r}; inspect or convert that "
        "folder instead"
    )
    with pytest.raises(UnknownPlateError, match=f"holds a plate in {re.escape(repr(str(plate)))}"):
        open_plate(tmp_path)


def test_inspect_on_a_folder_of_plates_names_some_of_them(tmp_path: Path) -> None:
    for name in ("P1", "P2", "P3", "P4", "P5"):
        small_plate("omezarr", tmp_path / "plates" / name)
    (tmp_path / "plates" / "notes").mkdir()
    with pytest.raises(UnknownPlateError) as caught:
        open_plate(tmp_path / "plates")
    message = str(caught.value)
    assert "holds plates in" in message and "P1" in message and "P3" in message
    assert "P4" not in message and "and 2 more" in message


@pytest.mark.parametrize(
    ("kind", "inside"), [("imagexpress", "TimePoint_1/ZStep_2"), ("omezarr", "A/1/0/0")]
)
def test_a_folder_inside_a_plate_names_the_plate(tmp_path: Path, kind: str, inside: str) -> None:
    plate = write_plate(kind, tmp_path / "Plate1", wells=["A01"], z=2, shape=(16, 16))
    with pytest.raises(UnknownPlateError) as caught:
        open_plate(plate / inside)
    assert str(caught.value) == (
        f"{str(plate / inside)!r} is inside the plate {str(plate)!r}; inspect or convert that "
        "folder instead"
    )


def test_an_empty_plate_path_is_refused_not_taken_for_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_plate("imagexpress", tmp_path / "Plate1")
    monkeypatch.chdir(tmp_path)
    for args in (("inspect", ""), ("convert", "", str(tmp_path / "out.zarr"))):
        failed = platekit(*args, temporary=tmp_path / "tmp")
        assert failed.returncode == 1 and "Traceback" not in failed.stderr
        assert failed.stderr == (
            "platekit: the plate's path is empty (''); give its folder, or '.' for the working "
            "directory\n"
        )
    assert not (tmp_path / "out.zarr").exists()


def test_a_plate_three_levels_down_is_not_looked_for(tmp_path: Path) -> None:
    small_plate("imagexpress", tmp_path / "a" / "b" / "c" / "d")
    with pytest.raises(UnknownPlateError, match="each microscope handler looked for"):
        open_plate(tmp_path / "a")


@pytest.mark.parametrize("ngff", ["0.5", "0.4"])
def test_an_unfinished_conversion_says_how_to_finish_it(
    tmp_path: Path, ngff: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = small_plate("imagexpress", tmp_path / "plate")
    out = tmp_path / "out.zarr"
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ConversionCancelled):
        convert(source, out, ngff=ngff, levels=2, cancel=cancel)
    assert main(["inspect", str(out)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "did not finish" in error
    again = f"platekit convert {source} {out}" + (" --ngff 0.4" if ngff == "0.4" else "")
    assert f"{again} --levels 2, with any other options it had" in error
    # The command it gives finishes the conversion.
    assert main([*again.split()[1:], "--levels", "2", "-q"]) == 0
    assert main(["inspect", str(out)]) == 0


@pytest.mark.parametrize("command", [["convert", "--example", "omezarr"], ["demo"]])
def test_ctrl_c_while_writing_the_synthetic_plate_leaves_nothing(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))

    def interrupted(kind: str, folder: Path) -> Path:
        (folder / "ExamplePlate").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(_commands, "_example", interrupted)
    out = [str(tmp_path / "o.zarr")] if command[0] == "convert" else []
    assert main([*command, *out]) == 130
    assert capsys.readouterr().err == "platekit: interrupted\n"
    assert list(temporary.iterdir()) == []


def test_the_folder_of_real_harmony_exports_names_them(pe2loaddata_exports: Path) -> None:
    with pytest.raises(UnknownPlateError) as caught:
        open_plate(pe2loaddata_exports.parent)
    named = ", ".join(
        repr(str(pe2loaddata_exports / v)) for v in ("Version1", "Version5", "Version7")
    )
    assert f"holds plates in {named}; inspect or convert one of those folders" in str(caught.value)
