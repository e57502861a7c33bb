"""TIFF codecs: a missing codec is named with its install line, never taken for a damaged plane."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from platekit.microscopes import BadPlaneError, convert, open_plate
from platekit.microscopes._codecs import MissingCodecError, check_compressions
from platekit.microscopes._tiff import read_tiff_plane
from platekit.microscopes.testing import write_plate
from platekit.registry._cli import main

SMALL = {"wells": ["A01", "A02"], "sites": 1, "channels": 2, "shape": (16, 16)}

# imagecodecs is made absent in a child interpreter: a meta-path finder placed before
# any import refuses `import imagecodecs`, so tifffile falls back to its own few codecs
# exactly as in an environment where the package was never installed.
_WITHOUT_IMAGECODECS = """
import sys

class _NoImagecodecs:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "imagecodecs":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoImagecodecs())
"""


def without_imagecodecs(code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``argv`` in a Python where ``import imagecodecs`` fails."""
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_IMAGECODECS + code, *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def platekit_without_imagecodecs(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from platekit.registry._cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return without_imagecodecs(code, *args)


def harmony5(tmp_path: Path) -> Path:
    return write_plate("opera_phenix", tmp_path / "harmony", **SMALL)  # type: ignore[arg-type]


def test_the_simulation_really_takes_imagecodecs_away(tmp_path: Path) -> None:
    tiff = tmp_path / "lzw.tif"
    tifffile.imwrite(tiff, np.arange(64, dtype=np.uint16).reshape(8, 8), compression="lzw")
    done = without_imagecodecs(
        "import tifffile\ntry:\n    tifffile.imread(sys.argv[1])\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n",
        str(tiff),
    )
    assert "requires the 'imagecodecs' package" in done.stdout, done.stderr


def test_a_missing_codec_names_it_and_the_install_line_never_truncation(tmp_path: Path) -> None:
    tiff = tmp_path / "lzw.tif"
    tifffile.imwrite(tiff, np.arange(64, dtype=np.uint16).reshape(8, 8), compression="lzw")
    code = (
        "from pathlib import Path\n"
        "from platekit.microscopes import BadPlaneError, PlateError\n"
        "from platekit.microscopes._tiff import read_tiff_plane\n"
        "try:\n    read_tiff_plane(Path(sys.argv[1]))\n"
        "except PlateError as exc:\n"
        "    print(type(exc).__name__, isinstance(exc, BadPlaneError))\n    print(exc)\n"
    )
    done = without_imagecodecs(code, str(tiff))
    kind, message = done.stdout.splitlines()
    assert kind == "MissingCodecError False", done.stderr
    assert str(tiff) in message and "LZW" in message and "pip install imagecodecs" in message
    assert "truncated" not in message


def test_with_imagecodecs_the_same_file_reads(tmp_path: Path) -> None:
    tiff = tmp_path / "lzw.tif"
    pixels = np.arange(64, dtype=np.uint16).reshape(8, 8)
    tifffile.imwrite(tiff, pixels, compression="lzw")
    assert (read_tiff_plane(tiff) == pixels).all()


def test_skip_bad_planes_does_not_turn_a_missing_codec_into_zeros(tmp_path: Path) -> None:
    source = harmony5(tmp_path)
    out = tmp_path / "out.zarr"
    done = platekit_without_imagecodecs("convert", str(source), str(out), "--skip-bad-planes", "-q")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "LZW" in done.stderr and "pip install imagecodecs" in done.stderr
    assert "absent" not in done.stdout


def test_a_missing_codec_error_survives_a_worker_process() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(MissingCodecError("/plate/a.tif", "LZW")))
    assert isinstance(error, MissingCodecError)
    assert (error.path, error.codec) == ("/plate/a.tif", "LZW") and "LZW" in str(error)


def test_inspect_says_each_compression_is_decodable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = harmony5(tmp_path)
    assert main(["inspect", str(source)]) == 0
    assert "compression    LZW (decodable)" in capsys.readouterr().out
    assert main(["inspect", "--json", str(source)]) == 0
    [check] = json.loads(capsys.readouterr().out)["compressions"]
    assert check["compression"] == "LZW" and check["error"] is None


def test_inspect_fails_naming_a_codec_that_cannot_be_decoded(tmp_path: Path) -> None:
    source = harmony5(tmp_path)
    done = platekit_without_imagecodecs("inspect", str(source))
    assert done.returncode == 1
    assert "compression    LZW (cannot be decoded here)" in done.stdout
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "LZW" in done.stderr and "pip install imagecodecs" in done.stderr


def test_each_channel_is_sampled_so_mixed_compressions_are_all_checked(tmp_path: Path) -> None:
    # Real Harmony 7 exports mix uncompressed and LZW channels in one well.
    source = write_plate("opera_phenix", tmp_path / "h7", version=7, **SMALL)  # type: ignore[arg-type]
    plate = open_plate(source)
    _, address = next(item for item in plate.planes() if item[0].channel == 2)
    pixels = tifffile.imread(source / address)
    tifffile.imwrite(source / address, pixels, compression="lzw")
    checks = check_compressions(plate)
    assert [(c.compression, c.decodable) for c in checks] == [("none", True), ("LZW", True)]


def test_a_plate_without_tiffs_has_no_compressions_to_check(tmp_path: Path) -> None:
    source = write_plate("omezarr", tmp_path / "plate.zarr", **SMALL)  # type: ignore[arg-type]
    assert check_compressions(open_plate(source)) == []


def test_a_truncated_tiff_says_how_to_skip_it(tmp_path: Path) -> None:
    source = write_plate("imagexpress", tmp_path / "ix", **SMALL)  # type: ignore[arg-type]
    _, address = next(open_plate(source).planes())
    victim = source / address
    victim.write_bytes(victim.read_bytes()[:200])
    with pytest.raises(BadPlaneError) as raised:
        convert(source, tmp_path / "out.zarr")
    message = str(raised.value)
    assert victim.name in message
    assert "skip_bad_planes=True / --skip-bad-planes" in message


@pytest.mark.parametrize(
    ("kind", "options", "codec"),
    [
        ("opera_phenix", {}, "LZW"),  # Harmony 5
        ("opera_phenix", {"version": 7}, "NONE"),
        ("imagexpress", {}, "LZW"),
        ("cellvoyager", {}, "ADOBE_DEFLATE"),
    ],
)
def test_each_writer_compresses_as_its_vendor_does(
    tmp_path: Path, kind: str, options: dict[str, object], codec: str
) -> None:
    source = write_plate(kind, tmp_path / "plate", **SMALL, **options)  # type: ignore[arg-type]
    plate = open_plate(source)
    for _, address in plate.planes():
        with tifffile.TiffFile(source / address) as tiff:
            assert tiff.pages.first.compression.name == codec
