"""A real S3-protocol server for tests: moto's ``moto_server``, started as a process.

No boto or s3fs call is mocked: clients talk HTTP to a server on 127.0.0.1
at a free port. Needs ``moto[server]`` (platekit-storage's ``test`` extra). A test module or
conftest imports the fixtures ``s3_endpoint`` and ``s3`` to use the server, and
:func:`counted_requests` counts the requests s3fs sends it. Only the two fixtures need
pytest, and it is imported when they are first asked for.
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
from collections import Counter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from platekit.storage._s3_fixtures import s3, s3_endpoint

__all__ = ["FAKE_CREDENTIALS", "counted_requests", "moto_server", "s3", "s3_endpoint"]

#: Credentials the server accepts; set them in a test's environment only.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}


#: The HTTP method of each S3 operation s3fs sends; listings are LIST (a GET of the bucket).
HTTP_METHODS = {
    "get_object": "GET",
    "head_object": "HEAD",
    "head_bucket": "HEAD",
    "put_object": "PUT",
    "create_multipart_upload": "PUT",
    "upload_part": "PUT",
    "complete_multipart_upload": "PUT",
    "copy_object": "PUT",
    "list_objects_v2": "LIST",
    "list_objects": "LIST",
    "delete_object": "DELETE",
    "delete_objects": "DELETE",
}
#: Object names that are metadata: Zarr documents and a conversion's lock.
METADATA_NAMES = ("zarr.json", ".zarray", ".zgroup", ".zattrs", ".platekit-lock")


@contextlib.contextmanager
def counted_requests() -> Iterator[Counter[str]]:
    """Count the requests every s3fs filesystem of this process sends, while in the block.

    Yields a ``Counter`` keyed ``"METHOD metadata"`` or ``"METHOD data"``
    (``"PUT data"`` is a chunk written, ``"GET metadata"`` a Zarr document
    read; a listing, which names no object, counts as data). Requests from
    other processes (a worker pool's) are not seen: convert with one worker.
    """
    import s3fs

    sent: Counter[str] = Counter()
    call = s3fs.S3FileSystem._call_s3

    async def counting(self: object, method: str, *args: object, **kwargs: object) -> object:
        name = str(kwargs.get("Key", "")).rsplit("/", 1)[-1]
        kind = "metadata" if name in METADATA_NAMES else "data"
        sent[f"{HTTP_METHODS.get(method, method)} {kind}"] += 1
        return await call(self, method, *args, **kwargs)

    s3fs.S3FileSystem._call_s3 = counting
    try:
        yield sent
    finally:
        s3fs.S3FileSystem._call_s3 = call


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


def __getattr__(name: str) -> object:
    # The fixtures live apart, so the server and the counter need no pytest.
    if name in ("s3", "s3_endpoint"):
        from platekit.storage import _s3_fixtures

        return getattr(_s3_fixtures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
