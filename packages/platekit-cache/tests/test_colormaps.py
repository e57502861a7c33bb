"""create_colormap_enum: napari, else matplotlib, else a built-in list; cached per library."""

from __future__ import annotations

import logging
import pickle
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from platekit.cache import BUILTIN_COLORMAPS, ColormapBase, _colormaps, create_colormap_enum

RunPython = Callable[..., str]


class FakeLibrary:
    """Stands in for napari or matplotlib: a version and a producer that counts its calls."""

    def __init__(self, names: list[str], version: str = "1.0") -> None:
        self.names = names
        self.version = version
        self.calls = 0

    def produce(self) -> dict[str, str]:
        self.calls += 1
        return _colormaps._members(self.names)


@pytest.fixture
def no_viewer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_colormaps, "installed_version", lambda name: None)


@pytest.fixture
def fake_library(monkeypatch: pytest.MonkeyPatch) -> FakeLibrary:
    library = FakeLibrary(["viridis", "PiYG_r", "3d-view", "gist earth", "Gray", "gray"])
    monkeypatch.setattr(_colormaps, "_SOURCES", (("fakeviewer", library.produce),))
    monkeypatch.setattr(
        _colormaps,
        "installed_version",
        lambda name: library.version if name == "fakeviewer" else None,
    )
    return library


@pytest.mark.parametrize(
    ("colormap", "member"),
    [
        ("viridis", "VIRIDIS"),
        ("PiYG_r", "PIYG_R"),
        ("3d-view", "_3D_VIEW"),
        ("gist earth", "GIST_EARTH"),
        ("I Orange", "I_ORANGE"),
        ("bop blue", "BOP_BLUE"),
    ],
)
def test_member_names(colormap: str, member: str) -> None:
    assert _colormaps.member_name(colormap) == member


def test_builtin_list_when_no_viewer_is_installed(no_viewer: None) -> None:
    colormaps = create_colormap_enum()
    assert [m.value for m in colormaps] == list(BUILTIN_COLORMAPS)
    assert colormaps.GRAY.value == "gray"
    assert issubclass(colormaps, ColormapBase)


def test_library_colormaps_are_used_and_cached(fake_library: FakeLibrary) -> None:
    first = create_colormap_enum()
    second = create_colormap_enum()
    assert fake_library.calls == 1
    assert [m.name for m in second] == ["VIRIDIS", "PIYG_R", "_3D_VIEW", "GIST_EARTH", "GRAY"]
    assert second._3D_VIEW.value == "3d-view"
    # The first spelling wins when two names meet.
    assert first.GRAY.value == "Gray"


def test_a_new_library_version_rebuilds(fake_library: FakeLibrary) -> None:
    create_colormap_enum()
    fake_library.version = "1.1"
    fake_library.names.append("turbo")
    colormaps = create_colormap_enum()
    assert fake_library.calls == 2
    assert colormaps.TURBO.value == "turbo"


def test_enable_cache_false_asks_the_library_every_time(fake_library: FakeLibrary) -> None:
    create_colormap_enum(enable_cache=False)
    create_colormap_enum(enable_cache=False)
    assert fake_library.calls == 2


def test_a_library_that_fails_falls_back_to_the_next_source(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> dict[str, str]:
        raise ImportError("napari needs a Qt binding")

    monkeypatch.setattr(_colormaps, "_SOURCES", (("fakeviewer", broken),))
    monkeypatch.setattr(_colormaps, "installed_version", lambda name: "0.1")
    with caplog.at_level(logging.WARNING, logger="platekit.cache"):
        colormaps = create_colormap_enum()
    assert [m.value for m in colormaps] == list(BUILTIN_COLORMAPS)
    assert "fakeviewer is installed but its colormaps could not be read" in caplog.text


def test_from_name_accepts_library_and_member_spellings(fake_library: FakeLibrary) -> None:
    colormaps = create_colormap_enum()
    assert colormaps.from_name("PiYG_r") is colormaps.PIYG_R
    assert colormaps.from_name("PIYG_R") is colormaps.PIYG_R
    assert colormaps.from_name("gist earth") is colormaps.GIST_EARTH
    with pytest.raises(ValueError, match="did you mean 'viridis'"):
        colormaps.from_name("viridius")


def test_lazy_builds_on_first_use_without_the_cache(fake_library: FakeLibrary) -> None:
    colormaps = create_colormap_enum(lazy=True)
    assert fake_library.calls == 0
    assert "built on first use" in repr(colormaps)
    assert len(colormaps) == 5
    assert colormaps.VIRIDIS.value == "viridis"
    assert colormaps["GRAY"].value == "Gray"
    assert colormaps("viridis").name == "VIRIDIS"
    assert [m.name for m in colormaps][:1] == ["VIRIDIS"]
    assert fake_library.calls == 1


def test_lazy_writes_no_record(fake_library: FakeLibrary, cache_root: Path) -> None:
    colormaps = create_colormap_enum(lazy=True)
    list(colormaps)
    assert not cache_root.exists()


def test_installed_version_reads_dist_info_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "napari-0.5.4.dist-info").mkdir()
    (tmp_path / "Some_Lib-2.0.egg-info").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _colormaps.installed_version("napari") == "0.5.4"
    assert _colormaps.installed_version("some-lib") == "2.0"
    assert _colormaps.installed_version("not-installed-anywhere") is None


# napari comes first among the libraries, so the fake is a napari: installed or not, the
# real one is never reached (the fake's folder comes first on the path).
FAKE_NAPARI_COLORMAPS = textwrap.dedent(
    """
    import os
    with open(os.environ["IMPORT_LOG"], "a") as fh:
        fh.write("imported\\n")
    AVAILABLE_COLORMAPS = {"viridis": None, "twilight_shifted": None, "tab10": None}
    """
)


def test_a_warm_start_does_not_import_the_library(
    tmp_path: Path, run_python: RunPython, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    (site / "napari" / "utils").mkdir(parents=True)
    (site / "napari" / "__init__.py").write_text("")
    (site / "napari" / "utils" / "__init__.py").write_text("")
    (site / "napari" / "utils" / "colormaps.py").write_text(FAKE_NAPARI_COLORMAPS)
    (site / "napari-9.9.0.dist-info").mkdir()
    log = tmp_path / "import.log"
    monkeypatch.setenv("IMPORT_LOG", str(log))
    code = """
        import sys
        from platekit.cache import create_colormap_enum
        Colormap = create_colormap_enum()
        print([m.name for m in Colormap], "napari" in sys.modules)
    """
    cold = run_python(code, extra_path=site)
    warm = run_python(code, extra_path=site)
    assert cold == "['VIRIDIS', 'TWILIGHT_SHIFTED', 'TAB10'] True\n"
    assert warm == "['VIRIDIS', 'TWILIGHT_SHIFTED', 'TAB10'] False\n"
    assert log.read_text() == "imported\n"


def test_colormap_members_pickle(no_viewer: None) -> None:
    global Colormap
    Colormap = create_colormap_enum()
    assert Colormap.__module__ == __name__
    assert pickle.loads(pickle.dumps(Colormap.MAGMA)) is Colormap.MAGMA


Colormap: type[ColormapBase]
