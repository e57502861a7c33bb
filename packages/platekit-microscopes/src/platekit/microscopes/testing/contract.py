"""The microscope handler contract as a pytest suite, for platekit's handlers and yours.

Subclass :class:`HandlerContract` in a test module and say which format it is::

    from platekit.microscopes.testing.contract import HandlerContract

    class TestMyHandler(HandlerContract):
        kind = "my_microscope"               # the handler's _microscope_type

        def write(self, folder, **spec):     # a plate of this format, as write_plate takes it
            return write_my_plate(folder, **spec)

Every test then runs against the handler. The default :meth:`HandlerContract.write`
is :func:`platekit.microscopes.testing.write_plate` of ``kind``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from platekit.microscopes._handler import METADATA_HANDLERS, MICROSCOPE_HANDLERS
from platekit.microscopes._model import PlaneKey
from platekit.microscopes._plate import detect_microscope, open_plate
from platekit.microscopes.testing import expected_pixels, hash_tree, write_plate

__all__ = ["HandlerContract"]


class HandlerContract:
    """What every microscope handler must do; see ``platekit.microscopes.MicroscopeHandler``."""

    #: The handler's ``_microscope_type``.
    kind = ""
    #: Whether the format records the pixel size.
    records_pixel_size = True
    #: Whether the format's metadata can list a plane whose file is absent.
    lists_missing_planes = True
    #: Whether planes are files whose names the handler's parser reads.
    planes_are_files = True

    def write(self, folder: Path, **spec: Any) -> Path:
        """Write a plate of this format (``write_plate``'s arguments); return its folder."""
        return write_plate(self.kind, folder, **spec)

    # -- fixtures ------------------------------------------------------------------

    @pytest.fixture
    def spec(self) -> dict[str, Any]:
        return {
            "wells": ["A01", "A02", "B03"],
            "sites": 2,
            "channels": 2,
            "z": 2,
            "t": 2,
            "shape": (24, 32),
            "pixel_size_um": 0.5,
        }

    @pytest.fixture
    def plate_folder(self, tmp_path: Path, spec: dict[str, Any]) -> Path:
        return self.write(tmp_path / "Plate1", **spec)

    # -- detection -----------------------------------------------------------------

    def test_registered(self) -> None:
        assert self.kind in MICROSCOPE_HANDLERS
        handler = MICROSCOPE_HANDLERS[self.kind]
        assert METADATA_HANDLERS[self.kind] is handler.metadata_handler
        assert MICROSCOPE_HANDLERS.metadata(self.kind).get("looks_for")

    def test_detected(self, plate_folder: Path) -> None:
        assert detect_microscope(plate_folder).name == self.kind

    def test_not_detected_in_an_empty_folder(self, tmp_path: Path) -> None:
        handler = MICROSCOPE_HANDLERS[self.kind]()
        assert handler.detect(tmp_path) is None

    # -- metadata ------------------------------------------------------------------

    def test_counts(self, plate_folder: Path, spec: dict[str, Any]) -> None:
        meta = open_plate(plate_folder).metadata
        assert meta.microscope == self.kind
        assert meta.wells == spec["wells"]
        assert meta.sites == list(range(1, spec["sites"] + 1))
        assert sorted(meta.channels) == list(range(1, spec["channels"] + 1))
        assert (meta.z_count, meta.t_count) == (spec["z"], spec["t"])
        assert meta.image_shape in (None, spec["shape"])
        assert (meta.rows, meta.columns) == (8, 12)

    def test_pixel_size(self, plate_folder: Path, spec: dict[str, Any]) -> None:
        meta = open_plate(plate_folder).metadata
        if self.records_pixel_size:
            assert meta.pixel_size_um == pytest.approx(spec["pixel_size_um"], rel=1e-6)

    def test_metadata_queries_agree_with_read(self, plate_folder: Path) -> None:
        handler = MICROSCOPE_HANDLERS[self.kind]().metadata()
        meta = handler.read(plate_folder)
        assert handler.find_metadata_file(plate_folder).is_file()
        assert handler.grid(plate_folder) == meta.grid
        assert handler.pixel_size(plate_folder) == meta.pixel_size_um
        assert handler.channels(plate_folder) == {n: c.name for n, c in meta.channels.items()}

    # -- planes --------------------------------------------------------------------

    def test_every_plane_reads_its_pixels(self, plate_folder: Path, spec: dict[str, Any]) -> None:
        plate = open_plate(plate_folder)
        keys = [key for key, _ in plate.planes()]
        expected = sorted(
            PlaneKey(w, s, c, z, t)
            for w in spec["wells"]
            for s in range(1, spec["sites"] + 1)
            for c in range(1, spec["channels"] + 1)
            for z in range(1, spec["z"] + 1)
            for t in range(1, spec["t"] + 1)
        )
        assert keys == expected
        assert plate.missing() == []
        for key in keys:
            np.testing.assert_array_equal(
                plate.read_plane(key), expected_pixels(key, spec["shape"]), err_msg=str(key)
            )

    def test_read_by_components(self, plate_folder: Path, spec: dict[str, Any]) -> None:
        plate = open_plate(plate_folder)
        last = spec["wells"][-1]
        key = PlaneKey(last, spec["sites"], spec["channels"], spec["z"], spec["t"])
        # The well as a person types it: lower case, column unpadded.
        typed = last[0].lower() + str(int(last[1:]))
        np.testing.assert_array_equal(
            plate.read(typed, site=key.site, channel=key.channel, z=key.z_index, t=key.timepoint),
            expected_pixels(key, spec["shape"]),
        )
        with pytest.raises(KeyError, match="no plane"):
            plate.read("H12")

    def test_missing_planes_are_reported_not_invented(self, tmp_path: Path) -> None:
        if not self.lists_missing_planes:
            pytest.skip("this format's metadata does not list planes one by one")
        gone = [PlaneKey("A01", 1, 2, 1, 1), PlaneKey("A02", 2, 1, 1, 1)]
        folder = self.write(
            tmp_path / "Gappy", wells=["A01", "A02"], sites=2, channels=2, missing=gone
        )
        plate = open_plate(folder)
        assert plate.missing() == sorted(gone)
        present = {key for key, _ in plate.planes()}
        assert not present & set(gone)
        assert len(present) == 8 - 2
        with pytest.raises(KeyError, match="missing"):
            plate.read("A01", site=1, channel=2)

    def test_parser_round_trips_the_plate_file_names(self, plate_folder: Path) -> None:
        if not self.planes_are_files:
            pytest.skip("this format's planes are not files")
        handler = MICROSCOPE_HANDLERS[self.kind]()
        for key, address in open_plate(plate_folder).planes():
            name = os.path.basename(address)
            parsed = handler.parser.parse(name)
            assert parsed is not None, name
            assert handler.parser.format(parsed) == name
            assert parsed.well == key.well

    def test_the_source_is_never_modified(self, plate_folder: Path) -> None:
        before = hash_tree(plate_folder)
        plate = open_plate(plate_folder)
        for key, _ in plate.planes():
            plate.read_plane(key)
        assert hash_tree(plate_folder) == before
