"""The stream server and the zmq_stream backend: arrays land bit-exact in the server's store."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zmq

from platekit.storage import BackendRegistry, FileManager
from platekit.storage.testing import BackendContract
from platekit.zmq import (
    ServerGone,
    ServerStartError,
    StreamServer,
    ZmqStreamBackend,
    launch_server,
)
from platekit.zmq._protocol import header
from platekit.zmq.servers.stream import relative_path
from platekit.zmq.stream_backend import ADDRESS_ENV

# Arrays of every kind a sender streams: dtypes, odd shapes, views that are not contiguous.
_BASE = np.arange(7 * 13 * 3, dtype=np.int64).reshape(7, 13, 3)
SAMPLES: dict[str, np.ndarray[Any, Any]] = {
    "uint8": (_BASE % 251).astype(np.uint8),
    "uint16 2-D": (_BASE[:, :, 0] * 977).astype(np.uint16),
    "float32": (_BASE / 7.0).astype(np.float32) - 3.5,
    "bool": _BASE % 3 == 0,
    "one pixel": np.array([[65535]], dtype=np.uint16),
    "empty": np.zeros((0, 5), dtype=np.uint16),
    "0-D": np.array(2.5, dtype=np.float64),
    "big-endian": np.arange(10, dtype=">u2"),
    "strided view": (_BASE[:, :, 0] * 31).astype(np.uint16)[::2, 1::3],
    "Fortran order": np.asfortranarray((_BASE[:, :, 1]).astype(np.int32)),
    "large": np.random.default_rng(3).integers(0, 65535, (300, 400), dtype=np.uint16),
}


def assert_bit_exact(loaded: Any, sent: np.ndarray[Any, Any]) -> None:
    loaded = np.asarray(loaded)
    assert loaded.dtype == sent.dtype
    assert loaded.shape == sent.shape
    assert loaded.tobytes() == sent.tobytes()


def cache_env(tmp_path: Path) -> dict[str, str]:
    """The environment for a launched server: this test's cache folder, nothing else changed."""
    return dict(os.environ, PLATEKIT_CACHE_DIR=str(tmp_path / "cache"))


@pytest.fixture
def memory_server(run_server: Any) -> StreamServer:
    """A stream server with a memory store, its loop in a thread of this process."""
    server: StreamServer = run_server(StreamServer(store="memory"))
    return server


@pytest.fixture
def backend(memory_server: StreamServer) -> Iterator[ZmqStreamBackend]:
    made = ZmqStreamBackend(memory_server.data_address, timeout=10)
    yield made
    made.close()


class RawPeer:
    """A bare DEALER on a stream server's data socket, for messages no backend would send."""

    def __init__(self, address: str) -> None:
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(address)

    def ask(self, frames: list[Any], timeout: float = 10.0) -> dict[str, Any]:
        self.socket.send_multipart([b"", *frames])
        assert self.socket.poll(int(timeout * 1000)), "no reply from the stream server"
        reply = self.socket.recv_multipart()
        decoded: dict[str, Any] = json.loads(reply[1])
        return decoded

    def close(self) -> None:
        self.socket.close(linger=0)


# -- the storage contract, through the server, for each store --------------------------------


class TestMemoryStoreContract(BackendContract):
    suffix = ".tif"

    @pytest.fixture
    def backend(self, run_server: Any) -> Iterator[ZmqStreamBackend]:
        server = run_server(StreamServer(store="memory"))
        made = ZmqStreamBackend(server.data_address)
        yield made
        made.close()

    @pytest.fixture
    def root(self) -> str:
        return "data"

    def sample(self, n: int) -> Any:
        return (np.arange(48, dtype=np.uint16).reshape(6, 8) * 7 + n).astype(np.uint16)


class TestDiskStoreContract(TestMemoryStoreContract):
    @pytest.fixture
    def backend(self, run_server: Any, tmp_path: Path) -> Iterator[ZmqStreamBackend]:
        server = run_server(StreamServer(store="disk", root=str(tmp_path / "store")))
        made = ZmqStreamBackend(server.data_address)
        yield made
        made.close()


