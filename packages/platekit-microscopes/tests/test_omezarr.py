"""The OME-Zarr HCS handler: NGFF 0.5 on Zarr v3 and 0.4 on Zarr v2.

Plates come from platekit's synthetic writer (checked against ome-zarr-models)
and from ome-zarr-py itself, so the reader is held to the format, not to one
writer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from platekit.microscopes import (
    MICROSCOPE_HANDLERS,
    PlaneKey,
    PlateFormatError,
    UnknownPlateError,
    detect_microscope,
    open_plate,
)
from platekit.microscopes.testing import expected_pixels, write_plate
from platekit.microscopes.testing.contract import HandlerContract


def _field_planes(well: str, site: int, channels: int) -> list[PlaneKey]:
    return [PlaneKey(well, site, channel) for channel in range(1, channels + 1)]


class _OmeZarrContract(HandlerContract):
    """The contract, and what only OME-Zarr does, for one NGFF version."""

    kind = "omezarr"
    planes_are_files = False
    # OME-Zarr lists wells and fields, never planes: what can be missing is a whole
    # field (or well), tested below in place of the contract's plane-by-plane test.
    lists_missing_planes = False
    ngff = "0.5"

    def write(self, folder: Path, **spec: Any) -> Path:
        return write_plate("omezarr", folder, ngff=self.ngff, **spec)

    # -- the metadata files, as this version spells them --------------------------------

    def meta_file(self, group: Path) -> Path:
        return group / ("zarr.json" if self.ngff == "0.5" else ".zattrs")

    def array_file(self, array: Path) -> Path:
        return array / ("zarr.json" if self.ngff == "0.5" else ".zarray")

    def edit(self, group: Path, change: Any) -> None:
        """Apply ``change`` to the NGFF keys of ``group`` (``attributes.ome`` or ``.zattrs``)."""
        file = self.meta_file(group)
        document = json.loads(file.read_text())
        change(document["attributes"]["ome"] if self.ngff == "0.5" else document)
        file.write_text(json.dumps(document, indent=2))

    def version_holder(self, keys: dict[str, Any], key: str) -> dict[str, Any]:
        """Where the version is: beside the keys in 0.5, inside ``key`` in 0.4."""
        if self.ngff == "0.5":
            return keys
        holder = keys[key]
        return holder[0] if isinstance(holder, list) else holder  # type: ignore[no-any-return]

    # -- missing wells, fields and arrays ----------------------------------------------

    def test_missing_fields_are_reported_not_invented(self, tmp_path: Path) -> None:
        gone = _field_planes("A01", 2, 2) + _field_planes("A02", 1, 2)
        folder = self.write(
            tmp_path / "Gappy", wells=["A01", "A02"], sites=2, channels=2, missing=gone
        )
        assert not (folder / "A" / "1" / "1").exists()
        plate = open_plate(folder)
        assert plate.metadata.sites == [1, 2]
        assert plate.missing() == sorted(gone)
        present = {key for key, _ in plate.planes()}
        assert present == {
            PlaneKey("A01", 1, 1),
            PlaneKey("A01", 1, 2),
            PlaneKey("A02", 2, 1),
            PlaneKey("A02", 2, 2),
        }
        with pytest.raises(KeyError, match="missing"):
            plate.read("A01", site=2, channel=1)
        np.testing.assert_array_equal(
            plate.read("A02", site=2, channel=2), expected_pixels(PlaneKey("A02", 2, 2))
        )

    def test_a_missing_well_is_listed_with_its_planes(self, tmp_path: Path) -> None:
        gone = _field_planes("B03", 1, 2) + _field_planes("B03", 2, 2)
        folder = self.write(
            tmp_path / "Plate", wells=["A01", "B03"], sites=2, channels=2, missing=gone
        )
        assert not (folder / "B" / "3").exists()
        plate = open_plate(folder)
        assert plate.metadata.wells == ["A01", "B03"]
        assert plate.missing() == sorted(gone)
        assert {key.well for key, _ in plate.planes()} == {"A01"}

    def test_a_field_without_its_array_is_missing(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01"], sites=2, channels=2)
        shutil.rmtree(folder / "A" / "1" / "0" / "0")
        plate = open_plate(folder)
        assert plate.missing() == _field_planes("A01", 1, 2)
        assert [key for key, _ in plate.planes()] == _field_planes("A01", 2, 2)

    def test_planes_missing_inside_a_field_read_as_fill(self, tmp_path: Path) -> None:
        # An array cannot say a plane was never written: the writer leaves it as fill.
        folder = self.write(
            tmp_path / "Plate", wells=["A01"], channels=2, missing=[PlaneKey("A01", 1, 2)]
        )
        plate = open_plate(folder)
        assert plate.missing() == []
        assert not plate.read("A01", channel=2).any()
        np.testing.assert_array_equal(plate.read("A01"), expected_pixels(PlaneKey("A01")))

    def test_an_array_removed_after_opening_is_named(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01"])
        plate = open_plate(folder)
        shutil.rmtree(folder / "A" / "1" / "0" / "0")
        with pytest.raises(FileNotFoundError, match="A/1/0/0"):
            plate.read("A01")

    # -- what the metadata says --------------------------------------------------------

    def test_names_paths_colours_and_padded_columns(self, tmp_path: Path) -> None:
        folder = self.write(
            tmp_path / "Plate",
            wells=["A01", "B03"],
            sites=2,
            channels=2,
            column_names="01",
            field_paths=["fovA", "fovB"],
            channel_names=["DAPI", "GFP"],
        )
        assert (folder / "B" / "03" / "fovB").is_dir()
        plate = open_plate(folder)
        meta = plate.metadata
        assert meta.name == "Plate"
        assert meta.wells == ["A01", "B03"]
        assert meta.sites == [1, 2]
        assert {n: (c.name, c.color) for n, c in meta.channels.items()} == {
            1: ("DAPI", "0000FF"),
            2: ("GFP", "00FF00"),
        }
        key = PlaneKey("B03", 2, 2)
        assert plate.address(key) == "B/03/fovB/0#0,1,0"  # t, c, z
        np.testing.assert_array_equal(plate.read_plane(key), expected_pixels(key))

    @pytest.mark.parametrize(
        ("axes", "z"), [("yx", 1), ("cyx", 1), ("czyx", 3), ("tcyx", 1), ("zyx", 2)]
    )
    def test_any_axes_ending_in_y_and_x(self, tmp_path: Path, axes: str, z: int) -> None:
        channels = 2 if "c" in axes else 1
        t = 2 if "t" in axes else 1
        folder = self.write(
            tmp_path / "Plate", wells=["A01"], channels=channels, z=z, t=t, axes=axes, shape=(8, 12)
        )
        plate = open_plate(folder)
        meta = plate.metadata
        assert (len(meta.channels), meta.z_count, meta.t_count) == (channels, z, t)
        assert meta.z_step_um == (2.0 if "z" in axes else None)
        keys = [key for key, _ in plate.planes()]
        assert len(keys) == channels * z * t
        for key in keys:
            np.testing.assert_array_equal(plate.read_plane(key), expected_pixels(key, (8, 12)))

    @pytest.mark.parametrize(
        ("unit", "pixel_size"), [("nanometer", 0.5), ("millimeter", 0.5), (None, None)]
    )
    def test_units_are_converted_to_micrometres(
        self, tmp_path: Path, unit: str | None, pixel_size: float | None
    ) -> None:
        folder = self.write(
            tmp_path / "Plate", wells=["A01"], z=2, unit=unit, pixel_size_um=0.5, z_step_um=1.5
        )
        meta = open_plate(folder).metadata
        if pixel_size is None:
            assert (meta.pixel_size_um, meta.z_step_um) == (None, None)
        else:
            assert meta.pixel_size_um == pytest.approx(pixel_size)
            assert meta.z_step_um == pytest.approx(1.5)

    def test_pyramid_levels_read_level_zero(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01"], levels=3, shape=(20, 30))
        assert self.array_file(folder / "A" / "1" / "0" / "2").is_file()
        plate = open_plate(folder)
        assert plate.metadata.image_shape == (20, 30)
        assert plate.metadata.pixel_size_um == pytest.approx(0.65)
        np.testing.assert_array_equal(plate.read("A01"), expected_pixels(PlaneKey("A01"), (20, 30)))

    def test_a_well_with_fewer_fields_misses_the_rest(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01", "A02"], sites=2)
        self.edit(folder / "A" / "2", lambda keys: keys["well"]["images"].pop())
        plate = open_plate(folder)
        assert plate.metadata.sites == [1, 2]
        assert plate.missing() == [PlaneKey("A02", 2)]

    def test_channels_without_omero_are_numbered(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01"], channels=2)
        self.edit(folder / "A" / "1" / "0", lambda keys: keys.pop("omero"))
        channels = open_plate(folder).metadata.channels
        assert {n: (c.name, c.color) for n, c in channels.items()} == {
            1: ("Channel 1", None),
            2: ("Channel 2", None),
        }

    def test_axes_are_known_by_their_types_under_other_names(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01"], channels=2, z=3, t=2)

        def rename(keys: dict[str, Any]) -> None:
            axes = keys["multiscales"][0]["axes"]
            for axis, name in zip(axes, ["time", "ch", "depth", "height", "width"], strict=True):
                axis["name"] = name

        self.edit(folder / "A" / "1" / "0", rename)
        meta = open_plate(folder).metadata
        assert (len(meta.channels), meta.z_count, meta.t_count) == (2, 3, 2)
        assert meta.pixel_size_um == pytest.approx(0.65)

    def test_a_sparse_plate_places_wells_by_their_row_and_column_names(
        self, tmp_path: Path
    ) -> None:
        folder = self.write(tmp_path / "Plate", wells=["C05", "D07"])

        def sparse(keys: dict[str, Any]) -> None:
            plate = keys["plate"]
            plate["rows"] = [{"name": "C"}, {"name": "D"}]
            plate["columns"] = [{"name": "5"}, {"name": "7"}]
            for well, (row, column) in zip(plate["wells"], [(0, 0), (1, 1)], strict=True):
                well.update(rowIndex=row, columnIndex=column)

        self.edit(folder, sparse)
        meta = open_plate(folder).metadata
        assert meta.wells == ["C05", "D07"]
        assert (meta.rows, meta.columns) == (4, 7)

    def test_the_folder_names_a_plate_without_a_name(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Screen7.ome.zarr", wells=["A01"], name="Screen 7")
        assert open_plate(folder).metadata.name == "Screen 7"
        self.edit(folder, lambda keys: keys["plate"].pop("name"))
        assert open_plate(folder).metadata.name == "Screen7"

    # -- what is refused ---------------------------------------------------------------

    def test_malformed_json_names_the_file_and_line(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01", "A02"])
        well_file = self.meta_file(folder / "A" / "2")
        well_file.write_text('{\n  "well": {\n    "images": [\n  }\n}\n')
        with pytest.raises(PlateFormatError) as caught:
            open_plate(folder)
        assert caught.value.path == str(well_file)
        assert caught.value.line == 4
        root_file = self.meta_file(folder)
        root_file.write_text('{\n  "plate": ,\n}')
        # Still recognised, so the user hears about the broken file rather than "unknown".
        assert detect_microscope(folder).name == "omezarr"
        with pytest.raises(PlateFormatError, match=r"line 2.*not valid JSON") as caught:
            open_plate(folder)
        assert caught.value.path == str(root_file)

    def test_other_ngff_versions_are_refused(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01"])
        self.edit(folder, lambda keys: self.version_holder(keys, "plate").update(version="0.3"))
        with pytest.raises(PlateFormatError, match=r"'0\.3'.*0\.4.*0\.5"):
            open_plate(folder)

    def test_another_version_inside_a_field_is_refused(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01"])
        field = folder / "A" / "1" / "0"
        self.edit(
            field, lambda keys: self.version_holder(keys, "multiscales").update(version="0.6")
        )
        with pytest.raises(PlateFormatError, match=r"'0\.6'") as caught:
            open_plate(folder)
        assert caught.value.path == str(self.meta_file(field))

    def test_a_single_image_is_not_a_plate(self, tmp_path: Path) -> None:
        plate = self.write(tmp_path / "Plate", wells=["A01"])
        image = shutil.copytree(plate / "A" / "1" / "0", tmp_path / "image.zarr")
        handler = MICROSCOPE_HANDLERS["omezarr"]()
        assert handler.detect(image) is None
        # Said the same whether or not the format was named, in place of what each handler
        # looked for.
        for microscope in ("auto", "omezarr"):
            with pytest.raises(UnknownPlateError, match="is an OME-Zarr image") as caught:
                open_plate(image, microscope=microscope)
            assert "looked for" not in str(caught.value)
        with pytest.raises(UnknownPlateError, match="is an OME-Zarr image"):
            detect_microscope(image)
        with pytest.raises(UnknownPlateError, match="one well of an OME-Zarr plate"):
            open_plate(plate / "A" / "1", microscope="omezarr")
        group = tmp_path / "group.zarr"
        zarr.open_group(group, mode="w", zarr_format=3)
        with pytest.raises(UnknownPlateError, match="a Zarr group without OME-NGFF 'plate'"):
            detect_microscope(group)
        empty = tmp_path / "empty"
        empty.mkdir()
        with pytest.raises(UnknownPlateError, match="omezarr: looked for"):
            detect_microscope(empty)
        with pytest.raises(FileNotFoundError, match=r"neither a zarr\.json"):
            open_plate(empty, microscope="omezarr")

    def test_paths_that_leave_the_plate_are_refused(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01"])
        self.edit(folder, lambda keys: keys["plate"]["wells"][0].update(path="../A"))
        with pytest.raises(PlateFormatError, match="not a path inside the plate"):
            open_plate(folder)

    def test_an_axis_platekit_cannot_place_is_refused(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01"], axes="cyx", channels=2)
        field = folder / "A" / "1" / "0"

        def rename(keys: dict[str, Any]) -> None:
            keys["multiscales"][0]["axes"][0] = {"name": "angle", "type": "angle"}

        self.edit(field, rename)
        with pytest.raises(PlateFormatError, match=r"'angle'.*2 entries"):
            open_plate(folder)

    def test_the_writer_refuses_axes_the_plate_does_not_fit(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="no z axis"):
            self.write(tmp_path / "Plate", wells=["A01"], z=2, axes="cyx")
        with pytest.raises(ValueError, match="then 'yx'"):
            self.write(tmp_path / "Plate", wells=["A01"], axes="xy")

    # -- independent checks ------------------------------------------------------------

    def test_the_synthetic_writer_passes_ome_zarr_models(self, tmp_path: Path) -> None:
        import zarr
        from ome_zarr_models import open_ome_zarr

        folder = self.write(
            tmp_path / "Plate",
            wells=["A01", "B03"],
            sites=2,
            channels=2,
            z=2,
            t=2,
            levels=2,
            shape=(24, 32),
        )
        models = pytest.importorskip(f"ome_zarr_models.v0{self.ngff[-1]}")
        with warnings.catch_warnings():
            # ome-zarr-models warns when a 0.5 plate has no version of its own, which
            # 0.5 moved up to attributes.ome; the files follow the specification there.
            warnings.filterwarnings("ignore", "'version' field not specified in plate")
            hcs = open_ome_zarr(zarr.open_group(folder, mode="r"), version=self.ngff)  # type: ignore[arg-type]
            assert isinstance(hcs, models.HCS)
            assert len(list(hcs.well_groups)) == 2
        for well in ("A/1", "B/3"):
            for field in ("0", "1"):
                image = models.Image.from_zarr(zarr.open_group(folder / well / field, mode="r"))
                assert len(image.ome_attributes.multiscales[0].datasets) == 2

    def test_a_plate_written_by_ome_zarr_py(self, tmp_path: Path) -> None:
        import zarr

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # ome_zarr's own import
            from ome_zarr import format as formats
            from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata
        fmt_class = getattr(formats, "FormatV05" if self.ngff == "0.5" else "FormatV04", None)
        if fmt_class is None:
            pytest.skip(f"the installed ome-zarr cannot write NGFF {self.ngff}")
        fmt = fmt_class()
        folder = tmp_path / "from_ome_zarr_py.zarr"
        root = zarr.open_group(folder, mode="w", zarr_format=fmt.zarr_format)
        write_plate_metadata(
            root, ["A", "B"], ["1", "2", "3"], ["A/1", "B/3"], fmt=fmt, name="made elsewhere"
        )
        shape = (2, 3, 16, 20)  # c, z, y, x
        window = {"min": 0, "max": 65535, "start": 0, "end": 4095}
        omero: Any = {
            "channels": [
                {"label": "DAPI", "color": "0000FF", "window": window},
                {"label": "GFP", "color": "00FF00", "window": window},
            ]
        }
        try:  # ome-zarr 0.21 and later take the block as ome-zarr-models' Omero, not a dict
            import ome_zarr.classes  # noqa: F401
            from ome_zarr_models.common.omero import Omero
        except ImportError:
            pass
        else:
            omero = Omero.model_validate(omero)
        for path, well in (("A/1", "A01"), ("B/3", "B03")):
            group = root.require_group(path)
            write_well_metadata(group, [{"path": "0"}, {"path": "1"}], fmt=fmt)
            for site in (1, 2):
                image = np.stack(
                    [
                        np.stack(
                            [
                                expected_pixels(PlaneKey(well, site, c, z), shape[2:])
                                for z in range(1, shape[1] + 1)
                            ]
                        )
                        for c in range(1, shape[0] + 1)
                    ]
                )
                write_image(
                    image,
                    group.require_group(str(site - 1)),
                    fmt=fmt,
                    axes="czyx",
                    scale_factors=(2,),
                    scale={"c": 1.0, "z": 1.5, "y": 0.25, "x": 0.25},
                    axes_units={"z": "micrometer", "y": "micrometer", "x": "micrometer"},
                    omero=omero,
                )
        plate = open_plate(folder)
        meta = plate.metadata
        assert plate.microscope == "omezarr"
        assert (meta.name, meta.rows, meta.columns) == ("made elsewhere", 2, 3)
        assert meta.wells == ["A01", "B03"]
        assert meta.sites == [1, 2]
        assert {n: c.name for n, c in meta.channels.items()} == {1: "DAPI", 2: "GFP"}
        assert (meta.z_count, meta.t_count, meta.image_shape) == (3, 1, (16, 20))
        assert meta.pixel_size_um == pytest.approx(0.25)
        assert meta.z_step_um == pytest.approx(1.5)
        keys = [key for key, _ in plate.planes()]
        assert len(keys) == 2 * 2 * 2 * 3
        assert plate.missing() == []
        for key in keys:
            np.testing.assert_array_equal(
                plate.read_plane(key), expected_pixels(key, shape[2:]), err_msg=str(key)
            )

    @pytest.mark.slow
    def test_detecting_and_scanning_do_not_import_zarr(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01", "B03"], sites=2, channels=2)
        code = (
            "import sys\n"
            "from platekit.microscopes import detect_microscope, open_plate\n"
            "assert detect_microscope(sys.argv[1]).name == 'omezarr'\n"
            "plate = open_plate(sys.argv[1])\n"
            "print(len(list(plate.planes())), 'zarr' in sys.modules)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(folder)],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["8", "False"]


class TestOmeZarr05(_OmeZarrContract):
    ngff = "0.5"

    def test_the_files_are_zarr_v3_with_ngff_0_5(self, plate_folder: Path) -> None:
        root = json.loads((plate_folder / "zarr.json").read_text())
        assert root["attributes"]["ome"]["version"] == "0.5"
        assert "version" not in root["attributes"]["ome"]["plate"]
        array = json.loads((plate_folder / "A" / "1" / "0" / "0" / "zarr.json").read_text())
        assert array["dimension_names"] == ["t", "c", "z", "y", "x"]
        assert not (plate_folder / ".zattrs").exists()


class TestOmeZarr04(_OmeZarrContract):
    ngff = "0.4"

    def test_the_files_are_zarr_v2_with_ngff_0_4(self, plate_folder: Path) -> None:
        root = json.loads((plate_folder / ".zattrs").read_text())
        assert root["plate"]["version"] == "0.4"
        array = json.loads((plate_folder / "A" / "1" / "0" / "0" / ".zarray").read_text())
        assert array["dimension_separator"] == "/"
        assert (plate_folder / ".zgroup").is_file()
        assert not (plate_folder / "zarr.json").exists()

    def test_a_zarr_v2_plate_saying_0_5_is_refused(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path / "Plate", wells=["A01"])
        self.edit(folder, lambda keys: keys["plate"].update(version="0.5"))
        with pytest.raises(PlateFormatError, match=r"'0\.5' in a Zarr v2 group"):
            open_plate(folder)
