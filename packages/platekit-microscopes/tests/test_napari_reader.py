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
    assert "contrast_limits" not in options  # napari fits them to the plane it shows
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


# Opens a plate in a real napari viewer, counting the planes read, and reports as JSON.
_IN_NAPARI = """\
import json, sys
import numpy as np
import napari
from qtpy.QtWidgets import QApplication
from platekit.microscopes import open_plate

folder = sys.argv[1]
handler = type(open_plate(folder).handler)
reads = []
original = handler.read_plane
def counted(self, path, address):
    reads.append(address)
    return original(self, path, address)
handler.read_plane = counted

viewer = napari.Viewer(show=True)
layers = viewer.open(folder, plugin="platekit-microscopes")
for _ in range(20):
    QApplication.instance().processEvents()
shot = viewer.screenshot(canvas_only=True, flash=False)
print(json.dumps({
    "names": [layer.name for layer in layers],
    "shapes": [list(layer.data.shape) for layer in layers],
    "colormaps": [layer.colormap.colors[-1][:3].round(3).tolist() for layer in layers],
    "reads": len(reads),
    "limits": [list(map(float, layer.contrast_limits)) for layer in layers],
    "lit": int((shot[..., :3].max(axis=2) > 30).sum()),
}))
viewer.close()
"""


@pytest.mark.slow
def test_a_real_napari_viewer_opens_the_plate_reading_only_the_planes_shown(
    tmp_path: Path,
) -> None:
    import importlib.util
    import json
    import os
    import shutil
    import subprocess
    import sys

    if shutil.which("xvfb-run") is None or shutil.which("Xvfb") is None:
        pytest.skip("no display stack for napari: Xvfb is not installed")
    for module in ("napari", "qtpy"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"no display stack for napari: {module} is not installed")
    folder = write_plate(
        "imagexpress", tmp_path / "p", wells=["A01", "B03"], sites=2, channels=2, z=3, shape=SHAPE
    )
    env = dict(os.environ, LIBGL_ALWAYS_SOFTWARE="1")
    env.pop("QT_QPA_PLATFORM", None)
    script = [sys.executable, "-c", _IN_NAPARI, str(folder)]
    done = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1024x768x24", *script],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    plate = open_plate(folder)
    assert report["names"] == [channel.name for channel in plate.metadata.channels.values()]
    assert report["shapes"] == [[2, 2, 1, 3, *SHAPE]] * 2
    # Only the plane on screen of each channel (napari reads it for its contrast, then to
    # draw it), of the 24 planes the plate holds.
    assert 2 <= report["reads"] <= 4, report
    for low, high in report["limits"]:
        assert 0 < low < high <= 4095  # fitted to the synthetic plate's 12-bit planes
    assert report["lit"] > 0, report
    assert report["colormaps"] == [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]  # green, magenta