class TestZarrStoreContract(TestMemoryStoreContract):
    suffix = ""

    @pytest.fixture
    def backend(self, run_server: Any, tmp_path: Path) -> Iterator[ZmqStreamBackend]:
        server = run_server(StreamServer(store="zarr", root=str(tmp_path / "plate.zarr")))
        made = ZmqStreamBackend(server.data_address)
        yield made
        made.close()


# -- through FileManager and the registry ------------------------------------------------------


@pytest.mark.slow
def test_file_manager_saves_land_bit_exact_in_a_launched_servers_memory_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with launch_server("stream", store="memory", env=cache_env(tmp_path)) as server:
        monkeypatch.setenv(ADDRESS_ENV, server.data_address)
        files = FileManager(BackendRegistry())
        for n, array in enumerate(SAMPLES.values()):
            files.save(array, f"plate/A01/s{n}.tif", "zmq_stream")
        assert server.status()["stored"] == len(SAMPLES)
        # Read back by another backend of its own, so nothing cached on the sending side counts.
        reader = ZmqStreamBackend(server.data_address)
        try:
            listed = reader.list_files("plate/A01")
            assert listed == [f"plate/A01/s{n}.tif" for n in range(len(SAMPLES))]
            for n, array in enumerate(SAMPLES.values()):
                assert_bit_exact(reader.load(f"plate/A01/s{n}.tif"), array)
                assert_bit_exact(files.load(f"plate/A01/s{n}.tif", "zmq_stream"), array)
        finally:
            reader.close()
            sender = files.backend("zmq_stream")
            assert isinstance(sender, ZmqStreamBackend)
            sender.close()


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_dtype_and_shape_arrives_bit_exact(backend: ZmqStreamBackend, name: str) -> None:
    array = SAMPLES[name]
    backend.save(array, f"samples/{name}.tif")
    assert_bit_exact(backend.load(f"samples/{name}.tif"), array)


def test_the_saved_array_is_what_was_sent_even_if_the_sender_changes_it_afterwards(
    backend: ZmqStreamBackend,
) -> None:
    array = np.full((64, 64), 7, dtype=np.uint16)
    backend.save(array, "a.tif")
    array[...] = 9
    assert int(backend.load("a.tif")[0, 0]) == 7


def test_the_status_counts_what_was_stored(
    backend: ZmqStreamBackend, memory_server: StreamServer
) -> None:
    backend.save(np.zeros((10, 10), dtype=np.uint16), "one.tif")
    backend.save_batch([np.zeros(5, dtype=np.uint8)] * 3, ["b0", "b1", "b2"])
    with pytest.raises(FileExistsError):
        backend.save(np.zeros(1, dtype=np.uint8), "b0")
    assert (memory_server.stored, memory_server.stored_bytes) == (4, 200 + 15)
    assert memory_server.status()["store"] == "memory"


def test_a_connected_backend_pickles_its_settings_and_the_copy_connects_anew(
    backend: ZmqStreamBackend,
) -> None:
    import pickle

    backend.save(np.zeros(3, dtype=np.uint8), "before")  # its socket is open now
    copy = pickle.loads(pickle.dumps(backend))
    assert (copy.address, copy.timeout, copy.window) == (
        backend.address,
        backend.timeout,
        backend.window,
    )
    copy.save(np.ones(3, dtype=np.uint8), "from the copy")
    assert_bit_exact(backend.load("from the copy"), np.ones(3, dtype=np.uint8))
    copy.close()


# -- disk and zarr stores, read with the libraries themselves ------------------------------------


@pytest.mark.slow
def test_a_disk_store_writes_real_tiff_files_under_its_root(tmp_path: Path) -> None:
    root = tmp_path / "store"
    arrays = {k: SAMPLES[k] for k in ("uint8", "uint16 2-D", "float32", "strided view", "large")}
    with launch_server("stream", store="disk", root=str(root), env=cache_env(tmp_path)) as server:
        backend = ZmqStreamBackend(server.data_address)
        try:
            for n, array in enumerate(arrays.values()):
                backend.save(array, f"plate/A0{n}.tif", metadata={"well": f"A0{n}", "site": n})
        finally:
            backend.close()
    for n, array in enumerate(arrays.values()):
        path = root / "plate" / f"A0{n}.tif"
        assert_bit_exact(tifffile.imread(path), array)
        with tifffile.TiffFile(path) as tiff:
            described = tiff.shaped_metadata
        assert described is not None
        assert described[0]["well"] == f"A0{n}" and described[0]["site"] == n


