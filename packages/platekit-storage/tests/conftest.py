from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache root; the real home is never touched."""
    root = tmp_path / "cache"
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(root))
    monkeypatch.delenv("PLATEKIT_DISABLE_REGISTRY_CACHE", raising=False)
    monkeypatch.delenv("PLATEKIT_SUBPROCESS_NO_GPU", raising=False)
    return root


@pytest.fixture(scope="session")
def s3_endpoint() -> object:
    """A real S3-protocol server (moto_server) for the session, on 127.0.0.1."""
    pytest.importorskip("moto")
    pytest.importorskip("s3fs")
    from platekit.storage.testing_s3 import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Storage options for the S3 server, with fake credentials in this test's environment."""
    from platekit.storage.testing_s3 import FAKE_CREDENTIALS

    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return {"endpoint_url": s3_endpoint}
