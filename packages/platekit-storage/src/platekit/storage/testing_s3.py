"""A real S3-protocol server for tests: moto's ``moto_server``, started as a process.

No boto or s3fs call is mocked: clients talk HTTP to a server on 127.0.0.1
at a free port. Needs ``moto[server]`` (platekit-storage's ``test`` extra). A test module or
conftest imports the fixtures ``s3_endpoint`` and ``s3`` to use the server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["FAKE_CREDENTIALS", "moto_server", "s3", "s3_endpoint"]

#: Credentials the server accepts; set them in a test's environment only.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command(port: int) -> list[str]:
    script = shutil.which("moto_server", path=os.path.dirname(sys.executable))
    if script is None:
        raise ImportError("the S3 test server needs moto; pip install 'moto[server]'")
    return [script, "-H", "127.0.0.1", "-p", str(port)]


@contextlib.contextmanager
def moto_server(timeout: float = 30.0) -> Iterator[str]:
    """Run ``moto_server`` on 127.0.0.1 at a free port; yield its endpoint URL.

    Waits at most ``timeout`` seconds for it to answer, else raises
    ``TimeoutError``; stops it (and waits for it) on leaving.
    """
    port = _free_port()
    process = subprocess.Popen(_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(endpoint + "/moto-api/", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise TimeoutError(
                        f"moto_server on {endpoint} did not answer within {timeout} s"
                    ) from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


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
