"""cache_info, clear_cache and ``python -m platekit.cache``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from platekit.cache import RegistryCacheManager, cache_info, clear_cache, environment_dir

RunPython = Callable[..., str]


def test_cache_info_describes_each_record(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text("x = 1\n")
    RegistryCacheManager("good", version="2.0").save({"a": 1})
    RegistryCacheManager("edited", version="1", files=lambda: [plugin]).save([])
    plugin.write_text("x = 22\n")
    RegistryCacheManager("broken", version="1").save([])
    (environment_dir() / "broken.json").write_text("{not json")

    records = {r.name: r for r in cache_info()}
    assert sorted(records) == ["broken", "edited", "good"]
    assert records["good"].valid and records["good"].reason is None
    assert records["good"].version == "2.0"
    assert records["good"].size == (environment_dir() / "good.json").stat().st_size
    assert records["good"].age_seconds is not None and 0 <= records["good"].age_seconds < 60
    assert not records["edited"].valid and "changed" in (records["edited"].reason or "")
    assert not records["broken"].valid and "damaged" in (records["broken"].reason or "")


def test_cache_info_of_an_empty_cache(cache_root: Path) -> None:
    assert cache_info() == []
    assert not cache_root.exists()


def test_clear_cache_removes_only_this_environments_records(
    monkeypatch: pytest.MonkeyPatch, cache_root: Path
) -> None:
    RegistryCacheManager("mine", version="1").save(1)
    mine = environment_dir()
    (mine / "notes.txt").write_text("someone else's file")
    (mine / ".mine.json.123.1.0.tmp").write_text("left by a killed process")
    monkeypatch.setattr(sys, "prefix", "/another/venv")
    RegistryCacheManager("theirs", version="1").save(1)
    theirs = environment_dir()
    monkeypatch.undo()
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(cache_root))

    assert clear_cache() == 2
    assert sorted(os.listdir(mine)) == ["notes.txt"]
    assert (theirs / "theirs.json").exists()


def test_clear_all_environments_keeps_foreign_files(
    monkeypatch: pytest.MonkeyPatch, cache_root: Path
) -> None:
    RegistryCacheManager("mine", version="1").save(1)
    mine = environment_dir()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "prefix", "/another/venv")
        RegistryCacheManager("theirs", version="1").save(1)
        theirs = environment_dir()
    unrelated = cache_root / "my-own-folder"
    unrelated.mkdir()
    (unrelated / "data.json").write_text("{}")
    (cache_root / "readme.json").write_text("{}")

    assert clear_cache(all_environments=True) == 2
    assert not mine.exists() and not theirs.exists()
    assert (unrelated / "data.json").exists()
    assert (cache_root / "readme.json").exists()


def test_cli_info_clear_and_colormaps(run_python: RunPython, cache_root: Path) -> None:
    def cli(*args: str) -> str:
        return run_python(
            f"import sys; from platekit.cache.__main__ import main; sys.exit(main({list(args)!r}))"
        )

    assert "no records yet" in cli("info")
    first = cli("colormaps")
    second = cli("colormaps")
    assert "from discovery, now cached" in first
    assert "from the cache" in second
    info = cli("info")
    assert str(cache_root) in info
    assert "enum.Colormap" in info and "valid" in info
    payload = json.loads(cli("info", "--json"))
    assert payload["root"] == str(cache_root)
    assert [r["name"] for r in payload["records"]] == ["enum.Colormap"]
    assert payload["records"][0]["valid"] is True
    assert "removed 1 file from this environment's cache" in cli("clear")
    assert "no records yet" in cli("info")


def test_cli_as_a_module_with_help(run_python: RunPython) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "platekit.cache", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "info" in done.stdout and "clear" in done.stdout and "colormaps" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "platekit.cache", "frobnicate"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "invalid choice: 'frobnicate'" in bad.stderr


def test_cli_info_when_caching_is_disabled(run_python: RunPython) -> None:
    out = run_python(
        """
        import os, sys
        from platekit.cache.__main__ import main
        main(["colormaps"])  # a record exists, but must not be reported as used
        os.environ["PLATEKIT_DISABLE_REGISTRY_CACHE"] = "1"
        main(["colormaps"]); main(["info"])
        """
    )
    assert "from discovery, now cached" in out
    assert "from discovery (caching is off)" in out
    assert "from the cache" not in out
    assert "caching:      off" in out
