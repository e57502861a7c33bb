"""installed_distribution: a distribution's version and metadata file, without importing it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from platekit.cache import installed_distribution


def test_the_first_folder_on_the_path_wins_and_names_are_normalized(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "Some_Lib-1.2.dist-info").mkdir(parents=True)
    (second / "some_lib-9.0.dist-info").mkdir(parents=True)
    (second / "Old_Thing-0.3.egg-info").mkdir()
    monkeypatch.setattr(sys, "path", [str(first), str(first), str(second)])

    assert installed_distribution("some-lib") == (
        "1.2",
        str(first / "Some_Lib-1.2.dist-info" / "METADATA"),
    )
    assert installed_distribution("Some.Lib") is not None
    version, metadata = installed_distribution("old-thing") or ("", "")
    assert version == "0.3" and metadata.endswith("PKG-INFO")
    assert installed_distribution("not-installed-anywhere") is None


def test_an_unreadable_path_entry_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lib-2.0.dist-info").mkdir()
    monkeypatch.setattr(
        sys, "path", [str(tmp_path / "missing"), str(tmp_path / "a-file"), str(tmp_path)]
    )
    (tmp_path / "a-file").write_text("")
    assert installed_distribution("lib") == (
        "2.0",
        str(tmp_path / "lib-2.0.dist-info" / "METADATA"),
    )
