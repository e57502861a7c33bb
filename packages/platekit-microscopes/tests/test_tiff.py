"""Reading a plane from a TIFF: LZW planes through libtiff, everything else through tifffile."""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile

from platekit.microscopes import BadPlaneError
from platekit.microscopes._tiff import read_tiff_plane


@pytest.fixture
def libtiff_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each call of imagecodecs.tiff_decode, by the size of the bytes it was given."""
    calls: list[int] = []
    decode = imagecodecs.tiff_decode

    def counting(data: bytes, *args: object, **kwargs: object) -> np.ndarray:
        calls.append(len(data))
        return decode(data, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(imagecodecs, "tiff_decode", counting)
    return calls


def _plane(shape: tuple[int, int] = (300, 200), dtype: str = "uint16") -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 4000, size=shape).astype(dtype)


@pytest.mark.parametrize("predictor", [False, True])
@pytest.mark.parametrize("tiled", [False, True])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_an_lzw_plane_is_decoded_by_libtiff_to_tifffiles_pixels(
    tmp_path: Path, libtiff_calls: list[int], predictor: bool, tiled: bool, dtype: str
) -> None:
    path = tmp_path / "plane.tif"
    pixels = _plane(dtype=dtype)
    tile = {"tile": (64, 64)} if tiled else {"rowsperstrip": 37}
    tifffile.imwrite(path, pixels, compression="lzw", predictor=predictor, **tile)
    read = read_tiff_plane(path)
    assert libtiff_calls == [path.stat().st_size]
    assert read.dtype == tifffile.imread(path).dtype
    np.testing.assert_array_equal(read, tifffile.imread(path))
    np.testing.assert_array_equal(read, pixels)


@pytest.mark.parametrize("compression", [None, "zlib", "packbits"])
def test_other_planes_are_read_by_tifffile(
    tmp_path: Path, libtiff_calls: list[int], compression: str | None
) -> None:
    path = tmp_path / "plane.tif"
    pixels = _plane()
    tifffile.imwrite(path, pixels, compression=compression)
    np.testing.assert_array_equal(read_tiff_plane(path), pixels)
    assert libtiff_calls == []


def test_the_first_page_of_a_multipage_lzw_file_is_read(
    tmp_path: Path, libtiff_calls: list[int]
) -> None:
    path = tmp_path / "stack.tif"
    first, second = _plane(), _plane()[::-1].copy()
    with tifffile.TiffWriter(path) as tiff:
        tiff.write(first, compression="lzw")
        tiff.write(second, compression="lzw")
    np.testing.assert_array_equal(read_tiff_plane(path), first)
    assert len(libtiff_calls) == 1


def test_an_lzw_file_cut_short_is_a_bad_plane_not_a_padded_one(
    tmp_path: Path, libtiff_calls: list[int]
) -> None:
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, _plane(), compression="lzw", rowsperstrip=37)
    data = path.read_bytes()
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages.first
        end = max(o + n for o, n in zip(page.dataoffsets, page.databytecounts, strict=True))
    # tifffile writes the strips last: cutting the file cuts the last strip, the header stays.
    assert end == len(data)
    path.write_bytes(data[: end - 50])
    with pytest.raises(BadPlaneError, match=str(path.name)):
        read_tiff_plane(path)
    assert libtiff_calls == []


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_a_strip_shorter_than_its_rows_is_a_bad_plane_not_a_padded_one(
    tmp_path: Path, compression: str | None
) -> None:
    # The file is whole, but its last strip says it holds fewer bytes than its rows need:
    # tifffile 2026.11.12 and later fill the rest with zeros and only log it.
    path = tmp_path / "short.tif"
    tifffile.imwrite(path, _plane(), compression=compression, rowsperstrip=37)
    with tifffile.TiffFile(path, mode="r+b") as tiff:
        tag = tiff.pages.first.tags["StripByteCounts"]
        counts = list(tag.value)
        counts[-1] //= 3
        tag.overwrite(tuple(counts))
    with pytest.raises(BadPlaneError, match=path.name) as raised:
        read_tiff_plane(path)
    assert "--skip-bad-planes" in str(raised.value)


def test_a_tiff_cut_before_its_strips_says_it_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, _plane())  # uncompressed: no codec stands between the cut and the read
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(BadPlaneError, match=rf"{path.name}.* is truncated \(its image data runs"):
        read_tiff_plane(path)


def test_when_libtiff_fails_tifffile_decodes_the_plane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(data: bytes, *args: object, **kwargs: object) -> np.ndarray:
        raise imagecodecs.TiffError("refused")

    monkeypatch.setattr(imagecodecs, "tiff_decode", failing)
    path = tmp_path / "plane.tif"
    pixels = _plane()
    tifffile.imwrite(path, pixels, compression="lzw")
    np.testing.assert_array_equal(read_tiff_plane(path), pixels)
