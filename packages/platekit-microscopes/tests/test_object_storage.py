"""Plates in object storage: read in place from a real S3-protocol server (moto_server).

The server runs as a process on 127.0.0.1; nothing of boto or s3fs is mocked.
Requests are counted where s3fs sends them, to show that opening a plate
lists each folder once, whatever the number of its files.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto")

from platekit.microscopes import detect_microscope, open_plate
from platekit.microscopes.testing import write_plate

pytestmark = pytest.mark.slow

KINDS = ["imagexpress", "opera_phenix", "cellvoyager", "omezarr"]


def filesystem(options: dict[str, str]) -> Any:
    import fsspec

    return fsspec.filesystem("s3", **options)


def upload(folder: Path, options: dict[str, str]) -> str:
    """The plate folder copied to a new bucket; its URL."""
    fs = filesystem(options)
    bucket = f"plates-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        fs.pipe(
            f"{bucket}/screen/{folder.name}/{file.relative_to(folder).as_posix()}",
            file.read_bytes(),
        )
    fs.invalidate_cache()
    return f"s3://{bucket}/screen/{folder.name}"


class Requests:
    """Counts the requests s3fs sends, by S3 operation."""

    def __init__(self, fs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: Counter[str] = Counter()
        call = fs._call_s3

        async def counting(method: str, *args: Any, **kwargs: Any) -> Any:
            self.sent[method] += 1
            return await call(method, *args, **kwargs)

        monkeypatch.setattr(fs, "_call_s3", counting)
        self.fs = fs

    def reset(self) -> None:
        self.sent.clear()
        self.fs.invalidate_cache()

    @property
    def listings(self) -> int:
        return self.sent["list_objects_v2"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_plate_in_s3_reads_as_the_same_plate_on_disk(
    kind: str, tmp_path: Path, s3: dict[str, str]
) -> None:
    folder = write_plate(kind, tmp_path / "Plate1", wells=["A01", "B02"], sites=2, channels=2)
    url = upload(folder, s3)
    assert detect_microscope(url, storage_options=s3).name == kind
    remote = open_plate(url, storage_options=s3)
    local = open_plate(folder)
    assert remote.metadata.wells == local.metadata.wells
    assert remote.metadata.channels == local.metadata.channels
    assert list(remote.planes()) == list(local.planes())
    assert remote.missing() == local.missing()
    for key, _ in list(local.planes())[:3]:
        np.testing.assert_array_equal(remote.read_plane(key), local.read_plane(key))


@pytest.mark.parametrize("kind", ["imagexpress", "opera_phenix", "cellvoyager"])
def test_opening_a_plate_lists_each_folder_once_whatever_its_size(
    kind: str, tmp_path: Path, s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = Requests(filesystem(s3), monkeypatch)
    sent = {}
    for wells in (["A01"], [f"{row}{col:02d}" for row in "ABCD" for col in range(1, 7)]):
        folder = write_plate(kind, tmp_path / f"P{len(wells)}", wells=wells, sites=2, channels=2)
        url = upload(folder, s3)
        counted.reset()
        plate = open_plate(url, storage_options=s3)
        assert len(list(plate.planes())) == len(wells) * 4
        sent[len(wells)] = dict(counted.sent)
    # One listing per folder of the plate, shared by detection and the scan; and no request
    # per file: a plate of 24 wells (96 files) costs what one of 1 well (4 files) does.
    assert sent[1] == sent[24], sent
    assert 1 <= sent[24]["list_objects_v2"] <= 3, sent


def test_no_plate_at_the_url_is_one_sentence(tmp_path: Path, s3: dict[str, str]) -> None:
    folder = tmp_path / "notaplate"
    folder.mkdir()
    (folder / "readme.txt").write_text("nothing here")
    url = upload(folder, s3)
    with pytest.raises(ValueError, match=f"{url!r} is not a plate platekit can read"):
        open_plate(url, storage_options=s3)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_plate("s3://no-such-bucket-anywhere/plate", storage_options=s3)


def run_cli(*args: str, env: dict[str, str] | None = None) -> Any:
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "platekit.registry", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_a_plate_url_whose_protocol_is_in_capitals_is_read(
    tmp_path: Path, s3: dict[str, str]
) -> None:
    url = upload(write_plate("imagexpress", tmp_path / "Plate1", wells=["A01"]), s3)
    plate = open_plate("S3://" + url.partition("://")[2], storage_options=s3)
    assert plate.source.location == url
    assert plate.read("A01").shape == (64, 64)


def test_inspect_reads_a_plate_at_an_s3_url(tmp_path: Path, s3: dict[str, str]) -> None:
    url = upload(write_plate("opera_phenix", tmp_path / "Plate1", wells=["A01", "B02"]), s3)
    done = run_cli("inspect", url, "--storage-option", f"endpoint_url={s3['endpoint_url']}")
    assert done.returncode == 0, done.stderr
    assert f"{url}: Revvity Opera Phenix" in done.stdout
    assert "(decodable)" in done.stdout


def test_inspect_errors_at_urls_are_one_line(tmp_path: Path, s3: dict[str, str]) -> None:
    endpoint = f"endpoint_url={s3['endpoint_url']}"
    url = upload(write_plate("imagexpress", tmp_path / "Plate1"), s3)
    cases = [
        (["s3://no-such-bucket-anywhere/plate", "--storage-option", endpoint], "does not exist"),
        ([url + "-nothing", "--storage-option", endpoint], "does not exist"),
        ([url, "--storage-option", endpoint], None),
        ([url, "--storage-option", "endpoint_url"], "is not KEY=VALUE"),
    ]
    for args, expected in cases:
        done = run_cli("inspect", *args)
        if expected is None:
            assert done.returncode == 0, done.stderr
            continue
        # One line saying what is wrong (after argparse's usage, for a malformed option).
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
        assert expected in done.stderr.strip().splitlines()[-1], done.stderr
    done = run_cli("inspect", url, "--storage-option", endpoint, env=no_credentials(tmp_path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"platekit: no credentials for {url!r}"), done.stderr


def stored_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.mark.parametrize("kind", ["imagexpress", "opera_phenix"])
def test_convert_from_s3_with_credentials_as_options_never_shows_them(
    kind: str, tmp_path: Path, s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import zarr

    folder = write_plate(kind, tmp_path / "Plate1", wells=["A01", "B02"], sites=2)
    url = upload(folder, s3)
    secret = f"secret-{uuid.uuid4().hex}"
    key = f"keyid-{uuid.uuid4().hex}"
    # No credentials in the environment: only the options carry them.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    out = tmp_path / "out.zarr"
    options = [f"endpoint_url={s3['endpoint_url']}", f"key={key}", f"secret={secret}"]
    args = [arg for option in options for arg in ("--storage-option", option)]
    done = run_cli("convert", url, str(out), "--workers", "2", *args)
    assert done.returncode == 0, done.stderr
    for text in (done.stdout, done.stderr):
        assert secret not in text and key not in text
    assert secret.encode() not in stored_bytes(out) and key.encode() not in stored_bytes(out)
    # The same arrays as the conversion of the plate on disk.
    assert run_cli("convert", str(folder), str(tmp_path / "local.zarr")).returncode == 0
    assert_same_arrays(zarr.open_group(str(out), mode="r"), tmp_path / "local.zarr")


def assert_same_arrays(converted: Any, local_out: Path) -> None:
    """Every array of the local conversion, equal in ``converted``."""
    import json

    import zarr

    local = zarr.open_group(str(local_out), mode="r")
    paths = [
        meta.parent.relative_to(local_out).as_posix()
        for meta in sorted(local_out.rglob("zarr.json"))
        if json.loads(meta.read_text()).get("node_type") == "array"
    ]
    assert paths
    for path in paths:
        np.testing.assert_array_equal(converted[path][...], local[path][...])


def test_credentials_stay_out_of_log_records_and_reprs(
    tmp_path: Path, s3: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import pickle

    from platekit.microscopes import convert

    url = upload(write_plate("cellvoyager", tmp_path / "Plate1", wells=["A01"]), s3)
    secret = f"secret-{uuid.uuid4().hex}"
    options = {**s3, "key": "testing-key-id", "secret": secret}
    caplog.set_level(logging.DEBUG)
    plate = open_plate(url, storage_options=options)
    convert(plate, tmp_path / "out.zarr", workers=1)
    shown = [repr(plate), repr(plate.source), repr(plate.source.backend), str(plate.path)]
    assert not any(secret in text for text in shown)
    assert not any(secret in record.getMessage() for record in caplog.records)
    assert secret.encode() not in stored_bytes(tmp_path / "out.zarr")
    # A plate crosses to workers by pickle, with what it needs to read there.
    copy = pickle.loads(pickle.dumps(plate))
    key = next(copy.planes())[0]
    np.testing.assert_array_equal(copy.read_plane(key), plate.read_plane(key))


def new_bucket(options: dict[str, str]) -> str:
    bucket = f"out-{uuid.uuid4().hex[:12]}"
    filesystem(options).mkdir(bucket)
    return bucket


def test_convert_into_s3_opens_in_zarr_python_and_ome_zarr_py(
    tmp_path: Path, s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import zarr
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    folder = write_plate("imagexpress", tmp_path / "Plate1", wells=["A01", "B02"], sites=2)
    source = upload(folder, s3)
    out = f"s3://{new_bucket(s3)}/screen/plate.zarr"
    endpoint = f"endpoint_url={s3['endpoint_url']}"
    done = run_cli("convert", source, out, "--storage-option", endpoint)
    assert done.returncode == 0, done.stderr
    assert run_cli("convert", str(folder), str(tmp_path / "local.zarr")).returncode == 0
    converted = zarr.open_group(out, mode="r", storage_options=s3)
    assert converted.attrs["ome"]["plate"]["wells"]
    assert converted.attrs["platekit"]["conversion"]["state"] == "complete"
    assert_same_arrays(converted, tmp_path / "local.zarr")
    # ome-zarr-py reads it from the URL (through the same fsspec settings, from the environment).
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3["endpoint_url"])
    location = parse_url(out)
    assert location is not None
    nodes = list(Reader(location)())
    assert nodes and "plate" in nodes[0].zarr.root_attrs.get("ome", nodes[0].zarr.root_attrs)
    # The run's lock object is gone; running again finds the output complete.
    assert not filesystem(s3).exists(f"{out}/.platekit-lock")
    again = run_cli("convert", source, out, "--storage-option", endpoint)
    assert again.returncode == 0, again.stderr


def test_a_killed_conversion_into_s3_leaves_only_complete_arrays_and_resumes(
    tmp_path: Path, s3: dict[str, str]
) -> None:
    import zarr

    from platekit.microscopes import convert

    folder = write_plate(
        "opera_phenix", tmp_path / "Plate1", wells=["A01", "A02", "B01"], channels=2
    )
    out = f"s3://{new_bucket(s3)}/plate.zarr"

    class StopAfterOneWell:
        def __init__(self) -> None:
            self.calls = 0

        def is_set(self) -> bool:
            self.calls += 1
            return self.calls > 1  # stops within the first field's array

    with pytest.raises(Exception, match="cancelled"):
        convert(open_plate(folder), out, storage_options=s3, cancel=StopAfterOneWell())
    fs = filesystem(s3)
    fs.invalidate_cache()
    # The array cut short has no metadata (so no reader sees it), nor does the plate yet.
    root = zarr.open_group(out, mode="r", storage_options=s3)
    assert "plate" not in root.attrs.get("ome", {})
    assert root.attrs["platekit"]["conversion"]["state"] == "running"
    written = fs.find(out)
    assert written and not [key for key in written if key.endswith("A/1/0/0/zarr.json")]
    result = convert(open_plate(folder), out, storage_options=s3)
    assert result.wells_converted == 3
    assert run_cli("convert", str(folder), str(tmp_path / "local.zarr")).returncode == 0
    assert_same_arrays(zarr.open_group(out, mode="r", storage_options=s3), tmp_path / "local.zarr")


def test_an_output_bucket_that_does_not_exist_is_one_line_and_writes_nothing(
    tmp_path: Path, s3: dict[str, str]
) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1")
    endpoint = f"endpoint_url={s3['endpoint_url']}"
    done = run_cli(
        "convert", str(folder), "s3://no-such-bucket-out/p.zarr", "--storage-option", endpoint
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "the bucket 'no-such-bucket-out'" in done.stderr.strip().splitlines()[-1]
    assert not filesystem(s3).exists("no-such-bucket-out")


#: Two plates alike but for their number of wells, in the same rows (so the same row groups).
FEWER_WELLS = ["A01", "A02", "B01", "B02"]
MORE_WELLS = [f"{row}{column:02d}" for row in "AB" for column in range(1, 5)]


def requests_per_well(tmp_path: Path, s3: dict[str, str], **layout: int) -> dict[str, float]:
    """The requests a well adds to a conversion into S3, by HTTP method and kind of object.

    Those of a plate of 8 wells less those of the same plate of 4, per well:
    what each run costs once (the lock, the root) cancels out.
    """
    from platekit.microscopes import convert
    from platekit.storage.testing_s3 import counted_requests

    totals = []
    for wells in (FEWER_WELLS, MORE_WELLS):
        name = "-".join(f"{k}{v}" for k, v in layout.items()) + f"-{len(wells)}"
        plate = open_plate(write_plate("imagexpress", tmp_path / name, wells=wells, **layout))
        out = f"s3://{new_bucket(s3)}/plate.zarr"
        with counted_requests() as sent:
            convert(plate, out, storage_options=s3, workers=1)
        totals.append(Counter(sent))
    added = len(MORE_WELLS) - len(FEWER_WELLS)
    kinds = sorted(set(totals[0]) | set(totals[1]))
    found = {kind: (totals[1][kind] - totals[0][kind]) / added for kind in kinds}
    return {kind: n for kind, n in found.items() if n}


def test_requests_per_well_written_grow_with_arrays_not_with_chunks(
    tmp_path: Path, s3: dict[str, str]
) -> None:
    one = requests_per_well(tmp_path, s3)
    # One array per well, of one chunk (a plane): a few requests for its groups and metadata.
    assert one["PUT data"] == 1, one
    assert sum(one.values()) <= 12, one
    # More chunks per array (channels, z planes): one PUT more per chunk, nothing else.
    for layout, chunks in (({"channels": 4}, 4), ({"z": 3}, 3)):
        more = requests_per_well(tmp_path, s3, **layout)
        assert more == {**one, "PUT data": chunks}, (layout, one, more)
    # More arrays per well (fields): the same requests again for each array, no more.
    two = requests_per_well(tmp_path, s3, sites=2)
    four = requests_per_well(tmp_path, s3, sites=4)
    per_array = {kind: two.get(kind, 0) - one.get(kind, 0) for kind in two}
    assert per_array["PUT data"] == 1 and sum(per_array.values()) <= 6, per_array
    for kind in set(one) | set(four):
        assert four.get(kind, 0) == one.get(kind, 0) + 3 * per_array.get(kind, 0), (one, four)


def test_the_lock_object_keeps_a_second_run_out_unless_its_run_is_gone(
    tmp_path: Path, s3: dict[str, str]
) -> None:
    import json
    import socket

    from platekit.microscopes import convert

    plate = open_plate(write_plate("imagexpress", tmp_path / "Plate1"))
    out = f"s3://{new_bucket(s3)}/plate.zarr"
    fs = filesystem(s3)
    other = {"run": "elsewhere-run", "host": "another-host", "pid": 1, "started": "earlier"}
    fs.pipe_file(f"{out}/.platekit-lock", json.dumps(other).encode())
    with pytest.raises(FileExistsError, match="another conversion \\(run elsewhere-run"):
        convert(plate, out, storage_options=s3)
    assert fs.find(out) == [f"{out}/.platekit-lock".partition("://")[2]]
    # A run of this host whose process has ended left it: the next run takes over.
    gone = {**other, "host": socket.gethostname(), "pid": ended_pid()}
    fs.pipe_file(f"{out}/.platekit-lock", json.dumps(gone).encode())
    assert convert(plate, out, storage_options=s3).wells_converted == len(plate.metadata.wells)
    assert not fs.exists(f"{out}/.platekit-lock")


def ended_pid() -> int:
    """The id of a process of this host that has ended."""
    import subprocess
    import sys

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(ended.stdout)


def lock_objects(s3: dict[str, str], runs: int) -> tuple[Any, Any, list[Any]]:
    """A new output in S3, the filesystem its lock is written through, and ``runs`` runs'
    locks of it."""
    from platekit.microscopes._object_output import ObjectLock, StoreURL
    from platekit.microscopes._well_writer import backend_for

    out = StoreURL(f"s3://{new_bucket(s3)}/plate.zarr")
    backend = backend_for("0.5", str(out), s3)
    return out, backend.fs(str(out)), [ObjectLock(backend, out) for _ in range(runs)]


def before_a_write(
    fs: Any, monkeypatch: pytest.MonkeyPatch, step: Any, takeover: bool = False
) -> list[bool]:
    """Run ``step`` once, just before the first write through ``fs`` reaches the store (the
    first that writes over a lock, with ``takeover``); whether it ran."""
    write = fs.pipe_file
    ran: list[bool] = []

    def racing(path: str, data: bytes, **options: Any) -> Any:
        if not ran and (options.get("mode") != "create" or not takeover):
            ran.append(True)
            step()
        return write(path, data, **options)

    monkeypatch.setattr(fs, "pipe_file", racing)
    return ran


def test_of_two_runs_taking_the_lock_at_once_only_one_holds_it(
    s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from platekit.microscopes._lock import OutputInUseError

    out, fs, (first, second) = lock_objects(s3, 2)
    # The second run takes the lock just before the first run's write reaches the store.
    before_a_write(fs, monkeypatch, second.acquire)
    with pytest.raises(OutputInUseError, match=f"run {second.run} on"):
        first.acquire()
    second.verify()  # still the second run's
    second.release()
    assert not fs.exists(f"{out}/.platekit-lock")


def test_a_lock_taken_by_a_run_that_then_fails_to_start_is_let_go_of(
    s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from platekit.microscopes._object_output import ObjectLock, prepare_object_output

    out, _, [lock] = lock_objects(s3, 1)

    def unanswered(self: ObjectLock) -> None:
        raise OSError("the store stopped answering")

    # The lock object is written; reading it back to check it fails.
    monkeypatch.setattr(ObjectLock, "verify", unanswered)
    with pytest.raises(OSError, match="stopped answering"):
        prepare_object_output(lock.backend, out, {"source": "p"}, overwrite=False)
    assert not filesystem(s3).exists(f"{out}/.platekit-lock")


def test_a_lock_released_while_a_run_waited_is_taken_create_only_again(
    s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from platekit.microscopes._lock import OutputInUseError

    out, fs, (first, second, third) = lock_objects(s3, 3)
    write = fs.pipe_file
    busy: list[bool] = []

    def second_holds_then_ends(path: str, data: bytes, **options: Any) -> Any:
        second.acquire()
        try:
            return write(path, data, **options)
        finally:
            second.release()  # before the first run reads whose lock refused it

    def third_takes_it(path: str, data: bytes, **options: Any) -> Any:
        third.acquire()
        return write(path, data, **options)

    steps = [second_holds_then_ends, third_takes_it]

    def racing(path: str, data: bytes, **options: Any) -> Any:
        # Each write of the first run meets the next step; the other runs' writes go through.
        if busy or not steps:
            return write(path, data, **options)
        busy.append(True)
        try:
            return steps.pop(0)(path, data, **options)
        finally:
            busy.clear()

    monkeypatch.setattr(fs, "pipe_file", racing)
    with pytest.raises(OutputInUseError, match=f"run {third.run} on"):
        first.acquire()
    third.verify()  # still the third run's: the first did not write over it
    third.release()
    assert not fs.exists(f"{out}/.platekit-lock")


def test_of_two_runs_taking_over_a_gone_runs_lock_at_once_only_one_holds_it(
    s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import socket

    from platekit.microscopes._lock import OutputInUseError

    out, fs, (first, second) = lock_objects(s3, 2)
    gone = {"run": "gone-run", "host": socket.gethostname(), "pid": ended_pid()}
    filesystem(s3).pipe_file(f"{out}/.platekit-lock", json.dumps(gone).encode())
    # The second run takes the gone run's lock over just before the first run's takeover
    # reaches the store.
    raced = before_a_write(fs, monkeypatch, second.acquire, takeover=True)
    with pytest.raises(OutputInUseError, match=f"run {second.run} on"):
        first.acquire()
    assert raced
    second.verify()  # still the second run's
    second.release()


def test_without_s3fs_a_url_is_one_line_saying_what_to_install() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['s3fs'] = None\n"
        "from platekit.registry._cli import main\n"
        "sys.exit(main(['inspect', 's3://bucket/plate']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    line = done.stderr.strip()
    from platekit.registry._install import install_command

    assert "\n" not in line and install_command("platekit-storage", "s3") in line, line


def test_dask_workers_read_a_plate_in_s3_and_write_into_s3(
    tmp_path: Path, s3: dict[str, str]
) -> None:
    pytest.importorskip("distributed")
    import zarr

    from platekit.microscopes import convert

    folder = write_plate("cellvoyager", tmp_path / "Plate1", wells=["A01", "A02", "B01"], sites=2)
    plate = open_plate(upload(folder, s3), storage_options=s3)
    out = f"s3://{new_bucket(s3)}/plate.zarr"
    # The plate and its source cross to the Dask workers by pickle, and read there.
    convert(plate, out, storage_options=s3, executor="dask", workers=2)
    assert run_cli("convert", str(folder), str(tmp_path / "local.zarr")).returncode == 0
    assert_same_arrays(zarr.open_group(out, mode="r", storage_options=s3), tmp_path / "local.zarr")


def test_an_output_inside_the_plate_in_s3_is_refused_before_anything_is_written(
    tmp_path: Path, s3: dict[str, str]
) -> None:
    url = upload(write_plate("imagexpress", tmp_path / "Plate1"), s3)
    before = sorted(filesystem(s3).find(url))
    endpoint = f"endpoint_url={s3['endpoint_url']}"
    done = run_cli("convert", url, f"{url}/out.zarr", "--storage-option", endpoint)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "is inside the source plate" in done.stderr
    filesystem(s3).invalidate_cache()
    assert sorted(filesystem(s3).find(url)) == before


def test_output_credentials_and_endpoint_errors_are_one_line_and_write_nothing(
    tmp_path: Path, s3: dict[str, str]
) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1")
    bucket = new_bucket(s3)
    without_credentials = no_credentials(tmp_path)
    out = f"s3://{bucket}/plate.zarr"
    cases = [
        (f"endpoint_url={s3['endpoint_url']}", without_credentials, f"no credentials for {out!r}"),
        ("endpoint_url=http://127.0.0.1:1", {}, "cannot reach the s3 server"),
    ]
    for option, env, expected in cases:
        done = run_cli("convert", str(folder), out, "--storage-option", option, env=env)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr
    assert filesystem(s3).find(bucket) == []


def test_a_screen_in_s3_converts_into_s3_with_storage_options(
    tmp_path: Path, s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import zarr

    from platekit.microscopes import convert_screen

    folders = [
        write_plate("imagexpress", tmp_path / name, wells=["A01", "B02"], sites=2)
        for name in ("Plate1", "Plate2")
    ]
    urls = [upload(folder, s3) for folder in folders]
    out = f"s3://{new_bucket(s3)}/screen"
    # Only the options carry the credentials: none in the environment.
    secret = f"secret-{uuid.uuid4().hex}"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    options = [f"endpoint_url={s3['endpoint_url']}", "key=testing-key-id", f"secret={secret}"]
    args = [arg for option in options for arg in ("--storage-option", option)]
    done = run_cli("convert", *urls, out, *args)
    assert done.returncode == 0, done.stderr
    assert "converted 2 plates (4 wells" in done.stdout and secret not in done.stdout + done.stderr
    given = {**s3, "key": "testing-key-id", "secret": secret}
    for folder in folders:
        local = tmp_path / f"{folder.name}-local.zarr"
        assert run_cli("convert", str(folder), str(local)).returncode == 0
        converted = zarr.open_group(f"{out}/{folder.name}.zarr", mode="r", storage_options=given)
        assert converted.attrs["platekit"]["conversion"]["state"] == "complete"
        assert_same_arrays(converted, local)
    # Running again, in Python this time, finds both complete and redoes nothing.
    again = convert_screen(urls, out, storage_options=given)
    assert not again.failed and all(result.already_complete for result in again.converted)
    assert str(again.out) == out


def no_credentials(tmp_path: Path) -> dict[str, str]:
    """An environment in which botocore finds no credentials anywhere."""
    return {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


#: Each failure at a URL: the command, which side is wrong, how, and what its one line says.
URL_ERRORS = [
    ("inspect", "plate", "no bucket", "does not exist"),
    ("inspect", "plate", "no plate", "is not a plate platekit can read"),
    ("inspect", "plate", "no credentials", "no credentials for 's3://"),
    ("convert", "plate", "no bucket", "does not exist"),
    ("convert", "plate", "no plate", "is not a plate platekit can read"),
    ("convert", "plate", "no credentials", "no credentials for 's3://"),
    ("convert", "output", "no bucket", "the bucket 'no-such-bucket-"),
    ("convert", "output", "no credentials", "no credentials for 's3://"),
    ("screen", "output", "no bucket", "the bucket 'no-such-bucket-"),
    ("screen", "output", "no credentials", "no credentials for 's3://"),
]


@pytest.mark.parametrize(("command", "side", "wrong", "said"), URL_ERRORS)
def test_each_error_at_a_url_is_one_line_and_writes_nothing(
    command: str, side: str, wrong: str, said: str, tmp_path: Path, s3: dict[str, str]
) -> None:
    folder = write_plate("imagexpress", tmp_path / "Plate1")
    other = write_plate("imagexpress", tmp_path / "Plate2")
    nothing = tmp_path / "notaplate"
    nothing.mkdir()
    (nothing / "readme.txt").write_text("no plate here")
    plate = (
        {
            "no bucket": f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/plate",
            "no plate": upload(nothing, s3),
            "no credentials": upload(folder, s3),
        }[wrong]
        if side == "plate"
        else str(folder)
    )
    bucket = f"no-such-bucket-{uuid.uuid4().hex[:8]}" if wrong == "no bucket" else new_bucket(s3)
    out = {
        "inspect": [],
        "convert": [f"s3://{bucket}/out.zarr" if side == "output" else str(tmp_path / "o.zarr")],
        "screen": [str(other), f"s3://{bucket}/screen"],
    }[command]
    args = ["inspect" if command == "inspect" else "convert", plate, *out]
    env = no_credentials(tmp_path) if wrong == "no credentials" else {}
    done = run_cli(*args, "--storage-option", f"endpoint_url={s3['endpoint_url']}", env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("platekit: ") and said in done.stderr, done.stderr
    # It names the value that is wrong, and nothing was written anywhere.
    assert (plate if side == "plate" else f"s3://{bucket}/") in done.stderr, done.stderr
    assert not (tmp_path / "o.zarr").exists()
    fs = filesystem(s3)
    fs.invalidate_cache()
    assert not fs.exists(bucket) if wrong == "no bucket" else fs.find(bucket) == []


#: URLs refused before any request: (arguments, with PLATE for a local plate; what is said).
URL_MISTAKES = [
    (["inspect", "s3://"], "'s3://' names no bucket or folder"),
    (["convert", "s3:///", "OUT"], "'s3:///' names no bucket or folder"),
    (["convert", "PLATE", "s3://"], "the output 's3://' names no bucket or folder"),
    (["inspect", "s3://a:b/plate"], 'Invalid bucket name "a:b"'),
    (["convert", "PLATE", "s3://a:b/out.zarr"], 'Invalid bucket name "a:b"'),
    (["inspect", "nosuch://x/plate"], "no fsspec filesystem for the protocol 'nosuch'"),
]


@pytest.mark.parametrize(("args", "said"), URL_MISTAKES)
def test_a_url_no_store_could_take_is_one_line(
    args: list[str], said: str, tmp_path: Path, s3: dict[str, str]
) -> None:
    plate = str(write_plate("imagexpress", tmp_path / "Plate1"))
    out = str(tmp_path / "o.zarr")
    given = [{"PLATE": plate, "OUT": out}.get(arg, arg) for arg in args]
    done = run_cli(*given, "--storage-option", f"endpoint_url={s3['endpoint_url']}")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and said in done.stderr, done.stderr
    assert not (tmp_path / "o.zarr").exists()


def test_an_output_url_whose_protocol_is_in_capitals_is_written_at_its_lower_case_url(
    tmp_path: Path, s3: dict[str, str]
) -> None:
    from platekit.microscopes import convert

    plate = open_plate(write_plate("imagexpress", tmp_path / "Plate1"))
    bucket = new_bucket(s3)
    result = convert(plate, f"S3://{bucket}/plate.zarr", storage_options=s3)
    assert str(result.out) == f"s3://{bucket}/plate.zarr"
    assert open_plate(f"s3://{bucket}/plate.zarr", storage_options=s3).metadata.wells == (
        plate.metadata.wells
    )


def test_a_secret_given_as_a_storage_option_appears_in_no_output_error_or_log(
    tmp_path: Path, s3: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import subprocess
    import sys

    secret = f"secret-{uuid.uuid4().hex}"
    key = f"keyid-{uuid.uuid4().hex}"
    # Only the options carry credentials: none in the environment or an AWS file.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    endpoint = f"endpoint_url={s3['endpoint_url']}"
    given = ["--storage-option", endpoint, "--storage-option", f"key={key}"]
    given += ["--storage-option", f"secret={secret}"]
    options = {**s3, "key": key, "secret": secret}
    folder = write_plate("imagexpress", tmp_path / "Plate1", wells=["A01", "B02"])
    nothing = tmp_path / "notaplate"
    nothing.mkdir()
    (nothing / "readme.txt").write_text("no plate here")
    url, no_plate = upload(folder, options), upload(nothing, options)
    bucket = new_bucket(options)
    out = f"s3://{bucket}/plate.zarr"
    held = f"s3://{bucket}/held.zarr"
    filesystem(options).pipe_file(
        f"{held}/.platekit-lock",
        json.dumps({"run": "r", "host": "elsewhere", "pid": 1, "started": "then"}).encode(),
    )
    missing = "s3://no-such-bucket-secretless"
    runs = [
        (["inspect", url, *given], 0),
        (["inspect", f"{missing}/plate", *given], 1),
        (["inspect", no_plate, *given], 1),
        (["convert", url, out, *given], 0),
        (["convert", url, out, *given], 0),  # complete already
        (["convert", str(folder), out, *given], 1),  # another conversion is there
        (["convert", url, f"{missing}/o.zarr", *given], 1),
        (["convert", f"{missing}/plate", str(tmp_path / "o.zarr"), *given], 1),
        (["convert", no_plate, str(tmp_path / "o.zarr"), *given], 1),
        (["convert", url, f"{url}/inside.zarr", *given], 1),
        (["convert", url, held, *given], 1),  # another run holds the lock
        (["convert", url, no_plate, f"s3://{bucket}/screen", *given], 1),  # one plate fails
        # A secret without its key id: no usable credentials.
        (
            [
                "convert",
                url,
                out,
                "--storage-option",
                endpoint,
                "--storage-option",
                f"secret={secret}",
            ],
            1,
        ),
        # An endpoint that does not answer.
        (
            [
                "inspect",
                url,
                "--storage-option",
                "endpoint_url=http://127.0.0.1:1",
                "--storage-option",
                f"key={key}",
                "--storage-option",
                f"secret={secret}",
            ],
            1,
        ),
    ]
    # Every logger of every library at DEBUG, to stderr, as a user chasing a problem would.
    code = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
        "from platekit.registry._cli import main\n"
        "sys.exit(main())\n"
    )
    said = []
    for args, expected in runs:
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == expected, (args, done.stderr[-2000:])
        said.append(done.stdout + done.stderr)
    assert any("is not a plate platekit can read" in text for text in said)
    for text in said:
        assert secret not in text
        # The key id (not a secret) is only in botocore's own DEBUG log of each signed request.
        shown = [line for line in text.splitlines() if key in line]
        assert all(line.startswith("DEBUG:botocore.") for line in shown), shown[:3]
    # Nor in anything written: every object in the bucket, every local file of the test.
    fs = filesystem(options)
    fs.invalidate_cache()
    written = fs.find(bucket)
    assert any(name.endswith("zarr.json") for name in written)
    for name in written:
        data = fs.cat_file(name)
        assert secret.encode() not in data and key.encode() not in data, name
    for file in (p for p in tmp_path.rglob("*") if p.is_file()):
        data = file.read_bytes()
        assert secret.encode() not in data and key.encode() not in data, file
