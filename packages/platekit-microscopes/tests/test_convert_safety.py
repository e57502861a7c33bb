"""A conversion never harms its source, never writes what a user did not ask for, and says why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from platekit.microscopes import PlateError, convert
from platekit.microscopes.testing import hash_tree, write_plate

SHAPE = (16, 16)


def plate(folder: Path, kind: str = "imagexpress", **spec: object) -> Path:
    options = {"wells": ["A01", "B02"], "channels": 1, "shape": SHAPE, **spec}
    return write_plate(kind, folder, **options)  # type: ignore[arg-type]


def platekit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "platekit.registry", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- a plate without images ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["imagexpress", "opera_phenix", "cellvoyager"])
def test_a_plate_whose_images_are_all_gone_is_refused(tmp_path: Path, kind: str) -> None:
    source = plate(tmp_path / "P", kind)
    for image in [*source.rglob("*.tif"), *source.rglob("*.tiff")]:
        image.unlink()
    out = tmp_path / "out.zarr"
    with pytest.raises(PlateError, match=r"metadata lists 2 planes but none of their images"):
        convert(source, out)
    assert not out.exists()


def test_a_real_cellvoyager_export_of_metadata_only_is_refused(
    cellvoyager_exports: Path, tmp_path: Path
) -> None:
    # The top of cellvoyager-types' resources: an MLF and MRF whose images are not there.
    out = tmp_path / "out.zarr"
    with pytest.raises(PlateError, match=r"metadata lists \d+ planes but none of their images"):
        convert(cellvoyager_exports, out)
    assert not out.exists()


# -- source and output apart ---------------------------------------------------------------


@pytest.fixture
def holder(tmp_path: Path) -> tuple[Path, Path]:
    """A converted store ``holder.zarr`` with a plate copied into it, as ``(store, plate)``."""
    store = tmp_path / "holder.zarr"
    convert(plate(tmp_path / "first"), store)
    return store, plate(store / "CV", "cellvoyager")


def _spellings(store: Path, inner: Path) -> list[tuple[Path, Path]]:
    """(source, output) pairs that all name a plate inside the output."""
    link_store = store.parent / "link.zarr"
    link_store.symlink_to(store, target_is_directory=True)
    link_plate = store.parent / "plate-link"
    link_plate.symlink_to(inner, target_is_directory=True)
    dotted = store.parent / "first" / ".." / store.name
    return [
        (inner, store),
        (inner, dotted),
        (inner, link_store),
        (link_plate, store),
        (store / "CV" / ".." / "CV", store),
    ]


def test_a_source_inside_the_output_is_never_touched_even_with_overwrite(
    holder: tuple[Path, Path],
) -> None:
    store, inner = holder
    before = hash_tree(store)
    for source, out in _spellings(store, inner):
        for overwrite in (False, True):
            with pytest.raises(ValueError, match="lies inside the output") as caught:
                convert(source, out, overwrite=overwrite)
            assert "--overwrite" not in str(caught.value)
    assert hash_tree(store) == before


def test_an_output_inside_or_equal_to_the_source_is_refused(tmp_path: Path) -> None:
    source = plate(tmp_path / "P.zarr", "omezarr")
    link = tmp_path / "P-link"
    link.symlink_to(source, target_is_directory=True)
    before = hash_tree(source)
    for out in (
        source / "out.zarr",
        tmp_path / "elsewhere" / ".." / "P.zarr" / "out.zarr",
        link / "out.zarr",
    ):
        with pytest.raises(ValueError, match="inside the source plate"):
            convert(source, out, overwrite=True)
    with pytest.raises(ValueError, match="inside the source plate"):
        convert(source, source, overwrite=True)
    with pytest.raises(ValueError, match="inside the source plate"):
        convert(link, source, overwrite=True)
    assert hash_tree(source) == before


def test_another_case_of_the_output_name_is_the_same_folder_where_the_disk_says_so(
    holder: tuple[Path, Path],
) -> None:
    store, inner = holder
    upper = store.parent / store.name.upper()
    if not upper.exists():
        pytest.skip("this file system tells names apart by case")
    before = hash_tree(store)
    with pytest.raises(ValueError, match="lies inside the output"):
        convert(inner, upper.with_suffix(".zarr"), overwrite=True)
    assert hash_tree(store) == before


def test_two_names_for_one_folder_that_paths_cannot_unify_are_still_one_folder(
    holder: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another case of a name on a case-insensitive disk, or a second mount, resolves to a
    # path of its own; stand-in: a link that resolve() is kept from following.
    store, inner = holder
    alias = store.parent / "alias.zarr"
    alias.symlink_to(store, target_is_directory=True)
    monkeypatch.setattr(Path, "resolve", lambda self, strict=False: self.absolute())
    before = hash_tree(store)
    with pytest.raises(ValueError, match="lies inside the output"):
        convert(inner, alias, overwrite=True)
    with pytest.raises(ValueError, match="inside the source plate"):
        convert(inner, alias / "CV" / "out.zarr")
    assert hash_tree(store) == before


def test_the_command_refuses_a_source_inside_the_output_in_one_line(
    holder: tuple[Path, Path],
) -> None:
    store, inner = holder
    before = hash_tree(store)
    for extra in ([], ["--overwrite"]):
        refused = platekit("convert", str(inner), str(store), *extra)
        assert refused.returncode == 1
        assert "Traceback" not in refused.stderr and len(refused.stderr.splitlines()) == 1
        assert "lies inside the output" in refused.stderr and "--overwrite" not in refused.stderr
    assert hash_tree(store) == before


# -- what is already at the output ---------------------------------------------------------


class Killed(BaseException):
    """Stands for the process being killed at that moment."""


def _kill(*args: object, **kwargs: object) -> None:
    raise Killed


def _hashes(out: Path) -> dict[str, str]:
    """Every chunk and array metadata file below ``out`` (group metadata records the run)."""
    kept = {}
    for name, digest in hash_tree(out).items():
        path = out / name
        if digest == "<dir>" or path.name.startswith(".platekit-"):
            continue
        group_metadata = path.name in (".zattrs", ".zgroup") or (
            path.name == "zarr.json" and '"array"' not in path.read_text()
        )
        if not group_metadata:
            kept[name] = digest
    return kept


@pytest.mark.parametrize("ngff", ["0.5", "0.4"])
@pytest.mark.parametrize("moment", ["folder made", "group made", "group staged"])
def test_a_run_killed_before_it_recorded_what_it_converts_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moment: str, ngff: str
) -> None:
    from platekit.microscopes._lock import OutputLock
    from platekit.storage.backends.zarr import ZarrBackend

    source = plate(tmp_path / "P")
    whole = tmp_path / "whole.zarr"
    convert(source, whole, ngff=ngff)
    out = tmp_path / "out.zarr"
    if moment == "folder made":
        monkeypatch.setattr(OutputLock, "acquire", _kill)
    else:
        monkeypatch.setattr(ZarrBackend, "set_attributes", _kill)
    with pytest.raises(Killed):
        convert(source, out, ngff=ngff)
    monkeypatch.undo()
    assert out.is_dir()
    if moment == "group staged":
        (out / ".platekit-tmp-0a1b2c3d4e5f").write_text('{"zarr_format": 3}')
    result = convert(source, out, ngff=ngff)
    assert result.wells_converted == 2 and not result.already_complete
    assert _hashes(out) == _hashes(whole)
    assert not list(out.glob(".platekit-tmp-*"))


def test_a_folder_that_is_not_a_store_is_told_the_truth_up_front(tmp_path: Path) -> None:
    out = tmp_path / "mine.zarr"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    refused = platekit("convert", str(plate(tmp_path / "P")), str(out))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "is a folder that is not a Zarr store" in refused.stderr
    assert "pass overwrite" not in refused.stderr and "--overwrite" not in refused.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_zarr_store_of_another_tool_is_replaced_only_when_asked(tmp_path: Path) -> None:
    import zarr

    out = tmp_path / "theirs.zarr"
    zarr.open_group(str(out), mode="w").attrs["made_by"] = "another tool"
    source = plate(tmp_path / "P")
    with pytest.raises(FileExistsError, match=r"not a platekit conversion.*--overwrite"):
        convert(source, out)
    assert zarr.open_group(str(out), mode="r").attrs["made_by"] == "another tool"
    assert convert(source, out, overwrite=True).wells_converted == 2


# -- an output that cannot be written ------------------------------------------------------


def platekit_without_privileges(*args: str) -> subprocess.CompletedProcess[str]:
    """``platekit ARGS`` in a process that file permissions bind, even for root."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root, and setpriv is not there to drop root's file privileges")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "platekit.registry", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_only(*folders: Path) -> None:
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)


