"""Package folders as what a record depends on: every module stamped, any change a miss."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from platekit.cache import RegistryCacheManager, _stamps, cache_info

ITEMS = {"keys": ["alpha", "beta"]}


@pytest.fixture(params=["by folder descriptor", "by path"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of stamping a folder: relative to an open folder (POSIX), and by path."""
    if request.param == "by path":
        monkeypatch.setattr(_stamps, "_BY_FD", False)
    elif not _stamps._BY_FD:
        pytest.skip("this platform cannot stat relative to an open folder")
    return str(request.param)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """plugins/: two modules, a subpackage with a module of its own, and some bystanders."""
    root = tmp_path / "plugins"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "alpha.py").write_text("ALPHA = 1\n")
    (root / "beta.py").write_text("BETA = 2\n")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "deep.py").write_text("DEEP = 3\n")
    (root / "README.md").write_text("not a module\n")
    return root


def manager_for(*folders: tuple[Path, bool]) -> RegistryCacheManager:
    return RegistryCacheManager("pkg", version="1", folders=lambda: list(folders))


def reason(manager: RegistryCacheManager) -> str | None:
    return manager.lookup().reason


def test_an_unchanged_package_is_a_hit_and_the_record_lists_its_modules(
    walk: str, package: Path
) -> None:
    manager = manager_for((package, False))
    assert manager.save(ITEMS)
    assert manager.load() == ITEMS
    record = json.loads(manager.path.read_text())
    stamp = record["folders"][str(package)]
    assert stamp["recursive"] is False
    names = stamp["files"][::3]
    assert names == ["__init__.py", "alpha.py", "beta.py", "sub/__init__.py"]
    st = os.stat(package / "alpha.py")
    assert stamp["files"][3:6] == ["alpha.py", st.st_mtime_ns, st.st_size]


def test_both_walks_stamp_the_same(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    by_fd = _stamps.folder_stamp(str(package), True)
    monkeypatch.setattr(_stamps, "_BY_FD", False)
    assert _stamps.folder_stamp(str(package), True) == by_fd
    assert by_fd is not None and "sub/deep.py" in by_fd


def test_an_edit_within_the_same_second_is_a_miss(walk: str, package: Path) -> None:
    module = package / "beta.py"
    second = 1_700_000_000
    os.utime(module, ns=(second * 10**9, second * 10**9))
    manager = manager_for((package, False))
    manager.save(ITEMS)
    module.write_text("BETA = 3\n")  # same size
    os.utime(module, ns=(second * 10**9 + 1, second * 10**9 + 1))
    assert reason(manager) == f"{module} changed"


def test_a_change_of_size_alone_is_a_miss(walk: str, package: Path) -> None:
    module = package / "alpha.py"
    manager = manager_for((package, False))
    manager.save(ITEMS)
    st = os.stat(module)
    module.write_text("ALPHA = 10\n")
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert reason(manager) == f"{module} changed"


def test_adding_and_removing_a_module_is_a_miss(walk: str, package: Path) -> None:
    manager = manager_for((package, False))
    manager.save(ITEMS)
    added = package / "gamma.py"
    added.write_text("")
    assert reason(manager) == f"{added} is new among the files it depends on"
    added.unlink()
    assert reason(manager) is None
    (package / "alpha.py").unlink()
    assert reason(manager) == f"{package / 'alpha.py'} is no longer among the files it depends on"


def test_a_flat_walk_stamps_subpackage_inits_and_a_recursive_one_every_module(
    walk: str, package: Path
) -> None:
    flat = manager_for((package, False))
    flat.save(ITEMS)
    (package / "sub" / "deep.py").write_text("DEEP = 30\n")
    assert reason(flat) is None  # below the flat walk
    (package / "sub" / "__init__.py").write_text("X = 1\n")
    assert reason(flat) == f"{package / 'sub' / '__init__.py'} changed"

    deep = manager_for((package, True))
    deep.save(ITEMS)
    (package / "sub" / "deep.py").write_text("DEEP = 300\n")
    assert reason(deep) == f"{package / 'sub' / 'deep.py'} changed"


def test_a_new_subpackage_is_a_miss_in_a_flat_walk(walk: str, package: Path) -> None:
    manager = manager_for((package, False))
    manager.save(ITEMS)
    (package / "extra").mkdir()
    assert reason(manager) is None  # a folder without __init__.py is no subpackage
    (package / "extra" / "__init__.py").write_text("")
    assert reason(manager) == (
        f"{package / 'extra' / '__init__.py'} is new among the files it depends on"
    )


def test_bytecode_hidden_folders_and_other_files_do_not_count(walk: str, package: Path) -> None:
    manager = manager_for((package, True))
    manager.save(ITEMS)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "alpha.cpython-311.pyc").write_bytes(b"\0" * 16)
    (package / ".hidden.d").mkdir()
    (package / ".hidden.d" / "x.py").write_text("")
    (package / "data.v2").mkdir()
    (package / "data.v2" / "y.py").write_text("")
    (package / "README.md").write_text("changed\n")
    (package / "notes.txt").write_text("")
    assert reason(manager) is None


