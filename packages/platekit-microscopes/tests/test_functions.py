"""Function libraries: listings cached without importing the library, and the built-in functions."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from platekit.microscopes.functions import (
    FUNCTION_LIBRARIES,
    FunctionInfo,
    arrays,
)
from platekit.microscopes.functions._describe import doc_line, signature_text

REAL_SKIMAGE = importlib.util.find_spec("skimage") is not None


def run_python(code: str, cache_root: Path, path: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root))
    if path is not None:
        env["PYTHONPATH"] = str(path)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    result["stderr"] = done.stderr
    return result


# -- the records -----------------------------------------------------------------------------


def test_builtin_library_describes_its_functions() -> None:
    library = FUNCTION_LIBRARIES["platekit"]()

    assert library.names() == [
        "downsample_mean",
        "max_projection",
        "mean_projection",
        "normalize_percentile",
    ]
    assert library.info("downsample_mean").as_record() == {
        "name": "downsample_mean",
        "module": "platekit.microscopes.functions.arrays",
        "qualname": "downsample_mean",
        "signature": "(image: ArrayLike, factor: int = 2) -> np.ndarray[Any, Any]",
        "doc": (
            "Each ``factor`` x ``factor`` block of the last two axes replaced by its mean, "
            "same dtype."
        ),
        "tags": ["pyramid", "resampling"],
    }
    assert library.info("max_projection").signature == (
        "(stack: ArrayLike, axis: int = 0) -> np.ndarray[Any, Any]"
    )
    assert library.info("normalize_percentile").tags == ("normalization", "intensity")


def test_get_returns_the_function_itself() -> None:
    library = FUNCTION_LIBRARIES["platekit"]()

    assert library.get("max_projection") is arrays.max_projection
    with pytest.raises(KeyError, match=r"no function 'max_projecton'\. Did you mean 'max_proj"):
        library.get("max_projecton")


def test_signature_text_and_doc_line() -> None:
    def documented(image: np.ndarray, *, sigma: float = 1.5, **extra: Any) -> np.ndarray:
        """

        Blur ``image``.

        More words.
        """
        return image

    def bare(a, b=2):  # type: ignore[no-untyped-def]  # no annotations, on purpose
        return a

    assert signature_text(documented) == (
        "(image: np.ndarray, *, sigma: float = 1.5, **extra: Any) -> np.ndarray"
    )
    assert doc_line(documented) == "Blur ``image``."
    assert (signature_text(bare), doc_line(bare)) == ("(a, b=2)", "")
    assert signature_text(len) == "(obj, /)"
    assert signature_text(min) == "(...)"  # no signature Python can tell


def test_records_survive_json() -> None:
    info = FunctionInfo(
        "filters.gaussian", "skimage.filters", "gaussian", "(image)", "Blur.", ["x"]
    )

    assert FunctionInfo.from_record(json.loads(json.dumps(info.as_record()))) == info
    with pytest.raises(TypeError, match="not a function record"):
        FunctionInfo.from_record({**info.as_record(), "tags": "filters"})


# -- the cache -------------------------------------------------------------------------------


def test_second_listing_comes_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    first = FUNCTION_LIBRARIES["platekit"]()
    first.functions()
    second = FUNCTION_LIBRARIES["platekit"]()

    assert second.functions() == first.functions()
    assert first.cache_state == "miss: no record yet" and second.cache_state == "hit"

    monkeypatch.setenv("PLATEKIT_DISABLE_REGISTRY_CACHE", "1")
    third = FUNCTION_LIBRARIES["platekit"]()
    assert third.names() == first.names()
    assert third.cache_state.startswith("miss: caching is disabled")


def test_a_malformed_listing_is_discovered_again() -> None:
    from platekit.microscopes.functions import _listing

    library = FUNCTION_LIBRARIES["platekit"]()
    _listing._manager(library).save({"format": _listing.LISTING_FORMAT, "functions": [{"x": 1}]})

    assert "downsample_mean" in library.names()
    assert library.cache_state == "miss: the cached listing is malformed"
    again = FUNCTION_LIBRARIES["platekit"]()
    assert again.names() == library.names() and again.cache_state == "hit"


def test_refresh_lists_again_and_stores() -> None:
    library = FUNCTION_LIBRARIES["platekit"]()

    assert [f.name for f in library.refresh()] == library.names()
    assert library.cache_state.startswith("miss: refresh()")
    again = FUNCTION_LIBRARIES["platekit"]()
    assert again.names() == library.names() and again.cache_state == "hit"


BUILTIN_PROBE = """
import json, sys
from platekit.microscopes.functions import function_library
library = function_library("platekit")
names = library.names()
print(json.dumps({
    "names": names,
    "state": library.cache_state,
    "arrays": "platekit.microscopes.functions.arrays" in sys.modules,
    "numpy": "numpy" in sys.modules,
}))
"""


def test_a_warm_process_lists_builtin_functions_without_importing_them(cache_root: Path) -> None:
    cold = run_python(BUILTIN_PROBE, cache_root)
    warm = run_python(BUILTIN_PROBE, cache_root)

    assert cold["names"] == warm["names"] and "downsample_mean" in warm["names"]
    assert cold["state"].startswith("miss") and cold["arrays"]
    assert warm["state"] == "hit"
    assert warm["arrays"] is False and warm["numpy"] is False


REGISTRY_PROBE = """
import json, sys
from platekit.microscopes.functions import FUNCTION_LIBRARIES
keys = sorted(FUNCTION_LIBRARIES)
print(json.dumps({
    "keys": keys,
    "state": FUNCTION_LIBRARIES.cache_state,
    "metadata": FUNCTION_LIBRARIES.metadata("platekit"),
    "imported": sorted(
        name for name in sys.modules if name.startswith("platekit.microscopes.functions.")
    ),
}))
"""


def test_libraries_are_listed_from_the_warm_index(cache_root: Path) -> None:
    cold = run_python(REGISTRY_PROBE, cache_root)
    warm = run_python(REGISTRY_PROBE, cache_root)

    expected = ["platekit", "skimage"] if REAL_SKIMAGE else ["platekit"]
    assert cold["keys"] == warm["keys"] == expected
    assert "platekit.microscopes.functions.builtin" in cold["imported"]
    assert warm["state"] == "hit" and warm["imported"] == []
    assert warm["metadata"] == {
        "display_name": "platekit built-in functions",
        "distribution": "platekit-microscopes",
    }


# -- scikit-image ----------------------------------------------------------------------------

ABSENT_PROBE = """
import json, sys
sys.modules["skimage"] = None  # what an environment without scikit-image sees
from platekit.microscopes.functions import FUNCTION_LIBRARIES, function_library
try:
    function_library("skimage")
    message = None
