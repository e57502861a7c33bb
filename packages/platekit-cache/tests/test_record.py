"""RegistryCacheManager: hits, every reason for a miss, atomic writes, switching off."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import pytest

from platekit.cache import RegistryCacheManager, _record, cache_dir, environment_dir

ITEMS = {"alpha": {"module": "pkg.alpha", "qualname": "Alpha"}, "beta": [1, 2.5, None, True]}


def cache_log(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "platekit.cache"]


@pytest.fixture
def plugin_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "plugins"
    folder.mkdir()
    files = []
    for name in ("a.py", "b.py"):
        path = folder / name
        path.write_text(f"# plugin {name}\n")
        files.append(path)
    return files


@pytest.fixture
def manager(plugin_files: list[Path]) -> RegistryCacheManager:
    return RegistryCacheManager("plugins", version="1.0", files=lambda: list(plugin_files))


def rewrite_record(manager: RegistryCacheManager, **changes: object) -> None:
    record = json.loads(manager.path.read_text())
    record.update(changes)
    manager.path.write_text(json.dumps(record))


def miss_reason(manager: RegistryCacheManager) -> str:
    found = manager.lookup()
    assert not found.hit
    assert manager.load() is None
    assert found.reason is not None
    return found.reason


# -- hits ----------------------------------------------------------------------


def test_saved_items_come_back(manager: RegistryCacheManager) -> None:
    assert manager.save(ITEMS) is True
    assert manager.load() == ITEMS
    assert manager.lookup().hit


def test_record_is_one_json_file_with_the_documented_fields(
    manager: RegistryCacheManager, plugin_files: list[Path]
) -> None:
    before = time.time()
    manager.save(ITEMS)
    record = json.loads(manager.path.read_text(encoding="utf-8"))
    assert record["cache_version"] == _record.CACHE_FORMAT_VERSION
    assert record["version"] == "1.0"
    assert before <= record["timestamp"] <= time.time()
    stat = os.stat(plugin_files[0])
    assert record["files"][str(plugin_files[0])] == [stat.st_mtime_ns, stat.st_size]
    assert record["items"] == ITEMS


def test_record_lives_in_this_environments_folder(
    manager: RegistryCacheManager, cache_root: Path
) -> None:
    assert cache_dir() == cache_root
    assert manager.path == environment_dir() / "plugins.json"
    assert manager._cache_path == manager.path
    assert environment_dir().parent == cache_root


def test_nothing_is_created_before_the_first_write(
    manager: RegistryCacheManager, cache_root: Path
) -> None:
    manager.load()
    cache_dir()
    environment_dir()
    assert not cache_root.exists()
    manager.save(ITEMS)
    assert manager.path.is_file()


@pytest.mark.parametrize("xdg", [None, "", "   ", "/srv/cache", "relative/cache"])
def test_default_cache_dir_is_the_platformdirs_user_cache(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    import platformdirs

    monkeypatch.delenv("PLATEKIT_CACHE_DIR")
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert cache_dir() == platformdirs.user_cache_path("platekit", appauthor=False)


def test_a_hit_logs_nothing(
    manager: RegistryCacheManager, caplog: pytest.LogCaptureFixture
) -> None:
    manager.save(ITEMS)
    caplog.set_level(logging.DEBUG, logger="platekit.cache")
    manager.load()
    assert cache_log(caplog) == []


# -- misses, one reason each ---------------------------------------------------


def test_miss_when_there_is_no_record(
    manager: RegistryCacheManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="platekit.cache")
    assert "no record" in miss_reason(manager)
    # lookup() and load() each logged exactly one line, at DEBUG.
    assert [r.levelno for r in cache_log(caplog)] == [logging.DEBUG, logging.DEBUG]


def test_miss_when_the_cache_format_differs(manager: RegistryCacheManager) -> None:
    manager.save(ITEMS)
    rewrite_record(manager, cache_version=_record.CACHE_FORMAT_VERSION + 1)
    assert "cache format" in miss_reason(manager)


def test_miss_when_the_producer_version_differs(plugin_files: list[Path]) -> None:
    RegistryCacheManager("plugins", version="1.0").save(ITEMS)
    newer = RegistryCacheManager("plugins", version="1.1")
    assert "'1.0'" in miss_reason(newer)
    assert RegistryCacheManager("plugins", version="1.0").load() == ITEMS


def test_miss_when_older_than_max_age(manager: RegistryCacheManager) -> None:
    manager.save(ITEMS)
    rewrite_record(manager, timestamp=time.time() - 8 * 86400)
    assert "days old" in miss_reason(manager)
    young = RegistryCacheManager("plugins", version="1.0", max_age_days=9)
    rewrite_record(young, timestamp=time.time() - 8 * 86400, files={})
    assert young.load() == ITEMS


def test_miss_when_the_timestamp_is_in_the_future(manager: RegistryCacheManager) -> None:
    manager.save(ITEMS)
    rewrite_record(manager, timestamp=time.time() + 3600)
    assert "future" in miss_reason(manager)


def test_miss_when_a_file_changes_within_the_same_second(
    manager: RegistryCacheManager, plugin_files: list[Path]
) -> None:
    target = plugin_files[0]
    # Pin the file to a whole second, save, then edit it keeping size and second.
    second = int(time.time()) - 10
    os.utime(target, ns=(second * 10**9, second * 10**9))
    manager.save(ITEMS)
    assert manager.load() == ITEMS
    target.write_text(target.read_text().replace("plugin", "PLUGIN"))
    os.utime(target, ns=(second * 10**9 + 1000, second * 10**9 + 1000))
    assert int(os.stat(target).st_mtime) == second
    assert "changed" in miss_reason(manager)


def test_miss_when_a_file_changes_size_but_not_mtime(
    manager: RegistryCacheManager, plugin_files: list[Path]
) -> None:
    target = plugin_files[0]
    manager.save(ITEMS)
    stamp = os.stat(target).st_mtime_ns
    target.write_text("# a longer plugin body than before\n")
    os.utime(target, ns=(stamp, stamp))
    assert "changed" in miss_reason(manager)


def test_miss_when_a_file_vanishes(manager: RegistryCacheManager, plugin_files: list[Path]) -> None:
    manager.save(ITEMS)
    plugin_files[1].unlink()
    assert "vanished" in miss_reason(manager)


def test_miss_when_a_new_file_joins_the_set(
    manager: RegistryCacheManager, plugin_files: list[Path]
) -> None:
    manager.save(ITEMS)
    extra = plugin_files[0].with_name("c.py")
    extra.write_text("# new plugin\n")
    plugin_files.append(extra)
    assert "new among the files" in miss_reason(manager)


def test_miss_when_a_file_leaves_the_set(
    manager: RegistryCacheManager, plugin_files: list[Path]
) -> None:
    manager.save(ITEMS)
    plugin_files.pop()
    assert "no longer among the files" in miss_reason(manager)


def test_miss_when_the_file_list_itself_fails(plugin_files: list[Path]) -> None:
    calls = []

    def files() -> list[Path]:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("plugin folder went away")
        return plugin_files

    manager = RegistryCacheManager("plugins", version="1.0", files=files)
    assert manager.save(ITEMS)
    assert "plugin folder went away" in miss_reason(manager)


DAMAGED: dict[str, bytes] = {
    "empty file": b"",
    "not UTF-8": b'{"cache_version": 1, "version": "\xff\xfe"}',
    "not JSON": b'{"cache_version": 1, "version": ',
    "not an object": b"[1, 2, 3]",
    "a JSON string": b'"hello"',
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_file_is_a_miss_logged_once_at_warning_naming_the_file(
    manager: RegistryCacheManager, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    manager.save(ITEMS)
    manager.path.write_bytes(content)
    caplog.set_level(logging.DEBUG, logger="platekit.cache")
    found = manager.lookup()
    assert not found.hit
    assert found.damaged
    logged = cache_log(caplog)
    assert len(logged) == 1
    assert logged[0].levelno == logging.WARNING
    assert str(manager.path) in logged[0].getMessage()
    # And it heals: the next save makes the next load hit.
    assert manager.save(ITEMS)
    assert manager.load() == ITEMS


def test_unreadable_record_is_a_damaged_miss(manager: RegistryCacheManager) -> None:
    manager.path.parent.mkdir(parents=True)
    manager.path.mkdir()  # a folder where the record should be: reading it fails
    found = manager.lookup()
    assert found.damaged
    assert "cannot be read" in (found.reason or "")


@pytest.mark.parametrize("field", ["cache_version", "version", "timestamp", "files", "items"])
def test_missing_field_is_a_damaged_miss(manager: RegistryCacheManager, field: str) -> None:
    manager.save(ITEMS)
    record = json.loads(manager.path.read_text())
    del record[field]
    manager.path.write_text(json.dumps(record))
    found = manager.lookup()
    assert found.damaged
    assert repr(field) in (found.reason or "")


WRONG_TYPES = {
    "cache_version": ["1", 1.0, True, None],
    "version": [1, None, ["1.0"]],
    "timestamp": ["now", None, True, float("nan"), float("inf")],
    "files": [[], "a.py", None],
}


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, value) for field, values in WRONG_TYPES.items() for value in values],
)
def test_wrongly_typed_field_is_a_damaged_miss(
    manager: RegistryCacheManager, field: str, value: object
) -> None:
    manager.save(ITEMS)
    record = json.loads(manager.path.read_text())
    record[field] = value
    manager.path.write_text(json.dumps(record))
    found = manager.lookup()
    assert found.damaged, found
    assert field in (found.reason or "")


@pytest.mark.parametrize("stamp", [[1], [1, "2"], "1,2", [1, 2, 3], {"mtime": 1}, [True, 2]])
def test_malformed_file_stamp_is_a_damaged_miss(
    manager: RegistryCacheManager, plugin_files: list[Path], stamp: object
) -> None:
    manager.save(ITEMS)
    record = json.loads(manager.path.read_text())
    record["files"][str(plugin_files[0])] = stamp
    manager.path.write_text(json.dumps(record))
    assert manager.lookup().damaged


# -- writing -------------------------------------------------------------------


def test_items_that_are_not_json_are_refused_and_the_old_record_kept(
    manager: RegistryCacheManager,
) -> None:
    manager.save(ITEMS)
    with pytest.raises(TypeError, match="not JSON data"):
        manager.save({"handler": object()})
    with pytest.raises(TypeError, match="not JSON data"):
        manager.save({"ratio": float("nan")})
    assert manager.load() == ITEMS


def test_a_write_that_fails_halfway_keeps_the_old_record_and_no_temp_file(
    manager: RegistryCacheManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager.save(ITEMS)

    def crash(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # an interruption between write and swap

    with monkeypatch.context() as patch:
        patch.setattr(_record.os, "replace", crash)
        with pytest.raises(KeyboardInterrupt):
            manager.save({"other": 1})
    assert manager.load() == ITEMS
    assert sorted(p.name for p in manager.path.parent.iterdir()) == ["plugins.json"]


def test_saving_leaves_no_temporary_files(manager: RegistryCacheManager) -> None:
    for round_ in range(5):
        manager.save({"round": round_})
    assert [p.name for p in manager.path.parent.iterdir()] == ["plugins.json"]


def test_clear_deletes_the_record(manager: RegistryCacheManager) -> None:
    manager.clear()  # nothing there yet: no error
    manager.save(ITEMS)
    manager.clear()
    assert not manager.path.exists()
    assert manager.load() is None


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "../up", "x" * 201, "sp ace", None])
def test_a_name_that_cannot_name_a_file_is_refused(name: object) -> None:
    with pytest.raises(ValueError, match="cannot name a file"):
        RegistryCacheManager(name, version="1")  # type: ignore[arg-type]


@pytest.mark.parametrize("days", [0, -1, float("nan"), float("inf"), "7", True])
def test_max_age_must_be_a_positive_number(days: object) -> None:
    with pytest.raises(ValueError, match="max_age_days"):
        RegistryCacheManager("plugins", version="1", max_age_days=days)  # type: ignore[arg-type]


# -- switched off --------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_disable_env_makes_every_load_a_miss_and_writes_nothing(
    manager: RegistryCacheManager, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    manager.save(ITEMS)
    monkeypatch.setenv("PLATEKIT_DISABLE_REGISTRY_CACHE", value)
    assert "PLATEKIT_DISABLE_REGISTRY_CACHE" in miss_reason(manager)
    manager.clear()
    assert manager.save(ITEMS) is False
    assert not manager.path.exists()


def test_disable_env_set_to_zero_leaves_caching_on(
    manager: RegistryCacheManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATEKIT_DISABLE_REGISTRY_CACHE", "0")
    assert manager.save(ITEMS)
    assert manager.load() == ITEMS


def test_unwritable_cache_folder_warns_once_and_everything_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("not a folder")
    # Running as root, permissions stop nothing: a file in the path does.
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(blocker / "cache"))
    caplog.set_level(logging.DEBUG, logger="platekit.cache")
    first = RegistryCacheManager("first", version="1")
    second = RegistryCacheManager("second", version="1")
    for _ in range(3):
        assert first.save(ITEMS) is False
        assert second.save(ITEMS) is False
        assert first.load() is None
    warnings = [r for r in cache_log(caplog) if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert str(blocker) in warnings[0].getMessage()
    assert "caching is off for this process" in (second.lookup().reason or "")
    assert blocker.read_text() == "not a folder"


def test_a_cache_path_through_a_file_gives_one_true_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(blocker / "cache"))
    caplog.set_level(logging.DEBUG, logger="platekit.cache")
    manager = RegistryCacheManager("plugins", version="1")
    # A producer's usual order: look first, then save what it built.
    found = manager.lookup()
    assert not found.hit and not found.damaged
    assert str(blocker) in (found.reason or "")
    assert manager.save(ITEMS) is False
    warnings = [r.getMessage() for r in cache_log(caplog) if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "cannot be written" in warnings[0] and "damaged" not in warnings[0]


# -- environments --------------------------------------------------------------


def test_two_environments_never_see_each_others_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manager = RegistryCacheManager("plugins", version="1.0")
    monkeypatch.setattr(sys, "prefix", "/opt/venvs/analysis")
    manager.save({"from": "analysis"})
    analysis_dir = environment_dir()

    monkeypatch.setattr(sys, "prefix", "/opt/venvs/acquisition")
    assert environment_dir() != analysis_dir
    assert manager.load() is None
    manager.save({"from": "acquisition"})
    assert manager.load() == {"from": "acquisition"}

    monkeypatch.setattr(sys, "prefix", "/opt/venvs/analysis")
    assert manager.load() == {"from": "analysis"}


def test_the_interpreter_version_is_part_of_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = environment_dir()
    monkeypatch.setattr(sys, "version", sys.version + " (rebuilt)")
    assert environment_dir() != before


def test_extra_files_found_while_producing_invalidate_too(
    manager: RegistryCacheManager, tmp_path: Path
) -> None:
    found = tmp_path / "found_later.py"
    found.write_text("x = 1\n")
    manager.save(ITEMS, extra_files=[found])
    record = json.loads(manager.path.read_text())
    assert list(record["extra_files"]) == [str(found)]
    assert manager.load() == ITEMS
    stamp = os.stat(found).st_mtime_ns
    found.write_text("x = 22\n")
    os.utime(found, ns=(stamp, stamp))  # same mtime: the size tells
    assert miss_reason(manager) == f"{found} changed"
    manager.save(ITEMS, extra_files=[found])
    found.unlink()
    assert miss_reason(manager) == f"{found} vanished"


def test_malformed_extra_files_is_a_damaged_miss(manager: RegistryCacheManager) -> None:
    manager.save(ITEMS)
    for bad in ([], {"a.py": "1,2"}):
        rewrite_record(manager, extra_files=bad)
        assert manager.lookup().damaged


def test_a_path_with_a_nul_byte_in_a_record_is_a_miss(manager: RegistryCacheManager) -> None:
    manager.save(ITEMS)
    rewrite_record(manager, extra_files={"/tmp/bad\u0000name.py": [1, 2]})
    assert "changed" in miss_reason(manager) or "vanished" in miss_reason(manager)
    from platekit.cache import cache_info

    assert not next(r for r in cache_info() if r.name == "plugins").valid
