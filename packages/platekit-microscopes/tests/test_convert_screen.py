"""Many plates in one run: convert_screen and ``platekit convert PLATE PLATE... OUT_FOLDER``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from platekit.microscopes import Progress, ScreenResult, convert, convert_screen, open_plate
from platekit.microscopes.testing import write_plate

SMALL = {"wells": ["A01", "A02", "B01"], "sites": 2, "channels": 2, "shape": (24, 32)}


def plates(root: Path, count: int, kind: str = "imagexpress") -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    return [write_plate(kind, root / f"Plate{i}", seed=i, **SMALL) for i in range(count)]  # type: ignore[arg-type]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (the lock file aside, which holds nothing) with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".platekit-lock"
    }


def stamps(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def well_complete(group: Path) -> bool:
    document = json.loads((group / "zarr.json").read_text())
    return "well" in document.get("attributes", {}).get("ome", {})


def break_a_plane(plate: Path) -> Path:
    victim = plate / sorted(address for _, address in open_plate(plate).planes())[-1]
    victim.write_bytes(b"not a tiff at all")
    return victim


def test_each_plate_is_written_as_its_own_conversion_would_write_it(tmp_path: Path) -> None:
    sources = plates(tmp_path / "in", 3)
    result = convert_screen(sources, tmp_path / "screen")
    assert isinstance(result, ScreenResult) and result.failed == {}
    assert sorted(p.name for p in (tmp_path / "screen").iterdir()) == [
        "Plate0.zarr",
        "Plate1.zarr",
        "Plate2.zarr",
    ]
    assert [r.out.name for r in result.converted] == ["Plate0.zarr", "Plate1.zarr", "Plate2.zarr"]
    for source in sources:
        alone = convert(source, tmp_path / "alone" / f"{source.name}.zarr")
        assert tree(tmp_path / "screen" / f"{source.name}.zarr") == tree(alone.out)
    per_plate = 3 * 2 * 2
    assert result.planes_written == 3 * per_plate
    assert result.bytes_written == 3 * per_plate * 24 * 32 * 2


def test_a_plate_s_metadata_is_written_when_its_wells_are_done(tmp_path: Path) -> None:
    sources = plates(tmp_path / "in", 2)
    first_root = tmp_path / "screen" / "Plate0.zarr" / "zarr.json"
    seen: list[tuple[int, bool]] = []

    def watch(progress: Progress) -> None:
        if first_root.is_file():
            attributes = json.loads(first_root.read_text())["attributes"]
            seen.append((progress.wells_done, "plate" in attributes.get("ome", {})))

    convert_screen(sources, tmp_path / "screen", progress=watch)
    # Plate0's metadata is there while Plate1's wells are still being written.
    assert any(complete for wells, complete in seen if wells < 6)
    assert not any(complete for wells, complete in seen if wells < 3)


def test_a_failed_plate_is_reported_and_the_others_are_converted(tmp_path: Path) -> None:
    good, bad = plates(tmp_path / "in", 2)
    victim = break_a_plane(bad)
    (tmp_path / "in" / "notes").mkdir()
    result = convert_screen([good, bad, tmp_path / "in" / "notes"], tmp_path / "screen")
    assert [r.out.name for r in result.converted] == ["Plate0.zarr"]
    assert list(result.failed) == [str(bad), str(tmp_path / "in" / "notes")]
    assert victim.name in result.failed[str(bad)]
    assert "looked for" in result.failed[str(tmp_path / "in" / "notes")]
    assert not (tmp_path / "screen" / "notes.zarr").exists()


def test_running_again_resumes_and_redoes_nothing_done(tmp_path: Path) -> None:
    good, bad = plates(tmp_path / "in", 2)
    victim = sorted(address for _, address in open_plate(bad).planes())[-1]
    original = (bad / victim).read_bytes()
    break_a_plane(bad)
    first = convert_screen([good, bad], tmp_path / "screen")
    assert list(first.failed) == [str(bad)]
    done_before = stamps(tmp_path / "screen" / "Plate0.zarr")
    partial = tmp_path / "screen" / "Plate1.zarr"
    complete_wells = [w for w in ("A/1", "A/2", "B/1") if well_complete(partial / w)]
    wells_before = {w: stamps(partial / w) for w in complete_wells}
    assert len(complete_wells) == 2, "the broken plate's other wells were written"
    (bad / victim).write_bytes(original)

    second = convert_screen([good, bad], tmp_path / "screen")
    assert second.failed == {}
    assert [r.already_complete for r in second.converted] == [True, False]
    assert second.converted[1].wells_converted == 3 - len(complete_wells)
    assert stamps(tmp_path / "screen" / "Plate0.zarr") == done_before
    assert {w: stamps(partial / w) for w in complete_wells} == wells_before
    assert tree(partial) == tree(convert(bad, tmp_path / "alone.zarr").out)


def test_two_plates_of_one_name_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    [one] = plates(tmp_path / "a", 1)
    [other] = plates(tmp_path / "b", 1)
    with pytest.raises(ValueError, match=r"would both be converted to 'Plate0\.zarr'"):
        convert_screen([one, other], tmp_path / "screen")
    assert not (tmp_path / "screen").exists()


def test_one_plate_given_as_the_plates_is_refused_not_taken_apart(tmp_path: Path) -> None:
    [source] = plates(tmp_path / "in", 1)
    with pytest.raises(TypeError, match=r"takes a list of plates, not the one plate .*Plate0'"):
        convert_screen(str(source), tmp_path / "screen")
    assert not (tmp_path / "screen").exists()


def test_the_output_of_many_plates_is_a_folder_not_a_store(tmp_path: Path) -> None:
    sources = plates(tmp_path / "in", 2)
    with pytest.raises(ValueError, match=r"must be a folder \(not one ending in .zarr\)"):
        convert_screen(sources, tmp_path / "screen.zarr")
    assert not (tmp_path / "screen.zarr").exists()


def test_an_output_folder_inside_one_plate_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    first, second = plates(tmp_path / "in", 2)
    before = tree(first)
    with pytest.raises(ValueError, match=r"is inside the source plate .*Plate0"):
        convert_screen([first, second], first)
    with pytest.raises(ValueError, match=r"is inside the source plate .*Plate0"):
        convert_screen([second, open_plate(first)], first / "converted")
    assert tree(first) == before


def platekit(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "platekit.registry", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )


def test_the_command_converts_many_plates_and_sums_them_up(tmp_path: Path) -> None:
    sources = plates(tmp_path / "in", 2)
    done = platekit("convert", *sources, tmp_path / "screen")
    assert done.returncode == 0, done.stderr
    assert f"converted 2 plates (6 wells, 24 planes, 0.0 MB) into {tmp_path / 'screen'}" in (
        done.stdout
    )
    again = platekit("convert", *sources, tmp_path / "screen")
    assert again.returncode == 0 and "converted 0 plates" in again.stdout
    assert "2 were complete already" in again.stdout


def test_the_command_names_a_failed_plate_and_exits_1(tmp_path: Path) -> None:
    good, bad = plates(tmp_path / "in", 2)
    victim = break_a_plane(bad)
    failed = platekit("convert", "-q", good, bad, tmp_path / "screen")
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    lines = failed.stderr.splitlines()
    assert lines[0].startswith(f"platekit: {bad} failed: ") and victim.name in lines[0]
    assert lines[1].startswith("platekit: 1 of 2 plates failed; the others are converted")
    assert (tmp_path / "screen" / "Plate0.zarr" / "zarr.json").is_file()


def test_the_command_refuses_an_output_folder_inside_a_plate_in_one_line(tmp_path: Path) -> None:
    first, second = plates(tmp_path / "in", 2)
    before = tree(second)
    refused = platekit("convert", first, second, second / "screen")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr == (
        f"platekit: the output {str(second / 'screen')!r} is inside the source plate "
        f"{str(second)!r}; platekit never writes into a source plate: choose an output folder "
        "outside it\n"
    )
    assert tree(second) == before


def test_one_path_alone_is_one_line_naming_both_forms(tmp_path: Path) -> None:
    [source] = plates(tmp_path / "in", 1)
    failed = platekit("convert", source)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr == (
        f"platekit: convert takes PLATE and OUT.zarr, or PLATE... OUT_FOLDER, got {source}\n"
    )


def test_every_plates_lock_is_let_go_when_letting_go_of_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platekit.microscopes._lock import OutputLock

    first, broken = plates(tmp_path / "in", 2)
    break_a_plane(broken)  # its conversion fails, so its lock is let go of at the run's end
    release = OutputLock.release

    def failing_for_the_first(self: OutputLock) -> None:
        if self.out.name == "Plate0.zarr":
            raise OSError("the lock file's folder went away")
        release(self)

    monkeypatch.setattr(OutputLock, "release", failing_for_the_first)
    with pytest.raises(OSError, match="went away"):
        convert_screen([first, broken], tmp_path / "screen")
    monkeypatch.setattr(OutputLock, "release", release)
    with OutputLock(tmp_path / "screen" / "Plate1.zarr"):  # let go of: a new run takes it
        pass
