"""install_command: the pip line in install hints works where platekit was installed from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from platekit.registry._install import install_command


def installed(site: Path, name: str, direct_url: dict[str, object] | None) -> None:
    """Fake an installed distribution ``name`` in ``site``, installed from ``direct_url``."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def test_an_editable_install_is_installed_editable_from_its_folder(
    site: Path, tmp_path: Path
) -> None:
    source = tmp_path / "checkout with space" / "packages" / "platekit-tape"
    source.mkdir(parents=True)
    installed(site, "platekit-tape", {"url": source.as_uri(), "dir_info": {"editable": True}})
    assert install_command("platekit-tape", "fast") == (
        f"python -m pip install -e '{source}[fast]'"
    )


def test_a_folder_install_is_installed_from_its_folder(site: Path, tmp_path: Path) -> None:
    source = tmp_path / "packages" / "platekit-tape"
    source.mkdir(parents=True)
    installed(site, "platekit-tape", {"url": source.as_uri(), "dir_info": {}})
    assert install_command("platekit-tape") == f"python -m pip install {source}"


@pytest.mark.parametrize(
    "direct_url",
    [
        None,  # from an index
        {"url": "file:///gone/packages/platekit-tape", "dir_info": {}},  # the checkout moved
        {"url": "https://example.org/platekit_tape-1.0.whl", "archive_info": {}},
    ],
)
def test_otherwise_both_lines_are_given(site: Path, direct_url: dict[str, object] | None) -> None:
    installed(site, "platekit-tape", direct_url)
    assert install_command("platekit-tape", "fast") == (
        "python -m pip install 'platekit-tape[fast]' (or, from a checkout of platekit: "
        "python -m pip install './packages/platekit-tape[fast]')"
    )


def test_a_distribution_not_installed_gets_both_lines() -> None:
    assert "./packages/platekit-nothing-such" in install_command("platekit-nothing-such")
