"""The fsspec backend: read-only listing, reading and stat, locally and against a real S3 server."""

from __future__ import annotations

import pickle
import uuid
from pathlib import Path

import pytest

pytest.importorskip("fsspec")

from platekit.storage import StorageError
from platekit.storage.backends.fsspec import FsspecBackend, is_url, names_nothing, remote_errors
from platekit.storage.testing import ReadOnlyContract

FILES = {"a/A2.tif": b"two", "a/A10.tif": b"ten", "a/sub/deep.txt": b"deep", "top.json": b"{}"}


def fill_local(root: Path) -> str:
    for name, data in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root.as_uri()


def fill_s3(options: dict[str, str]) -> str:
    import fsspec

    fs = fsspec.filesystem("s3", **options)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    for name, data in FILES.items():
        fs.pipe(f"{bucket}/data/{name}", data)
    return f"s3://{bucket}/data"


def check_reads(backend: FsspecBackend, root: str) -> None:
    assert backend.list_dir(f"{root}/a") == ["A2.tif", "A10.tif", "sub"]
    assert backend.list_files(f"{root}/a") == [f"{root}/a/A2.tif", f"{root}/a/A10.tif"]
    assert backend.list_files(root, extensions="txt", recursive=True) == [f"{root}/a/sub/deep.txt"]
    assert backend.entries(f"{root}/a") in [
        (["A2.tif", "A10.tif"], ["sub"]),
        (["A10.tif", "A2.tif"], ["sub"]),
    ]
    assert backend.load(f"{root}/a/A10.tif") == b"ten"
    with backend.open(f"{root}/a/A2.tif") as file:
        file.seek(1)
        assert file.read() == b"wo"
    assert backend.is_file(f"{root}/top.json") and not backend.is_dir(f"{root}/top.json")
    assert backend.is_dir(f"{root}/a") and not backend.is_file(f"{root}/a")
    assert backend.exists(f"{root}/a/sub") and not backend.exists(f"{root}/nothing")
    found = backend.stat(f"{root}/a/A10.tif")
    assert (found.kind, found.size) == ("file", 3)
    assert backend.stat(f"{root}/a").kind == "folder"
    with pytest.raises(FileNotFoundError, match="fsspec"):
        backend.load(f"{root}/a/missing.tif")
    with pytest.raises(FileNotFoundError):
        backend.list_dir(f"{root}/nothing")
    with pytest.raises(NotADirectoryError):
        backend.list_files(f"{root}/top.json")
    with pytest.raises(StorageError):
        backend.stat(f"{root}/nothing")
    # Dask and process pools send backends to other processes.
    copy = pickle.loads(pickle.dumps(backend))
    assert copy.load(f"{root}/top.json") == b"{}"


def test_local_files_through_file_urls(tmp_path: Path) -> None:
    root = fill_local(tmp_path)
    check_reads(FsspecBackend("file"), root)


def test_a_default_backend_reads_plain_local_paths(tmp_path: Path) -> None:
    fill_local(tmp_path)
    check_reads(FsspecBackend(), str(tmp_path))


@pytest.mark.slow
def test_s3(s3: dict[str, str]) -> None:
    backend = FsspecBackend("s3", s3)
    check_reads(backend, fill_s3(s3))
    assert "testing" not in repr(FsspecBackend("s3", {**s3, "secret": "testing-secret"}))


@pytest.mark.slow
def test_a_bucket_that_does_not_exist(s3: dict[str, str]) -> None:
    backend = FsspecBackend("s3", s3)
    with pytest.raises(FileNotFoundError):
        backend.list_dir("s3://no-such-bucket-here/plate")
    assert not backend.exists("s3://no-such-bucket-here/plate")


def test_a_missing_protocol_says_what_to_install() -> None:
    with pytest.raises(ValueError, match="no fsspec filesystem for the protocol 'nope'"):
        FsspecBackend("nope").list_dir("nope://x")


class TestLocalReadOnly(ReadOnlyContract):
    @pytest.fixture
    def backend(self) -> FsspecBackend:
        return FsspecBackend("file")

    @pytest.fixture
    def existing(self, tmp_path: Path) -> str:
        fill_local(tmp_path)
        return f"{tmp_path.as_uri()}/top.json"


@pytest.mark.slow
class TestS3ReadOnly(ReadOnlyContract):
    @pytest.fixture
    def backend(self, s3: dict[str, str]) -> FsspecBackend:
        return FsspecBackend("s3", s3)

    @pytest.fixture
    def existing(self, s3: dict[str, str]) -> str:
        return fill_s3(s3) + "/top.json"


@pytest.mark.parametrize(
    ("text", "url", "nothing"),
    [
        ("s3://bucket/plate", True, False),
        ("S3://bucket", True, False),
        ("s3://", True, True),
        ("memory:///", True, True),
        ("file:///tmp/plate", False, False),
        ("plates/p1", False, False),
        # A local folder whose name holds "://" after a slash is still a local folder.
        ("/data/odd://plate", False, False),
    ],
)
def test_what_is_a_url_and_what_names_nothing(text: str, url: bool, nothing: bool) -> None:
    assert is_url(text) is url
    assert names_nothing(text) is nothing


class ClientConnectorError(OSError):
    """Named as aiohttp's error for a server it cannot connect to."""


class ClientConnectorDNSError(ClientConnectorError):
    """Named as aiohttp's error for a host name that does not resolve, one of the above."""


def test_a_server_not_reached_is_one_sentence_whatever_subclass_says_so() -> None:
    url = "http://nohost.example/plate"
    with pytest.raises(OSError, match="cannot reach") as caught, remote_errors("http", url):
        raise ClientConnectorDNSError("Cannot connect to host nohost.example:80")
    assert isinstance(caught.value, StorageError)
    assert str(caught.value).startswith(f"cannot reach the http server for {url!r}")
    assert "check the endpoint_url storage option and the network" in str(caught.value)


def test_a_storage_option_s3fs_does_not_take_is_one_sentence_naming_it() -> None:
    pytest.importorskip("s3fs")
    # Refused before any request: nothing listens at the endpoint.
    backend = FsspecBackend("s3", {"endpoint_url": "http://127.0.0.1:9", "endpont_url": "x"})
    with pytest.raises(ValueError, match="storage option 'endpont_url'") as caught:
        backend.entries("s3://bucket/plate")
    assert str(caught.value) == (
        "the s3 filesystem takes no storage option 'endpont_url' (given for "
        "'s3://bucket/plate'); check its spelling, or leave it out"
    )


def test_an_endpoint_url_that_is_no_url_is_one_sentence_naming_it() -> None:
    pytest.importorskip("s3fs")
    backend = FsspecBackend("s3", {"endpoint_url": "localhost9000", "anon": True})
    with pytest.raises(ValueError, match="endpoint_url storage option 'localhost9000'") as caught:
        backend.entries("s3://bucket/plate")
    assert str(caught.value) == (
        "the endpoint_url storage option 'localhost9000' (for 's3://bucket/plate') is no URL; "
        "give the server's, such as http://HOST:PORT"
    )
