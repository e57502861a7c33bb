"""The disk backend: the shared contract, each file format, plugins, and atomic writes."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest
import tifffile

from platekit.registry._install import install_command
from platekit.storage._base import STORAGE_BACKENDS
from platekit.storage._formats import DISK_FORMATS, FileFormat, format_for
from platekit.storage.backends.disk import DiskBackend, is_temporary
from platekit.storage.testing import BackendContract


class TestDiskBackend(BackendContract):
    suffix = ".tif"

    @pytest.fixture
    def backend(self) -> DiskBackend:
        return DiskBackend()

    @pytest.fixture
    def root(self, tmp_path: Path) -> str:
        return str(tmp_path / "data")

    def sample(self, n: int) -> Any:
        return (np.arange(48, dtype=np.uint16).reshape(6, 8) * 7 + n).astype(np.uint16)


class TestDiskBackendNpy(TestDiskBackend):
    suffix = ".npy"

    def sample(self, n: int) -> Any:
        return np.linspace(-1, 1, 30, dtype=np.float32).reshape(5, 6) * (n + 1)


HAS_IMAGECODECS = importlib.util.find_spec("imagecodecs") is not None


@pytest.mark.skipif(not HAS_IMAGECODECS, reason="needs the png extra (imagecodecs)")
class TestDiskBackendPng(TestDiskBackend):
    suffix = ".png"

    def sample(self, n: int) -> Any:
        return (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000 + n).astype(np.uint16)


@pytest.mark.skipif(not HAS_IMAGECODECS, reason="needs the images extra (imagecodecs)")
class TestDiskBackendJpeg(TestDiskBackend):
    suffix = ".jpg"

    def sample(self, n: int) -> Any:
        # Flat images: JPEG is lossy, but keeps a flat area exactly.
        return np.full((16, 16), 10 + 20 * n, dtype=np.uint8)


@pytest.mark.skipif(not HAS_IMAGECODECS, reason="needs the images extra (imagecodecs)")
class TestDiskBackendBmp(TestDiskBackend):
    suffix = ".bmp"

    def sample(self, n: int) -> Any:
        image = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
        return (image + n).astype(np.uint8)


@pytest.mark.skipif(not HAS_IMAGECODECS, reason="needs the images extra (imagecodecs)")
class TestDiskBackendGif(TestDiskBackend):
    suffix = ".gif"

    def sample(self, n: int) -> Any:
        return (np.arange(48, dtype=np.uint8).reshape(6, 8) * 5 + n).astype(np.uint8)


@pytest.mark.skipif(importlib.util.find_spec("scipy") is None, reason="needs the mat extra (scipy)")
class TestDiskBackendMat(TestDiskBackend):
    suffix = ".mat"

    def sample(self, n: int) -> Any:
        return {
            "image": (np.arange(12, dtype=np.uint16).reshape(3, 4) + n).astype(np.uint16),
            "mask": np.full((2, 2, 2), n, dtype=np.float32),
        }

    def assert_same(self, stored: Any, loaded: Any) -> None:
        assert sorted(loaded) == sorted(stored)
        for name, array in stored.items():
            super().assert_same(array, loaded[name])


class TestDiskBackendCsv(TestDiskBackend):
    suffix = ".csv"

    def sample(self, n: int) -> Any:
        return [{"well": "A01", "cells": str(n)}, {"well": "B02", "cells": str(n + 1)}]


def temporary_files(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if is_temporary(p.name)]


@pytest.fixture
def disk() -> DiskBackend:
    return DiskBackend()


# -- each format -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(64, 96), (5, 64, 96), (3, 40, 50), (2, 3, 16, 16)])
def test_tiff_round_trip_is_exact_and_a_real_tiff(
    disk: DiskBackend, tmp_path: Path, shape: tuple[int, ...]
) -> None:
    image = np.random.default_rng(len(shape)).integers(0, 65536, shape, dtype=np.uint16)
    path = tmp_path / "plate" / "A01_s1_w1.tif"
    disk.save(image, path)
    loaded = disk.load(path)
    assert loaded.dtype == np.uint16 and loaded.shape == shape
    np.testing.assert_array_equal(loaded, image)
    # Another reader sees a TIFF with one page per plane.
    assert path.read_bytes()[:4] in (b"II*\x00", b"MM\x00*")
    np.testing.assert_array_equal(tifffile.imread(path), image)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == int(np.prod(shape[:-2]))


def test_tiff_keyword_arguments_reach_tifffile(disk: DiskBackend, tmp_path: Path) -> None:
    stack = np.arange(3 * 32 * 32, dtype=np.uint16).reshape(3, 32, 32)
    path = str(tmp_path / "stack.TIFF")  # suffixes match without regard to case
    disk.save(stack, path, compression="zlib")
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    np.testing.assert_array_equal(disk.load(path, key=1), stack[1])


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "float64", "complex64", "bool"])
def test_npy_round_trip(disk: DiskBackend, tmp_path: Path, dtype: str) -> None:
    array = (np.arange(60).reshape(3, 4, 5) % 5).astype(dtype)
    path = str(tmp_path / "a.npy")
    disk.save(array, path)
    loaded = disk.load(path)
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)
    np.testing.assert_array_equal(np.load(path), array)
    mapped = disk.load(path, mmap_mode="r")
    np.testing.assert_array_equal(mapped, array)
    del mapped


@pytest.mark.parametrize(
    "data", [{"wells": ["A01", "B12"], "sites": 9, "ok": True, "µm": 0.65}, [1, "two", None]]
)
def test_json_round_trip(disk: DiskBackend, tmp_path: Path, data: Any) -> None:
    path = tmp_path / "meta.json"
    disk.save(data, path)
    assert disk.load(path) == data
    assert json.loads(path.read_text(encoding="utf-8")) == data


@pytest.mark.parametrize("name", ["notes.txt", "NOTES.TXT"])
def test_text_round_trip_is_exact(disk: DiskBackend, tmp_path: Path, name: str) -> None:
    text = "well,cells\r\nA01,120\nB02,µ 7\n"
    path = tmp_path / name
    disk.save(text, path)
    assert disk.load(path) == text
    assert path.read_bytes() == text.encode("utf-8")
    disk.save(text, path, overwrite=True, encoding="utf-16")
    assert disk.load(path, encoding="utf-16") == text


@pytest.mark.parametrize("name", ["blob.dat", "no_suffix", "archive.tar.gz", ".hidden"])
def test_unknown_suffixes_are_bytes(disk: DiskBackend, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    disk.save(b"\x00\x01raw", path)
    assert disk.load(path) == b"\x00\x01raw"
    disk.save(bytearray(b"more"), path, overwrite=True)
    assert disk.load(path) == b"more"
    disk.save(memoryview(b"view"), path, overwrite=True)
    assert disk.load(path) == b"view"


def test_a_format_can_be_chosen_by_name(disk: DiskBackend, tmp_path: Path) -> None:
    array = np.arange(6, dtype=np.int32).reshape(2, 3)
    path = tmp_path / "array.bin"
    disk.save(array, path, format="npy")
    np.testing.assert_array_equal(disk.load(path, format="npy"), array)
    assert isinstance(disk.load(path), bytes)
    with pytest.raises(KeyError, match="nope"):
        disk.save(array, tmp_path / "other.bin", format="nope")


# -- refusing data a format cannot hold -------------------------------------------------


def test_wrong_data_for_a_format_is_refused_and_nothing_is_written(
    disk: DiskBackend, tmp_path: Path
) -> None:
    path = tmp_path / "plate" / "A01.tif"
    with pytest.raises(TypeError) as caught:
        disk.save({"not": "an image"}, path)
    message = str(caught.value)
    assert str(path) in message and "dict" in message and "tiff" in message
    assert "json (.json)" in message
    assert not path.exists()
    assert temporary_files(tmp_path) == []


def test_old_data_stays_when_new_data_is_refused(disk: DiskBackend, tmp_path: Path) -> None:
    path = tmp_path / "kept.tif"
    image = np.ones((4, 4), dtype=np.uint16)
    disk.save(image, path)
    for wrong in ("text", np.zeros(5, dtype=np.uint16), np.zeros((0, 4), dtype=np.uint16)):
        with pytest.raises(TypeError, match="tiff"):
            disk.save(wrong, path, overwrite=True)
    np.testing.assert_array_equal(disk.load(path), image)


def test_non_bytes_to_a_bytes_path_names_the_formats_that_take_it(
    disk: DiskBackend, tmp_path: Path
) -> None:
    path = tmp_path / "notes.dat"
    with pytest.raises(TypeError) as caught:
        disk.save("some text", path)
    message = str(caught.value)
    assert str(path) in message and "a str" in message and "bytes" in message
    assert "text (.txt)" in message and "json (.json)" in message
    with pytest.raises(TypeError, match=r"numpy array \(dtype uint16.*npy \(\.npy\)"):
        disk.save(np.zeros((2, 2), dtype=np.uint16), path)
    with pytest.raises(TypeError, match="No disk file format takes it"):
        disk.save(object(), path)
    assert not path.exists()


def test_data_a_writer_rejects_midway_leaves_the_old_file(
    disk: DiskBackend, tmp_path: Path
) -> None:
    path = tmp_path / "meta.json"
    disk.save({"version": 1}, path)
    with pytest.raises(TypeError, match=r"meta\.json.*not JSON serializable"):
        disk.save({"array": np.zeros(3)}, path, overwrite=True)
    assert disk.load(path) == {"version": 1}
    assert temporary_files(tmp_path) == []


def test_unknown_keyword_arguments_are_refused(disk: DiskBackend, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        disk.save("x", tmp_path / "a.txt", colour="red")
    assert not (tmp_path / "a.txt").exists()


# -- formats from plugins -----------------------------------------------------------------


class Base64Format(FileFormat):
    """A third-party format: bytes stored as base64 text."""

    name = "test-base64"
    extensions = (".b64",)
    takes = "bytes"

    def accepts(self, data: Any) -> bool:
        return isinstance(data, bytes)

    def write(self, data: Any, file: BinaryIO, **kwargs: Any) -> None:
        file.write(base64.b64encode(data))

    def read(self, path: str, **kwargs: Any) -> Any:
        with open(path, "rb") as file:
            return base64.b64decode(file.read())


def test_a_format_defined_by_a_plugin_is_used(disk: DiskBackend, tmp_path: Path) -> None:
    assert "test-base64" in DISK_FORMATS
    assert DISK_FORMATS.metadata("test-base64") == {"extensions": [".b64"]}
    path = tmp_path / "secret.B64"
    disk.save(b"\xffplatekit", path)
    assert path.read_bytes() == base64.b64encode(b"\xffplatekit")
    assert disk.load(path) == b"\xffplatekit"
    with pytest.raises(TypeError, match=r"test-base64 format \(\.b64\) takes bytes"):
        disk.save("text", tmp_path / "other.b64")


@pytest.fixture
def define_format() -> Iterator[Any]:
    """Defines formats for one test and takes them out of the registry afterwards."""
    defined: list[type[FileFormat]] = []

    def define(key: str, *suffixes: str) -> type[FileFormat]:
        class Marker(FileFormat):
            name = key
            extensions = suffixes

            def write(self, data: Any, file: BinaryIO, **kwargs: Any) -> None:
                file.write(key.encode())

            def read(self, path: str, **kwargs: Any) -> Any:
                return key

        defined.append(Marker)
        return Marker

    yield define
    for cls in defined:
        DISK_FORMATS._unclaim(cls.name, cls, None)


def test_a_plugin_suffix_wins_over_a_built_in_one_and_longest_first(
    disk: DiskBackend, tmp_path: Path, define_format: Any
) -> None:
    define_format("test-csv", ".csv")
    define_format("test-ome", ".ome.tif")
    disk.save("a,b\n", tmp_path / "t.csv")
    assert disk.load(tmp_path / "t.csv") == "test-csv"
    assert format_for("plate/A01.OME.TIF").name == "test-ome"
    assert format_for("plate/A01.tif").name == "tiff"


def test_two_plugins_claiming_one_suffix_is_an_error_naming_both(
    disk: DiskBackend, tmp_path: Path, define_format: Any
) -> None:
    define_format("test-one", ".both")
    define_format("test-two", ".both")
    with pytest.raises(ValueError, match=r"'test-one', 'test-two' all claim '\.both'"):
        disk.save(b"x", tmp_path / "a.both")
    disk.save(b"x", tmp_path / "a.both", format="test-two")
    assert disk.load(tmp_path / "a.both", format="test-one") == "test-one"


# -- atomic writes --------------------------------------------------------------------------


def test_many_saves_leave_no_temporary_files(disk: DiskBackend, tmp_path: Path) -> None:
    def work(worker: int) -> None:
        for n in range(25):
            image = np.full((32, 32), n, dtype=np.uint16)
            disk.save(image, tmp_path / f"w{worker}_{n % 5}.tif", overwrite=True)
            disk.save(image, tmp_path / "shared.npy", overwrite=True)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert temporary_files(tmp_path) == []
    assert len(disk.list_files(tmp_path)) == 21


def test_a_failed_rename_removes_the_temporary_file_and_keeps_the_old_one(
    disk: DiskBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "A01.tif"
    disk.save(np.ones((8, 8), dtype=np.uint16), path)

    def fail(src: Any, dst: Any) -> None:
        raise OSError(5, "simulated failure of the rename")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="simulated"):
        disk.save(np.zeros((8, 8), dtype=np.uint16), path, overwrite=True)
    monkeypatch.undo()
    np.testing.assert_array_equal(disk.load(path), np.ones((8, 8), dtype=np.uint16))
    assert os.listdir(tmp_path) == ["A01.tif"]


def test_saving_without_hard_links_still_refuses_to_overwrite(
    disk: DiskBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: Any, dst: Any) -> None:
        raise PermissionError(1, "this file system has no hard links")

    monkeypatch.setattr(os, "link", no_links)
    disk.save("first", tmp_path / "a.txt")
    with pytest.raises(FileExistsError):
        disk.save("second", tmp_path / "a.txt")
    assert disk.load(tmp_path / "a.txt") == "first"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_racing_writers_of_a_new_file_one_wins(tmp_path: Path) -> None:
    disk = DiskBackend()
    for attempt in range(20):
        path = tmp_path / f"race{attempt}.txt"
        barrier = threading.Barrier(4)
        outcomes: list[str] = []

        def write(
            text: str,
            path: Path = path,
            barrier: threading.Barrier = barrier,
            outcomes: list[str] = outcomes,
        ) -> None:
            barrier.wait(timeout=10)
            try:
                disk.save(text, path)
                outcomes.append(text)
            except FileExistsError:
                pass

        threads = [threading.Thread(target=write, args=(f"writer {n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(outcomes) == 1
        assert disk.load(path) == outcomes[0]
    assert temporary_files(tmp_path) == []


def test_listings_never_show_temporary_files(disk: DiskBackend, tmp_path: Path) -> None:
    disk.save(b"x", tmp_path / "a.tif.raw")
    (tmp_path / "sub").mkdir()
    # What a killed writer leaves behind, and a user's own file that only looks alike.
    (tmp_path / ".a.tif.4242.7.tmp").write_bytes(b"partial")
    (tmp_path / "sub" / ".b.npy.1.0.tmp").write_bytes(b"partial")
    (tmp_path / ".scratch.tmp").write_bytes(b"mine")
    assert disk.list_dir(tmp_path) == [".scratch.tmp", "a.tif.raw", "sub"]
    listed = disk.list_files(tmp_path, recursive=True)
    assert [os.path.basename(p) for p in listed] == [".scratch.tmp", "a.tif.raw"]
    assert disk.list_dir(tmp_path / "sub") == []


def test_durable_saves(tmp_path: Path) -> None:
    disk = DiskBackend(fsync=True)
    disk.save(np.eye(4, dtype=np.uint16), tmp_path / "eye.tif")
    np.testing.assert_array_equal(disk.load(tmp_path / "eye.tif"), np.eye(4, dtype=np.uint16))


# -- paths, folders, copies ------------------------------------------------------------------


def test_paths_are_returned_as_strings(disk: DiskBackend, tmp_path: Path) -> None:
    disk.save("x", tmp_path / "sub" / "s10.txt")
    disk.save("x", tmp_path / "sub" / "s9.txt")
    listed = disk.list_files(tmp_path / "sub", extensions=["TXT"])
    assert listed == [str(tmp_path / "sub" / "s9.txt"), str(tmp_path / "sub" / "s10.txt")]
    assert disk.list_files(tmp_path / "sub", extensions=".txt") == listed
    assert disk.ensure_directory(tmp_path / "made") == str(tmp_path / "made")


def test_loading_a_folder_or_saving_over_one_fails(disk: DiskBackend, tmp_path: Path) -> None:
    (tmp_path / "f.tif").mkdir()
    with pytest.raises(IsADirectoryError):
        disk.load(tmp_path / "f.tif")
    with pytest.raises(IsADirectoryError):
        disk.save(np.ones((2, 2), dtype=np.uint16), tmp_path / "f.tif", overwrite=True)
    disk.save("x", tmp_path / "file.txt")
    with pytest.raises(NotADirectoryError):
        disk.save("y", tmp_path / "file.txt" / "inner.txt")
    with pytest.raises(FileNotFoundError, match="disk"):
        disk.load(tmp_path / "file.txt" / "inner.txt")


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("damaged.json", b"{not json", "JSONDecodeError"),
        ("damaged.tif", b"II*\x00\x08\x00\x00\x00\xff", "TiffFileError"),
        ("damaged.txt", b"caf\xe9", "UnicodeDecodeError"),
    ],
)
def test_a_damaged_file_is_named_with_its_format_and_what_to_do(
    disk: DiskBackend, tmp_path: Path, name: str, content: bytes, error: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    fmt = format_for(str(path)).name
    with pytest.raises(ValueError, match="is not a readable") as caught:
        disk.load(str(path))
    message = str(caught.value)
    assert message.startswith(f"{str(path)!r} is not a readable {fmt} file ({error}: ")
    assert message.endswith("pass format=NAME to read it as another format")
    assert path.read_bytes() == content


def test_deleting_a_link_keeps_what_it_points_to(disk: DiskBackend, tmp_path: Path) -> None:
    disk.save("kept", tmp_path / "real" / "a.txt")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    assert disk.list_files(tmp_path, recursive=True) == [str(tmp_path / "real" / "a.txt")]
    disk.delete(tmp_path / "link")
    assert disk.load(tmp_path / "real" / "a.txt") == "kept"


def test_copy_and_move_with_overwrite(disk: DiskBackend, tmp_path: Path) -> None:
    disk.save("new", tmp_path / "src" / "a.txt")
    disk.save("deep", tmp_path / "src" / "d" / "b.txt")
    disk.save("old", tmp_path / "dst" / "a.txt")
    disk.save("only in dst", tmp_path / "dst" / "c.txt")
    with pytest.raises(FileExistsError):
        disk.copy(tmp_path / "src", tmp_path / "dst")
    disk.copy(tmp_path / "src", tmp_path / "dst", overwrite=True)  # the folders merge
    assert disk.load(tmp_path / "dst" / "a.txt") == "new"
    assert disk.load(tmp_path / "dst" / "d" / "b.txt") == "deep"
    assert disk.load(tmp_path / "dst" / "c.txt") == "only in dst"

    disk.save("newer", tmp_path / "src" / "a.txt", overwrite=True)
    disk.move(tmp_path / "src", tmp_path / "dst", overwrite=True)
    assert not disk.exists(tmp_path / "src")
    assert disk.load(tmp_path / "dst" / "a.txt") == "newer"

    disk.move(tmp_path / "dst" / "a.txt", tmp_path / "dst" / "c.txt", overwrite=True)
    assert disk.load(tmp_path / "dst" / "c.txt") == "newer"
    with pytest.raises(IsADirectoryError):
        disk.copy(tmp_path / "dst" / "c.txt", tmp_path / "dst" / "d", overwrite=True)
    with pytest.raises(ValueError, match="inside itself"):
        disk.move(tmp_path / "dst", tmp_path / "dst" / "d" / "inner")
    assert temporary_files(tmp_path) == []


# -- registration and import cost --------------------------------------------------------------


def test_disk_is_a_registered_backend() -> None:
    assert STORAGE_BACKENDS["disk"] is DiskBackend
    assert set(DISK_FORMATS) >= {"tiff", "npy", "json", "text", "bytes"}


def test_importing_the_backend_imports_neither_numpy_nor_tifffile() -> None:
    code = (
        "import sys, platekit.storage.backends.disk; "
        "print(sorted(m for m in ('numpy', 'tifffile', 'json') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


# -- PNG and CSV ---------------------------------------------------------------------


@pytest.mark.skipif(not HAS_IMAGECODECS, reason="needs the png extra (imagecodecs)")
@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((40, 50), np.uint8), ((40, 50), np.uint16), ((40, 50, 3), np.uint8), ((9, 7, 4), np.uint16)],
)
def test_png_round_trip_is_exact_and_a_real_png(
    disk: DiskBackend, tmp_path: Path, shape: tuple[int, ...], dtype: Any
) -> None:
    import imagecodecs

    top = np.iinfo(dtype).max
    image = np.random.default_rng(3).integers(0, top, shape, endpoint=True).astype(dtype)
    path = tmp_path / "A01_s1.PNG"
    disk.save(image, path, level=9)
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(imagecodecs.png_decode(raw), image)
    loaded = disk.load(path)
    assert loaded.dtype == image.dtype and loaded.shape == image.shape
    np.testing.assert_array_equal(loaded, image)


def test_png_refuses_what_it_cannot_hold_and_names_the_formats_that_can(
    disk: DiskBackend, tmp_path: Path
) -> None:
    for data in (np.zeros((4, 4), np.float32), np.zeros((2, 4, 5), np.uint8), b"raw"):
        with pytest.raises(TypeError, match=r"the png format \(\.png\) takes uint8 or uint16"):
            disk.save(data, tmp_path / "x.png")
    with pytest.raises(TypeError, match=r"tiff \(\.tif, \.tiff\)"):
        disk.save(np.zeros((4, 4), np.float32), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_png_without_imagecodecs_says_what_to_install(
    disk: DiskBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # as if not installed
    with pytest.raises(ImportError) as caught:
        disk.save(np.zeros((4, 4), np.uint8), tmp_path / "x.png")
    # The line works where platekit-storage was installed from, not only from an index.
    assert str(caught.value).endswith(install_command("platekit-storage", "png"))
    assert list(tmp_path.iterdir()) == []  # the temporary file went too


def test_csv_rows_with_missing_cells_numbers_and_none(disk: DiskBackend, tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    rows = [{"well": "A01", "count": 12}, {"well": "B02", "area": 3.5, "note": None}]
    disk.save(rows, path)
    assert path.read_bytes().decode("utf-8") == (
        "well,count,area,note\r\nA01,12,,\r\nB02,,3.5,\r\n"
    )
    assert disk.load(path) == [
        {"well": "A01", "count": "12", "area": "", "note": ""},
        {"well": "B02", "count": "", "area": "3.5", "note": ""},
    ]
    disk.save(rows, path, overwrite=True, fieldnames=["count", "well"], extrasaction="ignore")
    assert path.read_text(encoding="utf-8").splitlines()[0] == "count,well"
    disk.save([{"a": "1;2", "b": "x"}], path, overwrite=True, delimiter=";")
    assert disk.load(path, delimiter=";") == [{"a": "1;2", "b": "x"}]
    disk.save([], path, overwrite=True)
    assert path.read_bytes() == b"" and disk.load(path) == []


def test_csv_takes_rows_only_and_text_says_where_it_went(disk: DiskBackend, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"the csv format \(\.csv\) takes a list of dicts"):
        disk.save("well,count\n", tmp_path / "t.csv")
    with pytest.raises(TypeError, match="csv format"):
        disk.save([{"a": [1, 2]}], tmp_path / "t.csv")
    disk.save("well,count\n", tmp_path / "t.csv", format="text")  # text, by name
    assert disk.load(tmp_path / "t.csv", format="text") == "well,count\n"
    assert disk.load(tmp_path / "t.csv") == []  # a header and no rows


# -- declared TIFF axes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("axes", "shape", "photometric", "planar"),
    [
        ("ZYX", (3, 4, 5), "MINISBLACK", "CONTIG"),
        ("TCZYX", (2, 1, 3, 4, 5), "MINISBLACK", "CONTIG"),
        ("YXS", (4, 5, 3), "RGB", "CONTIG"),
        ("SYX", (3, 4, 5), "RGB", "SEPARATE"),
        ("ZSYX", (2, 3, 4, 5), "RGB", "SEPARATE"),
    ],
)
def test_declared_tiff_axes_are_written_and_read_back(
    disk: DiskBackend,
    tmp_path: Path,
    axes: str,
    shape: tuple[int, ...],
    photometric: str,
    planar: str,
) -> None:
    pixels = np.arange(int(np.prod(shape)), dtype=np.uint16).reshape(shape)
    path = tmp_path / "declared.tif"
    disk.save(pixels, path, axes=axes)
    with tifffile.TiffFile(path) as image:
        assert image.series[0].axes == axes
        assert image.pages[0].photometric.name == photometric
        assert tifffile.PLANARCONFIG(image.pages[0].planarconfig).name == planar
        np.testing.assert_array_equal(image.asarray(), pixels)


@pytest.mark.parametrize(
    ("axes", "shape", "options", "message"),
    [
        ("YX", (3, 4, 5), {}, "one letter per dimension is needed, 2 for 3"),
        ("ZZX", (3, 4, 5), {}, "each letter once"),
        ("YXZ", (3, 4, 5), {}, "Y and X must be the last axes"),
        ("SZYX", (3, 2, 4, 5), {}, "the sample axis S must stand right before YX"),
        ("SYX", (2, 4, 5), {}, "must hold 3 or 4 samples, not 2"),
        ("SYX", (3, 4, 5), {"photometric": "minisblack"}, "S means RGB"),
        ("ZYX", (3, 4, 5), {"photometric": "rgb"}, "needs a sample axis S"),
        ("", (3, 4), {}, "axes must be a string"),
    ],
)
def test_declared_tiff_axes_that_do_not_fit_are_refused_and_nothing_is_written(
    disk: DiskBackend,
    tmp_path: Path,
    axes: str,
    shape: tuple[int, ...],
    options: dict[str, Any],
    message: str,
) -> None:
    path = tmp_path / "invalid.tif"
    with pytest.raises(ValueError, match=message) as caught:
        disk.save(np.zeros(shape, np.uint16), path, axes=axes, **options)
    assert str(shape) in str(caught.value)
    assert list(tmp_path.iterdir()) == []


# -- formats through extras -------------------------------------------------------------------


@pytest.mark.skipif(not HAS_IMAGECODECS, reason="needs the images extra (imagecodecs)")
def test_jpeg_is_lossy_but_close_and_takes_a_quality(disk: DiskBackend, tmp_path: Path) -> None:
    ramp = np.add.outer(np.arange(32), np.arange(32)).astype(np.uint8) * 3
    disk.save(ramp, tmp_path / "a.jpeg", level=95)
    back = disk.load(tmp_path / "a.jpeg")
    assert back.shape == ramp.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - ramp).max() <= 8
    with pytest.raises(ValueError, match="quality level"):
        disk.save(ramp, tmp_path / "b.jpg", level=0)
    with pytest.raises(TypeError, match=r"the jpeg format \(\.jpg, \.jpeg\) takes uint8"):
        disk.save(ramp.astype(np.uint16), tmp_path / "c.jpg")


def test_image_formats_without_imagecodecs_say_what_to_install(
    disk: DiskBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # as if not installed
    for name in ("x.jpg", "x.bmp", "x.gif"):
        with pytest.raises(ImportError) as caught:
            disk.save(np.zeros((4, 4), np.uint8), tmp_path / name)
        assert str(caught.value).endswith(install_command("platekit-storage", "images"))
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    with pytest.raises(ImportError) as caught:
        disk.save({"a": np.zeros((2, 2))}, tmp_path / "x.mat")
    assert str(caught.value).endswith(install_command("platekit-storage", "mat"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(importlib.util.find_spec("scipy") is None, reason="needs the mat extra (scipy)")
def test_mat_takes_named_arrays_of_two_or_more_dimensions(
    disk: DiskBackend, tmp_path: Path
) -> None:
    for wrong in ({"image": np.zeros(3)}, {"2bad": np.zeros((2, 2))}, {}, [np.zeros((2, 2))]):
        with pytest.raises(TypeError, match="the mat format"):
            disk.save(wrong, tmp_path / "x.mat")
    disk.save({"image": np.ones((64, 64))}, tmp_path / "z.mat", do_compression=True)
    np.testing.assert_array_equal(disk.load(tmp_path / "z.mat")["image"], np.ones((64, 64)))
