"""convert(..., stream_to=...): wells shown as they are written, never holding the conversion."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from platekit.microscopes import _stream_wells, convert, open_plate
from platekit.microscopes.testing import write_plate

WELLS = ["A01", "A02", "A03", "B01", "B02", "B03", "C01", "C02", "C03", "D01"]
# How long the test lets a held-back sender wait before it fails the test instead of hanging.
HOLD_SECONDS = 30


class _Sender:
    """Records what would be sent; its first send waits until ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: dict[str, np.ndarray] = {}
        self.closed = False

    def save_batch(self, items: list[Any], paths: list[str], *, overwrite: bool) -> None:
        assert overwrite
        if not self.sent and not self.release.wait(HOLD_SECONDS):
            raise TimeoutError("the test never released the sender")
        self.sent.update(zip(paths, items, strict=True))

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def sender(monkeypatch: pytest.MonkeyPatch) -> _Sender:
    fake = _Sender()
    monkeypatch.setattr(_stream_wells, "_sender", lambda address: fake)
    return fake


def test_each_well_is_sent_as_its_fields_and_channels(sender: _Sender, tmp_path: Path) -> None:
    sender.release.set()
    source = write_plate(
        "imagexpress", tmp_path / "p", wells=["A01", "B03"], sites=2, channels=2, z=3, shape=(8, 6)
    )
    convert(source, tmp_path / "out.zarr", stream_to="tcp://127.0.0.1:1")
    plate = open_plate(source)
    names = [channel.name for channel in plate.metadata.channels.values()]
    assert sorted(sender.sent) == sorted(
        f"{well}/field{site}/{name}" for well in ("A01", "B03") for site in (1, 2) for name in names
    )
    stack = sender.sent[f"B03/field2/{names[1]}"]
    assert stack.shape == (3, 8, 6)
    for z in range(3):
        np.testing.assert_array_equal(stack[z], plate.read("B03", 2, 2, z + 1))
    assert sender.closed


def test_a_viewer_that_falls_behind_drops_wells_and_says_so_once(
    sender: _Sender, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = write_plate("imagexpress", tmp_path / "p", wells=WELLS, shape=(8, 8))
    released_after: list[int] = []

    def progress(state: Any) -> None:
        # The first well's send is held until every well is written: the conversion ran on.
        if state.wells_done == state.wells_total and not released_after:
            released_after.append(state.wells_done)
            sender.release.set()

    with caplog.at_level(logging.WARNING, logger="platekit.microscopes"):
        result = convert(source, tmp_path / "out.zarr", progress=progress, stream_to="tcp://x:1")
    assert result.wells_converted == len(WELLS)
    assert released_after == [len(WELLS)]
    shown = {path.split("/")[0] for path in sender.sent}
    # The first well (its send was held), then only the newest BACKLOG of those that waited.
    assert {WELLS[0], *WELLS[-_stream_wells.BACKLOG :]} <= shown
    assert len(shown) < len(WELLS)
    warnings = [r for r in caplog.records if "more slowly" in r.getMessage()]
    assert len(warnings) == 1
    assert any(well in warnings[0].getMessage() for well in set(WELLS) - shown)


def test_without_a_streaming_backend_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platekit.storage import BackendRegistry

    class _Without:
        def __getitem__(self, name: str) -> Any:
            raise KeyError(name)

    monkeypatch.setattr(BackendRegistry, "classes", property(lambda self: _Without()))
    source = write_plate("imagexpress", tmp_path / "p", wells=["A01"], shape=(8, 8))
    with pytest.raises(KeyError, match="platekit-zmq"):
        convert(source, tmp_path / "out.zarr", stream_to="tcp://127.0.0.1:1")
    assert not (tmp_path / "out.zarr").exists()


def test_a_field_larger_than_the_preview_is_sent_as_every_nth_pixel(
    sender: _Sender, tmp_path: Path
) -> None:
    sender.release.set()
    side = _stream_wells.PREVIEW_SIDE * 2 + 6  # three times too large once rounded up
    source = write_plate("imagexpress", tmp_path / "p", wells=["A01"], shape=(side, 40))
    convert(source, tmp_path / "out.zarr", stream_to="tcp://127.0.0.1:1")
    (sent,) = sender.sent.values()
    expected = open_plate(source).read("A01")[::3, ::3]
    assert sent.shape == expected.shape
    np.testing.assert_array_equal(sent, expected)


def test_convert_stream_to_on_the_command_line(sender: _Sender, tmp_path: Path) -> None:
    from platekit.registry._cli import main

    sender.release.set()
    source = write_plate("imagexpress", tmp_path / "p", wells=["A01", "B03"], shape=(8, 8))
    out = tmp_path / "out.zarr"
    assert main(["convert", str(source), str(out), "--stream-to", "tcp://127.0.0.1:1", "-q"]) == 0
    assert {path.split("/")[0] for path in sender.sent} == {"A01", "B03"}


def test_an_address_that_is_no_address_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from platekit.registry._cli import main

    source = write_plate("imagexpress", tmp_path / "p", wells=["A01"], shape=(8, 8))
    out = tmp_path / "out.zarr"
    assert main(["convert", str(source), str(out), "--stream-to", "localhost", "-q"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "'localhost'" in error[0] and "platekit view" in error[0]
    assert not out.exists()


def test_stream_to_with_many_plates_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from platekit.registry._cli import main

    plates = [write_plate("imagexpress", tmp_path / name, wells=["A01"]) for name in ("p1", "p2")]
    arguments = ["convert", *map(str, plates), str(tmp_path / "out"), "--stream-to", "tcp://h:1"]
    assert main(arguments) == 1
    assert "one PLATE" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_cancelled_conversion_does_not_wait_for_the_viewer(
    sender: _Sender, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from platekit.microscopes import ConversionCancelled

    source = write_plate("imagexpress", tmp_path / "p", wells=WELLS[:4], shape=(8, 8))
    cancel = threading.Event()

    def progress(state: Any) -> None:
        if state.wells_done >= 2:
            cancel.set()

    with (
        caplog.at_level(logging.WARNING, logger="platekit.microscopes"),
        pytest.raises(ConversionCancelled),
    ):
        convert(
            source, tmp_path / "out.zarr", progress=progress, cancel=cancel, stream_to="tcp://x:1"
        )
    # The first well's send is still held: had the end waited for it, it would have said so.
    assert not sender.release.is_set() and not sender.sent
    assert not [r for r in caplog.records if "last wells" in r.getMessage()]
    sender.release.set()