def writable(*folders: Path) -> None:
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_an_output_that_cannot_be_written_is_one_line_and_nothing_is_lost(tmp_path: Path) -> None:
    import threading

    from platekit.microscopes import ConversionCancelled

    source = plate(tmp_path / "P", wells=["A01", "A02", "B01", "B02"])
    # A new output in a folder that cannot be written, and an empty read-only output.
    parent, empty = tmp_path / "locked", tmp_path / "empty.zarr"
    parent.mkdir()
    empty.mkdir()
    # A partial output, made read-only, to be resumed.
    partial = tmp_path / "partial.zarr"
    stop = threading.Event()
    with pytest.raises(ConversionCancelled):
        convert(source, partial, progress=lambda p: p.wells_done and stop.set(), cancel=stop)
    before = hash_tree(partial)
    read_only(parent, empty, partial)
    try:
        for out in (parent / "new.zarr", empty, partial):
            refused = platekit_without_privileges("convert", str(source), str(out))
            assert refused.returncode == 1, refused.stderr
            assert len(refused.stderr.splitlines()) == 1 and "Traceback" not in refused.stderr
            assert f"cannot write into the output {str(out)!r}" in refused.stderr
            assert "make that folder writable" in refused.stderr
        assert hash_tree(partial) == before
    finally:
        writable(parent, empty, partial)
    assert convert(source, partial).wells_converted > 0


