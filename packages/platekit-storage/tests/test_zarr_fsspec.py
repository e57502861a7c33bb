"""Zarr stores in object storage, against a real S3 server: metadata last, no renames."""

from __future__ import annotations

import pickle
import sys
import uuid
from collections import Counter
from typing import Any

import numpy as np
import pytest

pytest.importorskip("s3fs")
if sys.version_info < (3, 11):
    pytest.skip("zarr-python 3 needs Python 3.11", allow_module_level=True)
pytest.importorskip("zarr")

from platekit.storage.backends.zarr_fsspec import FsspecZarrBackend

pytestmark = pytest.mark.slow


@pytest.fixture
def store(s3: dict[str, str]) -> str:
    import fsspec

    bucket = f"out-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("s3", **s3).mkdir(bucket)
    return f"s3://{bucket}/plate.zarr"


def counting(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The requests every s3fs filesystem sends, by S3 operation and object key."""
    import s3fs

    sent: Counter[str] = Counter()
    call = s3fs.S3FileSystem._call_s3

    async def count(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        sent[f"{method} {kwargs.get('Key', '')}"] += 1
        return await call(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", count)
    return sent


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_an_array_is_written_chunks_first_and_read_by_zarr(
    zarr_format: int, s3: dict[str, str], store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zarr

    backend = FsspecZarrBackend(zarr_format, storage_options=s3)  # type: ignore[arg-type]
    backend.set_attributes(store, {"hello": "world"})
    planes = np.arange(4 * 16 * 16, dtype="uint16").reshape(4, 16, 16)
    meta = ".zarray" if zarr_format == 2 else "zarr.json"
    sent = counting(monkeypatch)
    with backend.array_writer(f"{store}/A/1/0", shape=(4, 16, 16), dtype="uint16") as out:
        for index, plane in enumerate(planes):
            out[index] = plane
            # Until the block ends the array has no metadata: no reader sees it.
            assert not backend.exists(f"{store}/A/1/0")
    assert backend.is_file(f"{store}/A/1/0") and backend.is_dir(f"{store}/A/1")
    # One request per chunk and one metadata document, written once, after them.
    puts = {k.split("plate.zarr/")[-1]: v for k, v in sent.items() if k.startswith("put_object")}
    assert puts.get(f"A/1/0/{meta}") == 1, puts
    documents = (".zarray", ".zattrs", "zarr.json")
    chunks = [key for key in puts if key.startswith("A/1/0/") and not key.endswith(documents)]
    assert len(chunks) == 4 and all(puts[key] == 1 for key in chunks), puts
    group = zarr.open_group(store, mode="r", storage_options=s3)
    assert group.attrs["hello"] == "world"
    np.testing.assert_array_equal(group["A/1/0"][...], planes)
    np.testing.assert_array_equal(backend.load(f"{store}/A/1/0"), planes)
    # Workers get the backend by pickle, and reconnect where they land.
    copy = pickle.loads(pickle.dumps(backend))
    np.testing.assert_array_equal(copy.load(f"{store}/A/1/0"), planes)


def test_a_failed_block_publishes_nothing_and_removes_its_chunks(
    s3: dict[str, str], store: str
) -> None:
    backend = FsspecZarrBackend(storage_options=s3)

    def write_and_fail() -> None:
        with backend.array_writer(f"{store}/A/1/0", shape=(2, 8, 8), dtype="uint8") as out:
            out[0] = np.ones((8, 8), dtype="uint8")
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        write_and_fail()
    assert not backend.exists(f"{store}/A/1/0")
    assert not backend.fs(store).find(backend._key(f"{store}/A/1/0"))


def test_delete_and_errors(s3: dict[str, str], store: str) -> None:
    backend = FsspecZarrBackend(storage_options=s3)
    with backend.array_writer(f"{store}/A/1/0", shape=(8, 8), dtype="uint8") as out:
        out[...] = 3
    with pytest.raises(FileExistsError):
        backend.array_writer(f"{store}/A/1/0", shape=(8, 8), dtype="uint8").__enter__()
    with pytest.raises(IsADirectoryError):
        backend.delete(f"{store}/A")
    backend.delete(f"{store}/A", recursive=True)
    assert not backend.exists(f"{store}/A/1/0") and not backend.exists(f"{store}/A")
    with pytest.raises(FileNotFoundError):
        backend.attributes(f"{store}/A")
    with pytest.raises(ValueError, match="no URL"):
        backend.exists("/local/out.zarr")
    assert "hidden-value" not in repr(FsspecZarrBackend(storage_options={"secret": "hidden-value"}))


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_a_node_in_a_store_of_the_backends_format_is_looked_up_in_one_request(
    zarr_format: int, s3: dict[str, str], store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = FsspecZarrBackend(zarr_format, storage_options=s3)  # type: ignore[arg-type]
    backend.set_attributes(store, {"made": "here"})
    with backend.array_writer(f"{store}/A/1/0", shape=(2, 8, 8), dtype="uint8") as out:
        out[...] = 1
    fresh = FsspecZarrBackend(zarr_format, storage_options=s3)  # type: ignore[arg-type]
    assert fresh.exists(f"{store}/A/1")  # the store's root is looked up once, in both formats
    sent = counting(monkeypatch)
    assert fresh.is_file(f"{store}/A/1/0") and not fresh.exists(f"{store}/B/1")
    assert fresh.attributes(f"{store}/A/1") == {}
    # The array, the group that is not there, the group's attributes: one request each in
    # Zarr v3; in v2, a group is .zgroup beside .zattrs, and an array is looked for first.
    assert sum(sent.values()) == (3 if zarr_format == 3 else 6), sent
    # A group this backend wrote gets its attributes without being read back: B/1 is read
    # only to find it is not there yet.
    sent.clear()
    fresh.ensure_directory(f"{store}/B/1")
    fresh.set_attributes(f"{store}/B/1", {"well": "B1"})
    reads = sum(n for key, n in sent.items() if key.startswith("get_object") and "/B/1/" in key)
    assert reads == (1 if zarr_format == 3 else 2), sent
    assert fresh.attributes(f"{store}/B/1") == {"well": "B1"}


def test_a_store_of_the_other_format_is_still_seen(s3: dict[str, str], store: str) -> None:
    old = FsspecZarrBackend(2, storage_options=s3)
    old.set_attributes(store, {"made": "by v2"})
    old.ensure_directory(f"{store}/A/1")
    new = FsspecZarrBackend(3, storage_options=s3)
    # A Zarr v2 store under a v3 backend: every node is looked up in both formats.
    assert new.is_dir(store) and new.is_dir(f"{store}/A/1")
    assert new.attributes(store) == {"made": "by v2"}
    with pytest.raises(FileExistsError):
        new.array_writer(f"{store}/A/1", shape=(2,), dtype="uint8").__enter__()
