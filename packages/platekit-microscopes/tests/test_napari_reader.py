"""The napari reader, through npe2's own plugin manager: the layers a plate opens as."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from platekit.microscopes import PlaneKey, open_plate
from platekit.microscopes.testing import expected_pixels, write_plate, writers

pytest.importorskip("dask.array")
with warnings.catch_warnings():
    # npe2's pydantic models use options pydantic 2 deprecates; not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    npe2 = pytest.importorskip("npe2")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:npe2.*")

SHAPE = (12, 20)


@pytest.fixture
def plugins() -> object:
    manager = npe2.PluginManager.instance()
    manager.discover()
    assert "platekit-microscopes" in {manifest.name for manifest in manager.iter_manifests()}
    return manager


def _read(path: Path) -> list[tuple[object, dict[str, object], str]]:
    layers = npe2.read([str(path)], stack=False, plugin_name="platekit-microscopes")
    return [tuple(layer) for layer in layers]  # type: ignore[misc]


@pytest.mark.parametrize("kind", writers())
def test_a_plate_opens_as_one_lazy_layer_per_channel(
    kind: str, plugins: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_plate(
        kind, tmp_path / kind, wells=["A01", "B03"], sites=2, channels=2, z=2, shape=SHAPE
    )
    plate = open_plate(folder)
    reads: list[str] = []
    original = type(plate.handler).read_plane

    def counted(handler, path, address):  # type: ignore[no-untyped-def]
        reads.append(address)
        return original(handler, path, address)

    monkeypatch.setattr(type(plate.handler), "read_plane", counted)
    layers = _read(folder)
    names = [channel.name for channel in plate.metadata.channels.values()]
    assert [options["name"] for _, options, _ in layers] == names
    assert {kind for _, _, kind in layers} == {"image"}
    assert reads == []  # opening reads metadata only
    data, options, _ = layers[1]
    assert data.shape == (2, 2, 1, 2, *SHAPE)  # type: ignore[attr-defined]
    assert options["axis_labels"] == ("well", "field", "t", "z", "y", "x")
    assert options["metadata"]["wells"] == ["A01", "B03"]  # type: ignore[index]
    assert options["scale"][-2:] == (pytest.approx(0.65), pytest.approx(0.65))  # type: ignore[index]
    assert options["scale"][3] == pytest.approx(2.0)  # type: ignore[index]
    assert options["contrast_limits"] == [0, 65535]
    # B03, field 2, z 2 of the second channel: one plane read, the plate's pixels.
    plane = np.asarray(data[1, 1, 0, 1])  # type: ignore[index]
    np.testing.assert_array_equal(plane, expected_pixels(PlaneKey("B03", 2, 2, 2, 1), SHAPE))
    if kind != "omezarr":
        assert len(reads) == 1


def test_a_real_export_opens_in_its_channels_colours(
    plugins: object, cellvoyager_exports: Path
) -> None:
    folder = cellvoyager_exports / "CV8000-Minimal-DataSet-2C-3W-4S-FP2-stack"
    plate = open_plate(folder)
    channels = list(plate.metadata.channels.values())
    assert any(channel.color for channel in channels)
    layers = _read(folder)
    assert [options["name"] for _, options, _ in layers] == [channel.name for channel in channels]
    for (data, options, _), channel in zip(layers, channels, strict=True):
        if channel.color:
            assert options["colormap"] == "#" + channel.color.lower()
        key = min(key for key, _ in plate.planes() if key.channel == channel.id)
        position = (plate.metadata.wells.index(key.well), plate.metadata.sites.index(key.site))
        plane = np.asarray(data[(*position, key.timepoint - 1, key.z_index - 1)])  # type: ignore[index]
        np.testing.assert_array_equal(plane, plate.read_plane(key))


def test_a_folder_that_is_no_plate_is_left_to_other_readers(
    plugins: object, tmp_path: Path
) -> None:
    from platekit.microscopes.napari import get_reader

    (tmp_path / "notes.txt").write_text("not a plate")
    assert get_reader(str(tmp_path)) is None
    assert get_reader(str(tmp_path / "notes.txt")) is None
    with pytest.raises(ValueError, match="platekit-microscopes"):
        npe2.read([str(tmp_path)], stack=False, plugin_name="platekit-microscopes")
