"""pytest fixtures for the S3 test server of :mod:`platekit.storage.testing_s3`."""

from __future__ import annotations

import pytest

from platekit.storage.testing_s3 import FAKE_CREDENTIALS, moto_server

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["s3", "s3_endpoint"]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-protocol server (moto_server) for the session, on 127.0.0.1; skips without it."""
    pytest.importorskip("moto")
    pytest.importorskip("s3fs")
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Storage options for the S3 server, with fake credentials in this test's environment."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return {"endpoint_url": s3_endpoint}
