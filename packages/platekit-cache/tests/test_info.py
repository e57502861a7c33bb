"""cache_info, clear_cache and ``python -m platekit.cache``."""

from __future__ import annotations

import io
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


# -- what clear touches ------------------------------------------------------------


def other_environment(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Save a record as another Python environment would; return its folder."""
    with monkeypatch.context() as patch:
        patch.setattr(sys, "prefix", "/another/venv")
        RegistryCacheManager("theirs", version="1").save(1)
        return environment_dir()


def test_clear_leaves_json_files_that_are_not_platekit_records() -> None:
    RegistryCacheManager("mine", version="1").save(1)
    folder = environment_dir()
    (folder / "notmine.json").write_text('{"settings": true}')
    (folder / "damaged.json").write_text("{not json")
    (folder / "Bad Name.json").write_text(
        '{"cache_version": 2, "version": "1", "timestamp": 0, "items": 1}'
    )
    (folder / "a-folder.json").mkdir()

    assert clear_cache() == 1
    assert sorted(os.listdir(folder)) == [
        "Bad Name.json",
        "a-folder.json",
        "damaged.json",
        "notmine.json",
    ]


def test_clear_removes_records_of_an_older_format() -> None:
    folder = environment_dir()
    folder.mkdir(parents=True)
    (folder / "old.json").write_text(
        '{"cache_version": 1, "version": "0.9", "timestamp": 1.5, "items": []}'
    )
    assert clear_cache() == 1
    assert not folder.exists()


def test_clear_on_a_read_only_cache_says_so(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from platekit.cache.__main__ import main

    RegistryCacheManager("mine", version="1").save(1)

    def refuse(path: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    # Running as root, permissions stop nothing: the refusal is simulated.
    monkeypatch.setattr(os, "unlink", refuse)
    assert main(["clear"]) == 1
    out, err = capsys.readouterr()
    assert "removed 0 files" in out
    assert "could not remove 1 file" in err and "Permission denied" in err
    assert "Traceback" not in out + err
    with caplog.at_level("WARNING", logger="platekit.cache"):
        assert clear_cache() == 0
    assert any("Permission denied" in r.getMessage() for r in caplog.records)


def test_cli_clear_reports_the_files_it_left(capsys: pytest.CaptureFixture[str]) -> None:
    from platekit.cache.__main__ import main

    RegistryCacheManager("mine", version="1").save(1)
    (environment_dir() / "notmine.json").write_text("{}")
    (environment_dir() / "a-folder.json").mkdir()
    assert main(["clear"]) == 0
    out = capsys.readouterr().out
    assert "removed 1 file from this environment's cache" in out
    assert "left alone 2 entries not written by platekit" in out
    assert "notmine.json" in out


# -- other environments ----------------------------------------------------------


def test_cli_takes_no_abbreviations(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from platekit.cache.__main__ import main

    theirs = other_environment(monkeypatch)
    with pytest.raises(SystemExit) as stopped:
        main(["clear", "--all"])
    assert stopped.value.code == 2
    assert "unrecognized arguments: --all" in capsys.readouterr().err
    assert (theirs / "theirs.json").exists()
    with pytest.raises(SystemExit):
        main(["info", "--js"])
    assert "unrecognized arguments: --js" in capsys.readouterr().err


def test_clearing_other_environments_needs_yes_without_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from platekit.cache.__main__ import main

    RegistryCacheManager("mine", version="1").save(1)
    theirs = other_environment(monkeypatch)
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # not a terminal
    assert main(["clear", "--all-environments"]) == 1
    err = capsys.readouterr().err
    assert "1 other Python environment" in err and "--yes" in err
    assert (theirs / "theirs.json").exists() and (environment_dir() / "mine.json").exists()

    assert main(["clear", "--all-environments", "--yes"]) == 0
    assert "removed 2 files from every environment's cache" in capsys.readouterr().out
    assert not theirs.exists()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "cleared"), [("n\n", False), ("\n", False), ("yes\n", True)])
def test_clearing_other_environments_asks_at_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], answer: str, cleared: bool
) -> None:
    from platekit.cache.__main__ import main

    theirs = other_environment(monkeypatch)
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    assert main(["clear", "--all-environments"]) == (0 if cleared else 1)
    out = capsys.readouterr().out
    assert "1 other Python environment" in out and "[y/N]" in out
    assert theirs.exists() is not cleared


def test_clearing_only_this_environment_asks_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from platekit.cache.__main__ import main

    theirs = other_environment(monkeypatch)
    RegistryCacheManager("mine", version="1").save(1)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["clear"]) == 0
    assert "removed 1 file" in capsys.readouterr().out
    assert (theirs / "theirs.json").exists()


# -- usage and help ----------------------------------------------------------------


def test_a_subcommand_usage_error_shows_that_subcommand(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from platekit.cache.__main__ import main

    with pytest.raises(SystemExit) as stopped:
        main(["info", "--jsn"], prog="platekit cache")
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: platekit cache info [-h] [--json]")
    assert "unrecognized arguments: --jsn" in err


@pytest.mark.parametrize("command", ["info", "clear", "colormaps"])
def test_each_subcommand_help_has_a_description(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from platekit.cache.__main__ import main

    with pytest.raises(SystemExit) as stopped:
        main([command, "--help"])
    assert stopped.value.code == 0
    usage, description = capsys.readouterr().out.split("\n\n")[:2]
    assert usage.startswith(f"usage: python -m platekit.cache {command}")
    assert not description.startswith(("options:", "optional arguments:")), description


# -- info tells the truth about writing ----------------------------------------------


def test_info_on_a_cache_path_through_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from platekit.cache.__main__ import main

    blocker = tmp_path / "a-regular-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(blocker / "cache"))
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "caching:      off" in out and f"{blocker} is not a folder" in out
    assert main(["info", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["writable"] is False
    assert f"{blocker} is not a folder" in payload["caching"]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="permissions do not stop root"
)
def test_info_on_a_read_only_cache(cache_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from platekit.cache.__main__ import main

    cache_root.mkdir()
    cache_root.chmod(0o555)
    try:
        assert main(["info"]) == 0
    finally:
        cache_root.chmod(0o755)
    out = capsys.readouterr().out
    assert "caching:      off" in out and f"{cache_root} is not writable" in out


def _refuse_writes_in(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``folder`` look read-only to the permission check, whoever runs the tests."""
    real_access = os.access

    def access(path: object, mode: int, **kwargs: object) -> bool:
        if os.fspath(path) == str(folder) and mode & os.W_OK:  # type: ignore[arg-type]
            return False
        return real_access(path, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)


def test_info_on_a_cache_folder_that_cannot_be_created(
    cache_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from platekit.cache.__main__ import main

    locked = cache_root.parent / "locked"
    locked.mkdir()
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(locked / "missing" / "cache"))
    _refuse_writes_in(locked, monkeypatch)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "caching:      off" in out
    wanted = f"{environment_dir()} cannot be created: {locked}, the nearest folder above it"
    assert f"{wanted} that exists, is not writable" in out


def test_info_on_a_cache_folder_that_exists_names_it_alone(
    cache_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from platekit.cache.__main__ import main

    environment_dir().mkdir(parents=True)
    _refuse_writes_in(environment_dir(), monkeypatch)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"off: {environment_dir()} is not writable, so no record" in out


def test_info_says_on_for_a_cache_not_made_yet(
    cache_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from platekit.cache.__main__ import main

    assert main(["info"]) == 0
    assert "caching:      on\n" in capsys.readouterr().out
    assert not cache_root.exists()