def test_a_vanished_folder_and_a_changed_folder_list_are_misses(
    walk: str, package: Path, tmp_path: Path
) -> None:
    other = tmp_path / "more"
    other.mkdir()
    folders = [(package, False)]
    manager = RegistryCacheManager("pkg", version="1", folders=lambda: list(folders))
    manager.save(ITEMS)
    folders.append((other, False))
    assert reason(manager) == f"{other} is new among the folders it depends on"
    manager.save(ITEMS)
    for path in sorted(other.rglob("*"), reverse=True):
        path.unlink()
    other.rmdir()
    assert reason(manager) == f"{other} vanished"
    folders.remove((other, False))
    assert reason(manager) == f"{other} is no longer among the folders it depends on"
    manager.save(ITEMS)
    assert reason(manager) is None
    # Asked to walk the same folder with its subfolders now.
    folders[0] = (package, True)
    assert reason(manager) == f"{package} is walked with subfolders now"


def test_a_folder_list_that_fails_is_a_miss_and_nothing_is_saved(package: Path) -> None:
    def broken() -> list[tuple[Path, bool]]:
        raise RuntimeError("no site-packages today")

    manager = RegistryCacheManager("pkg", version="1", folders=broken)
    assert manager.save(ITEMS) is False
    good = manager_for((package, False))
    good.save(ITEMS)
    assert "the list of folders to check failed" in str(reason(manager))
    assert good.load() == ITEMS


BAD_FOLDER_STAMPS = {
    "not an object": [1, 2],
    "no recursive flag": {"files": []},
    "files not a list": {"recursive": False, "files": "alpha.py"},
    "a stamp cut short": {"recursive": False, "files": ["alpha.py", 1]},
    "a name that is not a string": {"recursive": False, "files": [3, 1, 2]},
    "an mtime that is not an integer": {"recursive": False, "files": ["a.py", "1", 2]},
}


@pytest.mark.parametrize("bad", BAD_FOLDER_STAMPS.values(), ids=BAD_FOLDER_STAMPS.keys())
def test_a_damaged_folder_stamp_is_a_damaged_miss_and_is_rebuilt(
    package: Path, bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    manager = manager_for((package, False))
    manager.save(ITEMS)
    record = json.loads(manager.path.read_text())
    record["folders"][str(package)] = bad
    manager.path.write_text(json.dumps(record))
    found = manager.lookup()
    assert not found.hit and found.damaged
    assert f"folder stamp for {str(package)!r}" in str(found.reason)
    assert any("damaged" in r.getMessage() for r in caplog.records)
    assert manager.save(ITEMS) and manager.load() == ITEMS


def test_a_folders_field_that_is_not_an_object_is_a_damaged_miss(package: Path) -> None:
    manager = manager_for((package, False))
    manager.save(ITEMS)
    record = json.loads(manager.path.read_text())
    record["folders"] = ["not", "an", "object"]
    manager.path.write_text(json.dumps(record))
    found = manager.lookup()
    assert found.damaged and "'folders' should be an object" in str(found.reason)


def test_cache_info_sees_a_changed_package(package: Path) -> None:
    manager = manager_for((package, False))
    manager.save(ITEMS)
    [info] = cache_info()
    assert info.valid
    (package / "alpha.py").write_text("ALPHA = 100\n")
    [info] = cache_info()
    assert not info.valid and info.reason == f"{package / 'alpha.py'} changed"