except KeyError as exc:
    message = exc.args[0]
print(json.dumps({"keys": sorted(FUNCTION_LIBRARIES), "message": message}))
"""


def test_without_scikit_image_there_is_no_skimage_library(cache_root: Path) -> None:
    found = run_python(ABSENT_PROBE, cache_root)

    assert found["keys"] == ["platekit"]
    assert "no function library 'skimage'" in found["message"]
    assert "pip install scikit-image" in found["message"]


FAKE_SKIMAGE = {
    "__init__.py": '"""A stand-in for scikit-image, just enough to be listed."""\n',
    "filters.py": '''
        def gaussian(image, sigma=1.0):
            """Blur with a Gaussian.

            Longer text that is not the first line.
            """
            return image

        def threshold_otsu(image, nbins=256):
            """Otsu's threshold."""
            return 0

        def _private(image):
            return image

        class Filter:
            """A class: not a function of the library."""
        ''',
    "morphology.py": '''
        __all__ = ["disk", "not_there"]

        def disk(radius, dtype=None):
            """A disk footprint."""
        ''',
    "exposure.py": """
        def rescale_intensity(image, in_range="image", out_range="dtype"):
            return image
        """,
    "measure.py": '''
        from math import floor  # a helper, no function of the library

        def label(label_image, background=None, *, connectivity=None):
            """Label connected regions."""
        ''',
    "segmentation.py": "raise ImportError('this part of the stand-in is broken on purpose')\n",
    "transform.py": '''
        def resize(image, output_shape, order=None):
            """Resize an image."""

        class AffineTransform:
            pass
        ''',
}

SKIMAGE_PROBE = """
import json, sys
from platekit.microscopes.functions import FUNCTION_LIBRARIES, function_library
library = function_library("skimage")
names = library.names()
out = {
    "keys": sorted(FUNCTION_LIBRARIES),
    "names": names,
    "gaussian": library.info("filters.gaussian").as_record(),
    "version": library.version(),
    "state": library.cache_state,
    "imported_by_listing": "skimage" in sys.modules,
}
gaussian = library.get("filters.gaussian")
out["got"] = f"{gaussian.__module__}:{gaussian.__qualname__}"
out["imported_by_get"] = "skimage.filters" in sys.modules
print(json.dumps(out))
"""


def fake_skimage(site: Path, version: str) -> None:
    package = site / "skimage"
    package.mkdir(parents=True, exist_ok=True)
    for name, text in FAKE_SKIMAGE.items():
        (package / name).write_text(textwrap.dedent(text))
    for old in site.glob("scikit_image-*.dist-info"):
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    dist = site / f"scikit_image-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: scikit-image\nVersion: {version}\n"
    )


def test_skimage_listing_is_cached_and_imports_nothing(tmp_path: Path, cache_root: Path) -> None:
    site = tmp_path / "site"
    fake_skimage(site, "0.99.0")

    cold = run_python(SKIMAGE_PROBE, cache_root, site)
    warm = run_python(SKIMAGE_PROBE, cache_root, site)

    assert "skimage" in cold["keys"]
    assert (
        cold["names"]
        == warm["names"]
        == [
            "filters.gaussian",
            "filters.threshold_otsu",
            "morphology.disk",
            "exposure.rescale_intensity",
            "measure.label",
            "transform.resize",
        ]
    )
    assert warm["gaussian"] == {
        "name": "filters.gaussian",
        "module": "skimage.filters",
        "qualname": "gaussian",
        "signature": "(image, sigma=1.0)",
        "doc": "Blur with a Gaussian.",
        "tags": ["filters"],
    }
    assert cold["version"] == "0.99.0"
    assert "leaves out skimage.segmentation" in cold["stderr"]
    assert cold["state"] == "miss: no record yet" and cold["imported_by_listing"]
    assert warm["state"] == "hit" and warm["imported_by_listing"] is False
    assert warm["got"] == "skimage.filters:gaussian" and warm["imported_by_get"]


def test_a_new_skimage_version_is_listed_again(tmp_path: Path, cache_root: Path) -> None:
    site = tmp_path / "site"
    fake_skimage(site, "0.99.0")
    assert "filters.sobel" not in run_python(SKIMAGE_PROBE, cache_root, site)["names"]
    fake_skimage(site, "1.0.0")  # an upgrade: a new dist-info folder, a new function
    filters = site / "skimage" / "filters.py"
    filters.write_text(filters.read_text() + '\ndef sobel(image):\n    """Edges."""\n')

    upgraded = run_python(SKIMAGE_PROBE, cache_root, site)

    assert upgraded["state"].startswith("miss: written for version")
    assert upgraded["version"] == "1.0.0"
    assert "filters.sobel" in upgraded["names"]


@pytest.mark.slow
@pytest.mark.skipif(not REAL_SKIMAGE, reason="scikit-image is not installed")
def test_the_real_scikit_image_is_listed_and_cached(cache_root: Path) -> None:
    cold = run_python(SKIMAGE_PROBE, cache_root)
    warm = run_python(SKIMAGE_PROBE, cache_root)

    assert cold["names"] == warm["names"]
    assert {"filters.gaussian", "measure.label", "transform.resize"} <= set(warm["names"])
    assert warm["gaussian"]["signature"].startswith("(image, sigma=")
    assert warm["gaussian"]["doc"]
    assert warm["state"] == "hit" and warm["imported_by_listing"] is False
    assert warm["got"].endswith(":gaussian") and warm["imported_by_get"]


# -- the built-in functions ------------------------------------------------------------------

INTEGER_TYPES = [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64]


def exact_downsample(image: np.ndarray[Any, Any], factor: int) -> list[Any]:
    """The true block means, rounded half to even, by Python integers (slow, obviously right)."""
    height, width = image.shape[-2:]
    out = []
    for plane in image.reshape(-1, height, width):
        rows = []
        for top in range(0, height, factor):
            row = []
            for left in range(0, width, factor):
                block = plane[top : top + factor, left : left + factor].ravel().tolist()
                row.append(round(Fraction(sum(int(v) for v in block), len(block))))
            rows.append(row)
        out.append(rows)
    return out


def planes(result: np.ndarray[Any, Any]) -> list[Any]:
    """The result as Python integers, plane by plane, to compare with exact_downsample."""
    flat = result.reshape(-1, *result.shape[-2:])
    return [[[int(v) for v in row] for row in plane] for plane in flat]


@pytest.mark.parametrize("dtype", INTEGER_TYPES)
@pytest.mark.parametrize(("shape", "factor"), [((5, 7), 2), ((1, 1), 2), ((3, 7, 5), 3)])
def test_downsample_mean_is_exact_on_odd_shapes(
    dtype: type[np.integer[Any]], shape: tuple[int, ...], factor: int
) -> None:
    info = np.iinfo(dtype)
    image = np.random.default_rng(7).integers(
        info.min, info.max, size=shape, dtype=dtype, endpoint=True
    )

    result = arrays.downsample_mean(image, factor)

    height, width = shape[-2:]
    assert result.dtype == dtype
    assert result.shape == (*shape[:-2], -(-height // factor), -(-width // factor))
    assert planes(result) == exact_downsample(image, factor)


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int16, np.uint64, np.int64]),
        shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=6),
    ),
    st.integers(min_value=1, max_value=4),
)
def test_downsample_mean_matches_exact_means(image: np.ndarray[Any, Any], factor: int) -> None:
    assert planes(arrays.downsample_mean(image, factor)) == exact_downsample(image, factor)


def test_downsample_mean_rounds_halves_to_even() -> None:
    blocks = np.array([[1, 2, 1, 1, 2, 2], [2, 2, 2, 2, 3, 3]], dtype=np.uint16)

    assert arrays.downsample_mean(blocks).tolist() == [[2, 2, 2]]  # 1.75, 1.5, 2.5


def test_downsample_mean_of_extreme_64_bit_values() -> None:
    top = np.full((3, 3), np.iinfo(np.uint64).max, dtype=np.uint64)
    bottom = np.full((2, 2), np.iinfo(np.int64).min, dtype=np.int64)

    assert (arrays.downsample_mean(top) == np.iinfo(np.uint64).max).all()
    assert (arrays.downsample_mean(bottom) == np.iinfo(np.int64).min).all()


def test_downsample_mean_of_floats_and_edges() -> None:
    image = np.arange(25, dtype=np.float32).reshape(5, 5)

    result = arrays.downsample_mean(image)

    assert result.dtype == np.float32
    assert result.tolist() == [[3.0, 5.0, 6.5], [13.0, 15.0, 16.5], [20.5, 22.5, 24.0]]
    assert arrays.downsample_mean(image, 100).tolist() == [[12.0]]  # one block: the mean
    assert arrays.downsample_mean(image, 1).tolist() == image.tolist()


def test_downsample_mean_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="needs an image with y and x axes"):
        arrays.downsample_mean(np.zeros(4))
    for factor in (0, True, 1.5):
        with pytest.raises(ValueError, match="whole number >= 1"):
            arrays.downsample_mean(np.zeros((4, 4)), factor)  # type: ignore[arg-type]


def test_projections() -> None:
    stack = np.array([[[1, 9]], [[2, 2]], [[3, 2]], [[2, 4]]], dtype=np.uint8)  # (z, y, x)

    assert arrays.max_projection(stack).tolist() == [[3, 9]]
    assert arrays.max_projection(stack).dtype == np.uint8
    means = arrays.mean_projection(stack)
    assert means.dtype == np.uint8 and means.tolist() == [[2, 4]]  # 2.0, 4.25
    assert arrays.mean_projection(stack, dtype=np.float64).tolist() == [[2.0, 4.25]]
    assert arrays.mean_projection(stack.astype(np.float32) + 0.5, dtype=np.uint8).tolist() == [
        [2, 5]  # 2.5 and 4.75 rounded to the nearest (halves to even), not truncated
    ]
    with pytest.raises(ValueError, match="empty stack"):
        arrays.mean_projection(np.zeros((0, 2, 2)))


def test_normalize_percentile() -> None:
    image = np.arange(101, dtype=np.uint16).reshape(1, 101)

    stretched = arrays.normalize_percentile(image, 10, 90, dtype=np.uint8)

    assert stretched.dtype == np.uint8
    assert stretched[0, :11].tolist() == [0] * 11 and stretched[0, 90:].tolist() == [255] * 11
    assert stretched[0, 50] == 128  # 0.5 * 255 = 127.5, to the even neighbour
    floats = arrays.normalize_percentile(image, 0, 100)
    assert floats.dtype == np.float32 and floats.min() == 0.0 and floats.max() == 1.0


def test_normalize_percentile_per_channel_and_flat_channels() -> None:
    image = np.stack([np.arange(16.0).reshape(4, 4), np.full((4, 4), 7.0)])  # (c, y, x)

    result = arrays.normalize_percentile(image, 0, 100, channel_axis=0)

    assert result[0].min() == 0.0 and result[0].max() == 1.0
    assert (result[1] == 0).all()  # a flat channel has nothing to stretch
    with pytest.raises(ValueError, match="0 <= low < high <= 100"):
        arrays.normalize_percentile(image, 60, 40)
    with pytest.raises(ValueError, match="integer or float images"):
        arrays.normalize_percentile(image, dtype=np.complex64)