@pytest.mark.slow
def test_a_zarr_store_writes_arrays_that_zarr_python_reads(tmp_path: Path) -> None:
    import zarr

    root = tmp_path / "plate.zarr"
    arrays = {k: SAMPLES[k] for k in ("uint8", "uint16 2-D", "float32", "bool", "strided view")}
    with launch_server("stream", store="zarr", root=str(root), env=cache_env(tmp_path)) as server:
        backend = ZmqStreamBackend(server.data_address)
        try:
            paths = [f"A/{n}/0" for n in range(len(arrays))]
            metadata = [{"channel": n} for n in range(len(arrays))]
            backend.save_batch(list(arrays.values()), paths, metadata=metadata)
        finally:
            backend.close()
    for n, array in enumerate(arrays.values()):
        stored = zarr.open_array(str(root / "A" / str(n) / "0"), mode="r")
        assert_bit_exact(stored[...], array)
        assert dict(stored.attrs) == {"channel": n}


@pytest.mark.slow
def test_a_disk_or_zarr_store_without_a_root_does_not_start(tmp_path: Path) -> None:
    for store in ("disk", "zarr"):
        with pytest.raises(ServerStartError, match="--root"):
            launch_server("stream", store=store, env=cache_env(tmp_path), timeout=20)
    with pytest.raises(ServerStartError, match=r"\.zarr"):
        launch_server("stream", store="zarr", root=str(tmp_path / "x"), env=cache_env(tmp_path))


# -- refusals: the server answers with an error and keeps serving -------------------------------


@pytest.mark.parametrize(
    "path", ["../outside.tif", "a/../../outside.tif", "/etc/outside.tif", "C:/outside.tif", "..\\x"]
)
def test_a_path_escaping_the_store_is_refused_and_the_server_keeps_serving(
    run_server: Any, tmp_path: Path, path: str
) -> None:
    root = tmp_path / "deep" / "store"
    server = run_server(StreamServer(store="disk", root=str(root)))
    backend = ZmqStreamBackend(server.data_address)
    try:
        array = np.ones((4, 4), dtype=np.uint16)
        with pytest.raises(ValueError, match="store"):
            backend.save(array, path)
        with pytest.raises(ValueError, match="store"):
            backend.load(path)
        backend.save(array, "inside.tif")
        assert_bit_exact(backend.load("inside.tif"), array)
    finally:
        backend.close()
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.tif"))
    assert written == [os.path.join("deep", "store", "inside.tif")]


def test_relative_paths_have_one_spelling() -> None:
    assert relative_path("./plate//A01/./s1.tif") == "plate/A01/s1.tif"
    assert relative_path("plate\\A01\\s1.tif") == "plate/A01/s1.tif"
    assert relative_path("") == ""
    assert relative_path("a/..b/c..") == "a/..b/c.."