def test_a_plate_that_may_not_be_read_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    locked_htd, locked_folder = plate(tmp_path / "P1"), plate(tmp_path / "P2")
    htd = next(locked_htd.glob("*.HTD"))
    htd.chmod(0)
    locked_folder.chmod(0)
    try:
        for source, unreadable in ((locked_htd, htd), (locked_folder, locked_folder)):
            refused = platekit_without_privileges("inspect", str(source))
            assert refused.returncode == 1, refused.stdout
            assert refused.stderr == (
                f"platekit: cannot read {str(unreadable)!r} (Permission denied); check its "
                "permissions and its folders', or run as a user who may read the plate\n"
            )
    finally:
        htd.chmod(0o644)
        locked_folder.chmod(0o755)


def test_a_complete_read_only_output_is_still_complete(tmp_path: Path) -> None:
    source = plate(tmp_path / "P")
    out = tmp_path / "out.zarr"
    convert(source, out)
    read_only(out)
    try:
        again = platekit_without_privileges("convert", str(source), str(out))
    finally:
        writable(out)
    assert again.returncode == 0, again.stderr
    assert "already a complete conversion" in again.stdout


def test_an_overwrite_killed_midway_is_finished_by_the_same_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    out = tmp_path / "out.zarr"
    convert(plate(tmp_path / "first", wells=["A01", "B01", "C01", "D01", "E01"]), out)
    entries = [p for p in out.iterdir() if not p.name.startswith(".")]
    source = plate(tmp_path / "second", wells=["C03"])
    removed: list[object] = []
    real_rmtree, real_unlink = shutil.rmtree, Path.unlink

    def removal(real: Callable[..., None]) -> Callable[..., None]:
        def killed_before_the_last(path: object, *args: object, **kwargs: object) -> None:
            if len(removed) == len(entries) - 1:
                raise Killed
            removed.append(path)
            real(path, *args, **kwargs)

        return killed_before_the_last

    monkeypatch.setattr(shutil, "rmtree", removal(real_rmtree))
    monkeypatch.setattr(Path, "unlink", removal(real_unlink))
    with pytest.raises(Killed):
        convert(source, out, overwrite=True)
    monkeypatch.undo()
    assert (out / "zarr.json").is_file()
    assert convert(source, out, overwrite=True).wells_converted == 1


# -- names that are not UTF-8 --------------------------------------------------------------


def test_a_plate_under_a_name_that_is_not_utf8_converts_and_resumes(tmp_path: Path) -> None:
    # Old file servers keep Latin-1 names; the conversion's record is UTF-8 JSON all the same.
    try:
        folder = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9"))
        folder.mkdir()
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only names that are UTF-8")
    source = plate(folder / "P")
    out = tmp_path / "out.zarr"
    result = convert(source, out)
    assert result.planes_written == 2
    recorded = json.loads((out / "zarr.json").read_text(encoding="utf-8"))
    assert recorded["attributes"]["platekit"]["conversion"]["source"].endswith("caf\\xe9/P")
    again = platekit("convert", str(source), str(out))
    assert again.returncode == 0, again.stderr
    assert "already a complete conversion" in again.stdout


# -- things in a plate folder that are not files --------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_or_a_dangling_link_named_as_an_image_is_a_missing_plane_not_a_hang(
    tmp_path: Path,
) -> None:
    source = plate(tmp_path / "P", wells=["A01", "A02", "B02"])
    first, second = sorted(source.glob("*.tif"))[:2]
    first.unlink()
    os.mkfifo(first)  # opened for reading, it waits for a writer that never comes
    second.unlink()
    second.symlink_to(tmp_path / "gone.tif")
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "platekit.registry",
                "convert",
                str(source),
                str(tmp_path / "o.zarr"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the conversion waited on the pipe")
    assert done.returncode == 0, done.stderr
    assert "2 planes listed by the plate's metadata are missing" in done.stdout
