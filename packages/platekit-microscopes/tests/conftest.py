from __future__ import annotations

from pathlib import Path

import pytest

from platekit.storage.testing_s3 import s3, s3_endpoint  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache root; the real home is never touched."""
    root = tmp_path / "cache"
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(root))
    monkeypatch.delenv("PLATEKIT_DISABLE_REGISTRY_CACHE", raising=False)
    monkeypatch.delenv("PLATEKIT_SUBPROCESS_NO_GPU", raising=False)
    return root


# -- real vendor exports ------------------------------------------------------------------
#
# Fetched once and kept between runs by platekit.microscopes.testing._downloads
# (shared with the benchmarks); a test that needs one is skipped, saying why,
# when it cannot be had.


def unpacked_sdist(name: str) -> Path:
    """The unpacked sdist of ``name``; skips the test if it cannot be downloaded."""
    from platekit.microscopes.testing._downloads import DownloadUnavailable
    from platekit.microscopes.testing._downloads import unpacked_sdist as fetch

    try:
        return fetch(name)
    except DownloadUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pe2loaddata_exports() -> Path:
    """``tests/data`` of the pe2loaddata sdist: ``Version1``, ``Version5`` and ``Version7``,
    each with an ``images/`` folder."""
    return unpacked_sdist("pe2loaddata") / "tests" / "data"


@pytest.fixture(scope="session")
def cellvoyager_exports() -> Path:
    """``tests/resources`` of the cellvoyager-types sdist: CV7000 and CV8000 export folders."""
    return unpacked_sdist("cellvoyager-types") / "tests" / "resources"