def test_malformed_messages_get_error_replies_with_their_id(memory_server: StreamServer) -> None:
    peer = RawPeer(memory_server.data_address)
    pixels = np.arange(12, dtype=np.uint16)
    try:
        cases = [
            # An object dtype would ask the server to unpickle: refused, never decoded.
            ([header("save", id=1, path="x.tif", dtype="|O", shape=[3]), b"\0" * 24], "plain"),
            # A frame that does not hold the array the header describes.
            ([header("save", id=2, path="x.tif", dtype="<u2", shape=[3, 5]), pixels], "bytes"),
            ([header("save", id=3, path="x.tif", dtype="<u2", shape=[12])], "one array frame"),
            ([header("save", id=4, path="x.tif", dtype="<u2", shape="12"), pixels], "list"),
            ([header("save", id=5, path="x.tif", dtype="nope", shape=[12]), pixels], "dtype"),
            ([header("load", id=6, path="x.tif", extra=1)], "no field 'extra'"),
            ([header("teleport", id=7)], "unknown message type"),
            ([b"{not json", pixels], "JSON"),
        ]
        for frames, words in cases:
            reply = peer.ask(frames)
            assert reply["type"] == "error", frames[0]
            assert words in reply["message"]
            if frames[0].startswith(b'{"'):
                assert reply["id"] == json.loads(frames[0])["id"]
        assert memory_server.stored == 0
        ok = peer.ask([header("save", id=9, path="x.tif", dtype="<u2", shape=[3, 4]), pixels])
        assert ok == {"protocol": 1, "type": "stored", "id": 9, "path": "x.tif", "nbytes": 24}
    finally:
        peer.close()


def test_data_the_backend_cannot_send_is_refused_with_what_it_takes(
    backend: ZmqStreamBackend,
) -> None:
    for data in (b"bytes", "text", {"a": 1}, [1, 2, 3], np.array([object()]), None):
        with pytest.raises(TypeError, match="numeric"):
            backend.save(data, "x.tif")
    with pytest.raises(TypeError, match="JSON"):
        backend.save(np.zeros(2), "x.tif", metadata={"when": object()})
    with pytest.raises(TypeError, match="compression"):
        backend.save(np.zeros(2), "x.tif", compression="zlib")
    assert not backend.exists("x.tif")


def test_metadata_too_large_for_a_header_is_refused_before_sending(
    backend: ZmqStreamBackend,
) -> None:
    items = [np.zeros(3, dtype=np.uint8)] * 4
    metadata: list[dict[str, Any]] = [{"n": n} for n in range(4)]
    metadata[2] = {"notes": "x" * 100_000}
    with pytest.raises(ValueError, match="metadata"):
        backend.save_batch(items, ["m0", "m1", "m2", "m3"], metadata=metadata)
    assert backend.list_files("") == ["m0", "m1"]


