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
