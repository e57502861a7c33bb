"""One clause catches every storage failure: the standard exceptions, with StorageError mixed in."""

from __future__ import annotations

import errno
import importlib.util
import os
import pickle
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from platekit.storage import (
    BackendRegistry,
    DiskBackend,
    FileManager,
    MemoryBackend,
    ReadOnlyBackend,
    StorageBackend,
    StorageError,
    storage_error,
)
from platekit.storage._errors import translated

HAS_ZARR = importlib.util.find_spec("zarr") is not None and sys.version_info >= (3, 11)


def failures(backend: StorageBackend, root: str, name: str) -> list[tuple[type, Any]]:
    """(the standard class, a call that raises it) for the failures every backend has."""
    path = f"{root}/{name}"
    backend.save(np.zeros((2, 2), dtype=np.uint16), path)
    return [
        (FileNotFoundError, lambda: backend.load(f"{root}/absent")),
        (FileExistsError, lambda: backend.save(np.ones((2, 2), dtype=np.uint16), path)),
        (IsADirectoryError, lambda: backend.delete(root)),
        (NotADirectoryError, lambda: backend.list_dir(path)),
        (ValueError, lambda: backend.list_files(root, extensions={"."})),
        (ValueError, lambda: backend.save_batch([1, 2], [path])),
    ]


def backends(tmp_path: Path) -> list[tuple[StorageBackend, str, str]]:
    found: list[tuple[StorageBackend, str, str]] = [
        (MemoryBackend(), "/plate", "a.tif"),
        (DiskBackend(), str(tmp_path / "disk"), "a.tif"),
    ]
    if HAS_ZARR:
        from platekit.storage.backends.zarr import ZarrBackend

        found.append((ZarrBackend(), str(tmp_path / "plate.zarr"), "a"))
    return found


def test_every_backend_raises_the_standard_class_with_storage_error_mixed_in(
    tmp_path: Path,
) -> None:
    for backend, root, name in backends(tmp_path):
        for kind, call in failures(backend, root, name):
            with pytest.raises(kind) as caught:
                call()
            assert isinstance(caught.value, StorageError), (backend, kind)


def test_one_clause_catches_them_all(tmp_path: Path) -> None:
    fm = FileManager({"memory": MemoryBackend(), "disk": DiskBackend()})
    caught = []
    for call in (
        lambda: fm.load("/nothing", "memory"),
        lambda: fm.load(tmp_path / "nothing.tif", "disk"),
        lambda: fm.save({"a": 1}, tmp_path / "x.tif", "disk"),  # TypeError: not an image
        lambda: fm.load("/x", "tape"),  # KeyError: no such backend
        lambda: fm.list_files(tmp_path, "disk", extensions={"."}),  # ValueError
    ):
        try:
            call()
        except StorageError as exc:
            # The standard exception underneath: the first built-in class in its MRO.
            caught.append(next(c for c in type(exc).__mro__ if c.__module__ == "builtins"))
    assert caught == [FileNotFoundError, FileNotFoundError, TypeError, KeyError, ValueError]


def test_operating_system_errors_become_storage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", args[1])

    disk = DiskBackend()
    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space left") as caught:
        disk.save(b"data", tmp_path / "blob.bin", overwrite=True)
    error = caught.value
    assert isinstance(error, StorageError)
    assert error.errno == errno.ENOSPC and error.filename == str(tmp_path / "blob.bin")
    assert str(error) == f"[Errno {errno.ENOSPC}] No space left on device: {error.filename!r}"
    # The traceback still reaches the line that failed.
    assert "in full" in "".join(traceback.format_exception(error))


def test_the_copy_keeps_message_attributes_cause_and_notes() -> None:
    cause = RuntimeError("underneath")
    original = FileNotFoundError(errno.ENOENT, "gone", "a.tif", None, "b.tif")
    original.__cause__ = cause
    if sys.version_info >= (3, 11):
        original.add_note("a note")
    copy = translated(original)
    assert isinstance(copy, FileNotFoundError) and isinstance(copy, StorageError)
    assert (copy.errno, copy.strerror, copy.filename, copy.filename2) == (
        errno.ENOENT,
        "gone",
        "a.tif",
        "b.tif",
    )
    assert str(copy) == str(original) and copy.__cause__ is cause
    assert getattr(copy, "__notes__", None) == getattr(original, "__notes__", None)
    assert translated(copy) is None  # already a storage error
    assert translated(RuntimeError("x")) is None  # no storage version: left as it is

    class OwnTimeout(TimeoutError):
        pass

    assert translated(OwnTimeout()) is None  # a subclass stays itself


def test_storage_errors_pickle_as_themselves() -> None:
    error = storage_error(FileExistsError, errno.EEXIST, "already there", "/a.tif")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and again.filename == "/a.tif"
    assert isinstance(again, FileExistsError) and isinstance(again, StorageError)


def test_storage_error_builds_them_for_backend_authors() -> None:
    error = storage_error(KeyError, "no such thing")
    assert isinstance(error, KeyError) and isinstance(error, StorageError)
    with pytest.raises(TypeError, match="no storage version of RuntimeError"):
        storage_error(RuntimeError, "x")


def test_a_third_party_backend_raises_storage_errors_without_doing_anything() -> None:
    class Plain(StorageBackend):
        def load(self, path: Any, **kwargs: Any) -> Any:
            raise FileNotFoundError(errno.ENOENT, "not here", os.fspath(path))

    class Sealed(ReadOnlyBackend):
        pass

    with pytest.raises(FileNotFoundError) as caught:
        Plain().load("x")
    assert isinstance(caught.value, StorageError) and caught.value.filename == "x"
    with pytest.raises(NotImplementedError) as missing:
        Plain().list_dir("x")
    assert isinstance(missing.value, StorageError)
    with pytest.raises(PermissionError) as refused:
        Sealed().save(b"x", "y")
    assert isinstance(refused.value, StorageError)


def test_registry_errors_are_storage_errors() -> None:
    registry = BackendRegistry()
    with pytest.raises(KeyError) as caught:
        registry["tape"]
    assert isinstance(caught.value, StorageError)
    assert registry.get("tape") is None


def test_a_wrong_case_name_in_the_registry_says_the_right_one() -> None:
    with pytest.raises(KeyError, match="did you mean 'disk'"):
        BackendRegistry()["DISK"]


def test_errors_outside_the_standard_family_pass_unchanged() -> None:
    class Odd(Exception):
        pass

    class Throws(StorageBackend):
        def load(self, path: Any, **kwargs: Any) -> Any:
            raise Odd("mine")

    with pytest.raises(Odd) as caught:
        Throws().load("x")
    assert type(caught.value) is Odd