def test_a_png_without_its_codec_is_unavailable_not_an_internal_error(
    run_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if imagecodecs were not installed: importing it fails.
    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    server = run_server(StreamServer(store="disk", root=str(tmp_path / "store")))
    peer = RawPeer(server.data_address)
    try:
        pixels = np.zeros((4, 4), dtype=np.uint8)
        reply = peer.ask([header("save", id=5, path="a.png", dtype="|u1", shape=[4, 4]), pixels])
        assert reply["type"] == "error" and reply["id"] == 5, reply
        assert reply["error"] == "unavailable", reply
        assert "imagecodecs" in reply["message"]
        # A TIFF needs no codec and is stored as before.
        ok = peer.ask([header("save", id=6, path="a.tif", dtype="|u1", shape=[4, 4]), pixels])
        assert ok["type"] == "stored"
    finally:
        peer.close()


def test_loading_data_that_is_not_an_array_is_refused(run_server: Any, tmp_path: Path) -> None:
    root = tmp_path / "store"
    server = run_server(StreamServer(store="disk", root=str(root)))
    (root / "notes.json").write_text('{"a": 1}')
    backend = ZmqStreamBackend(server.data_address)
    try:
        with pytest.raises(TypeError, match=r"notes\.json"):
            backend.load("notes.json")
        assert backend.list_files("") == ["notes.json"]
    finally:
        backend.close()


# -- batches and back-pressure ------------------------------------------------------------------


def test_save_batch_with_a_small_window_stores_every_frame(backend: ZmqStreamBackend) -> None:
    backend.window = 3
    items = [np.full((32, 48), n, dtype=np.uint16) for n in range(25)]
    paths = [f"batch/f{n:02d}.tif" for n in range(25)]
    backend.save_batch(items, paths)
    assert backend.list_files("batch") == paths
    for item, loaded in zip(items, backend.load_batch(paths), strict=True):
        assert_bit_exact(loaded, item)


def test_a_failure_in_a_batch_is_raised_and_stops_the_sending(backend: ZmqStreamBackend) -> None:
    backend.window = 2
    items = [np.full(4, n, dtype=np.uint8) for n in range(10)]
    paths = [f"f{n}" for n in range(10)]
    paths[4] = "../f4"
    with pytest.raises(ValueError, match="climbs out"):
        backend.save_batch(items, paths)
    stored = backend.list_files("")
    assert stored[:4] == ["f0", "f1", "f2", "f3"]
    assert len(stored) <= 4 + backend.window - 1


@pytest.mark.slow
def test_save_batch_keeps_at_most_window_frames_unanswered() -> None:
    """A receiver that holds its acknowledgements back holds the sender back too."""
    context = zmq.Context.instance()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    backend = ZmqStreamBackend(f"tcp://127.0.0.1:{port}", window=3, timeout=30)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            items = [np.full((16, 16), n, dtype=np.uint16) for n in range(8)]
            backend.save_batch(items, [f"f{n}" for n in range(8)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    def arrivals(quiet: float) -> list[list[bytes]]:
        """The messages that arrive until none has for ``quiet`` seconds (bounded)."""
        got = []
        for _ in range(20):
            if not router.poll(int(quiet * 1000)):
                break
            got.append(router.recv_multipart())
        return got

    def acknowledge(message: list[bytes]) -> None:
        request = json.loads(message[2])
        reply = header("stored", id=request["id"], path=request["path"], nbytes=512)
        router.send_multipart([message[0], b"", reply])

    sender = threading.Thread(target=send)
    sender.start()
    try:
        first = arrivals(quiet=1.0)
        assert len(first) == 3  # the window, and not one more while none is answered
        acknowledge(first[0])
        second = arrivals(quiet=1.0)
        assert len(second) == 1
        pending = first[1:] + second
        answered = 1
        for _ in range(20):
            for message in pending:
                acknowledge(message)
            answered += len(pending)
            if answered == 8:
                break
            assert router.poll(10_000), "the sender stopped before sending every frame"
            pending = [router.recv_multipart()]
        sender.join(30)
        assert not sender.is_alive() and not errors
    finally:
        backend.close()
        sender.join(40)
        router.close(linger=0)


# -- the server gone, no server given -----------------------------------------------------------


@pytest.mark.slow
def test_saving_to_a_stopped_server_times_out_naming_its_address(tmp_path: Path) -> None:
    server = launch_server("stream", store="memory", env=cache_env(tmp_path))
    try:
        backend = ZmqStreamBackend(server.data_address, timeout=1.0)
        backend.save(np.zeros(4, dtype=np.uint8), "before")
    finally:
        server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=re.escape(server.data_address)) as caught:
            backend.save(np.zeros(4, dtype=np.uint8), "after")
        assert isinstance(caught.value, ServerGone)
        assert time.monotonic() - started < 30  # the test's own deadline, not a speed claim
        with pytest.raises(TimeoutError):
            backend.save_batch([np.zeros(4, dtype=np.uint8)] * 3, ["a", "b", "c"])
    finally:
        backend.close()


def test_a_backend_without_an_address_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ADDRESS_ENV, raising=False)
    backend = BackendRegistry()["zmq_stream"]
    with pytest.raises(RuntimeError, match=ADDRESS_ENV):
        backend.save(np.zeros(2), "x.tif")
    with pytest.raises(RuntimeError, match="address="):
        backend.exists("x.tif")


def test_the_registry_offers_zmq_stream_without_a_gpu(tmp_path: Path) -> None:
    code = (
        "from platekit.storage import BackendRegistry, STORAGE_BACKENDS\n"
        "registry = BackendRegistry()\n"
        "print('zmq_stream' in list(registry), STORAGE_BACKENDS.metadata('zmq_stream'))\n"
        "print(type(registry['zmq_stream']).__name__, registry['zmq_stream']._streaming)\n"
    )
    env = dict(cache_env(tmp_path), PLATEKIT_SUBPROCESS_NO_GPU="1")
    env.pop(ADDRESS_ENV, None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("True ") and "'_requires_gpu': False" in lines[0]
    assert lines[1] == "ZmqStreamBackend True"
