"""The storage contract as a pytest suite, for platekit's backends and yours.

Subclass :class:`BackendContract` in a test module and give it three things::

    import numpy as np
    import pytest
    from platekit.storage.testing import BackendContract

    class TestMyBackend(BackendContract):
        suffix = ".npy"                      # file names end with this

        @pytest.fixture
        def backend(self, tmp_path):         # an empty backend
            return MyBackend()

        @pytest.fixture
        def root(self, tmp_path):            # a folder path inside it, not yet there
            return str(tmp_path / "data")

        def sample(self, n):                 # the n-th piece of data it can store
            return np.full((8, 8), n, dtype=np.uint16)

Every test then runs against the backend. This module needs pytest (and
numpy, for the default :meth:`BackendContract.assert_same`). The tests of
the optional methods (``stat``, ``is_symlink``, ``create_symlink``) are
skipped, saying so, for a backend that does not implement them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from platekit.storage._base import StorageBackend
from platekit.storage._errors import StorageError
from platekit.storage._stat import FileStat

__all__ = ["BackendContract", "ReadOnlyContract"]


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def _optional(call: Callable[[], Any], method: str) -> Any:
    """``call()``, skipping the test when the backend does not implement ``method``."""
    try:
        return call()
    except NotImplementedError as exc:
        if f"does not implement {method}()" in str(exc):
            pytest.skip(f"the backend does not implement {method}()")
        raise


class BackendContract:
    """What every read-write storage backend must do; see :class:`StorageBackend`."""

    #: Suffix for file names in these tests ("" for backends without suffixes).
    suffix = ".bin"

    def sample(self, n: int) -> Any:
        """The n-th distinct piece of data this backend can store."""
        raise NotImplementedError("a BackendContract subclass must define sample(n)")

    def assert_same(self, stored: Any, loaded: Any) -> None:
        """Fail unless ``loaded`` equals what was ``stored``."""
        import numpy as np

        if isinstance(stored, np.ndarray) or isinstance(loaded, np.ndarray):
            np.testing.assert_array_equal(np.asarray(loaded), np.asarray(stored))
            assert np.asarray(loaded).dtype == np.asarray(stored).dtype
        else:
            assert loaded == stored

    def file(self, root: str, name: str) -> str:
        return _join(root, name + self.suffix)

    # -- saving and loading ----------------------------------------------------------

    def test_saved_data_loads_back(self, backend: StorageBackend, root: str) -> None:
        path = self.file(root, "A01_s1")
        backend.save(self.sample(1), path)
        self.assert_same(self.sample(1), backend.load(path))

    def test_save_creates_the_folders_above(self, backend: StorageBackend, root: str) -> None:
        path = _join(root, "plate", "well", "site" + self.suffix)
        backend.save(self.sample(2), path)
        assert backend.is_dir(_join(root, "plate", "well"))
        assert backend.is_file(path)
        assert backend.exists(path)

    def test_loading_a_missing_path_names_it(self, backend: StorageBackend, root: str) -> None:
        path = self.file(root, "nothing_here")
        with pytest.raises(FileNotFoundError) as caught:
            backend.load(path)
        assert "nothing_here" in str(caught.value)
        assert backend.name in str(caught.value)

    def test_saving_over_existing_data_is_refused_and_keeps_it(
        self, backend: StorageBackend, root: str
    ) -> None:
        path = self.file(root, "kept")
        backend.save(self.sample(3), path)
        with pytest.raises(FileExistsError):
            backend.save(self.sample(4), path)
        self.assert_same(self.sample(3), backend.load(path))
        backend.save(self.sample(4), path, overwrite=True)
        self.assert_same(self.sample(4), backend.load(path))

    def test_batches(self, backend: StorageBackend, root: str) -> None:
        paths = [self.file(root, f"b{n}") for n in range(3)]
        items = [self.sample(n) for n in range(3)]
        backend.save_batch(items, paths)
        for item, loaded in zip(items, backend.load_batch(paths), strict=True):
            self.assert_same(item, loaded)
        with pytest.raises(ValueError, match="one path per item"):
            backend.save_batch(items, [self.file(root, "x1"), self.file(root, "x2")])
        assert not backend.exists(self.file(root, "x1"))

    def test_concurrent_saves_all_land(self, backend: StorageBackend, root: str) -> None:
        errors: list[BaseException] = []

        def save(n: int) -> None:
            try:
                backend.save(self.sample(n), self.file(root, f"t{n}"))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=save, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        for n in range(8):
            self.assert_same(self.sample(n), backend.load(self.file(root, f"t{n}")))

    # -- listing ----------------------------------------------------------------------

    def test_list_files_is_in_natural_order(self, backend: StorageBackend, root: str) -> None:
        for name in ("A10", "A2", "A1", "B1"):
            backend.save(self.sample(1), self.file(root, name))
        listed = backend.list_files(root)
        assert [os.path.basename(p) for p in listed] == [
            n + self.suffix for n in ("A1", "A2", "A10", "B1")
        ]
        assert all(backend.is_file(p) for p in listed)

    def test_list_files_pattern_and_recursion(self, backend: StorageBackend, root: str) -> None:
        backend.save(self.sample(1), self.file(root, "A01_s1"))
        backend.save(self.sample(2), self.file(root, "B01_s1"))
        backend.save(self.sample(3), _join(root, "sub", "A01_s2" + self.suffix))
        top = backend.list_files(root, pattern="A01_*")
        assert [os.path.basename(p) for p in top] == ["A01_s1" + self.suffix]
        everywhere = backend.list_files(root, pattern="A01_*", recursive=True)
        assert [os.path.basename(p) for p in everywhere] == [
            "A01_s1" + self.suffix,
            "A01_s2" + self.suffix,
        ]

    def test_list_files_by_extension(self, backend: StorageBackend, root: str) -> None:
        if not self.suffix:
            pytest.skip("this backend's paths have no suffixes")
        one = self.file(root, "one")
        two = self.file(root, "two.ome")
        backend.save(self.sample(1), one)
        backend.save(self.sample(2), two)
        both = backend.list_files(root)
        # A set, any case, one string, no dot: all the same request.
        for extensions in ({self.suffix.upper()}, self.suffix, self.suffix.lstrip(".")):
            assert backend.list_files(root, extensions=extensions) == both, extensions
        # A suffix of more than one part keeps only the names that end with all of it.
        only_two = backend.list_files(root, extensions=".OME" + self.suffix)
        assert [os.path.basename(p) for p in only_two] == ["two.ome" + self.suffix]
        assert backend.list_files(root, extensions={".nothing"}) == []
        with pytest.raises(ValueError, match="suffixes"):
            backend.list_files(root, extensions={"."})

    def test_listing_a_missing_or_file_path_fails(self, backend: StorageBackend, root: str) -> None:
        with pytest.raises(FileNotFoundError):
            backend.list_files(_join(root, "absent"))
        path = self.file(root, "a")
        backend.save(self.sample(1), path)
        with pytest.raises(NotADirectoryError):
            backend.list_files(path)
        with pytest.raises(NotADirectoryError):
            backend.list_dir(path)

    def test_list_dir_gives_names_of_files_and_folders(
        self, backend: StorageBackend, root: str
    ) -> None:
        backend.save(self.sample(1), self.file(root, "f10"))
        backend.save(self.sample(1), self.file(root, "f9"))
        backend.ensure_directory(_join(root, "folder"))
        assert backend.list_dir(root) == [
            "f9" + self.suffix,
            "f10" + self.suffix,
            "folder",
        ]

    # -- deleting and folders -----------------------------------------------------------

    def test_delete(self, backend: StorageBackend, root: str) -> None:
        path = _join(root, "sub", "gone" + self.suffix)
        backend.save(self.sample(1), path)
        backend.delete(path)
        assert not backend.exists(path)
        with pytest.raises(FileNotFoundError):
            backend.delete(path)
        with pytest.raises(IsADirectoryError):
            backend.delete(_join(root, "sub"))
        backend.save(self.sample(1), path)
        backend.delete(_join(root, "sub"), recursive=True)
        assert not backend.exists(_join(root, "sub"))
        assert not backend.exists(path)

    def test_ensure_directory(self, backend: StorageBackend, root: str) -> None:
        folder = _join(root, "x", "y")
        backend.ensure_directory(folder)
        backend.ensure_directory(folder)  # twice is fine
        assert backend.is_dir(folder) and not backend.is_file(folder)
        path = self.file(root, "blocker")
        backend.save(self.sample(1), path)
        with pytest.raises(FileExistsError):
            backend.ensure_directory(path)

    # -- copying and moving -------------------------------------------------------------

    def test_copy_and_move_a_file(self, backend: StorageBackend, root: str) -> None:
        src, copied, moved = (self.file(root, n) for n in ("src", "copied", "moved"))
        backend.save(self.sample(5), src)
        backend.copy(src, copied)
        self.assert_same(self.sample(5), backend.load(copied))
        assert backend.exists(src)
        backend.move(copied, moved)
        assert not backend.exists(copied)
        self.assert_same(self.sample(5), backend.load(moved))
        with pytest.raises(FileExistsError):
            backend.copy(src, moved)
        with pytest.raises(FileNotFoundError):
            backend.copy(self.file(root, "absent"), self.file(root, "other"))

    def test_copy_and_move_onto_itself(self, backend: StorageBackend, root: str) -> None:
        path = self.file(root, "same")
        backend.save(self.sample(3), path)
        backend.save(self.sample(4), _join(root, "folder", "inner" + self.suffix))
        for target in (path, _join(root, "folder")):
            for action in (backend.copy, backend.move):
                with pytest.raises(FileExistsError):
                    action(target, target)
                action(target, target, overwrite=True)  # already there: nothing to do
        self.assert_same(self.sample(3), backend.load(path))
        self.assert_same(self.sample(4), backend.load(_join(root, "folder", "inner" + self.suffix)))
        with pytest.raises(ValueError, match="inside itself"):
            backend.copy(_join(root, "folder"), _join(root, "folder", "deeper"))

    def test_copy_and_move_a_folder(self, backend: StorageBackend, root: str) -> None:
        backend.save(self.sample(1), _join(root, "a", "one" + self.suffix))
        backend.save(self.sample(2), _join(root, "a", "deep", "two" + self.suffix))
        backend.copy(_join(root, "a"), _join(root, "b"))
        self.assert_same(
            self.sample(2), backend.load(_join(root, "b", "deep", "two" + self.suffix))
        )
        backend.move(_join(root, "b"), _join(root, "c"))
        assert not backend.exists(_join(root, "b"))
        self.assert_same(self.sample(1), backend.load(_join(root, "c", "one" + self.suffix)))

    # -- errors ---------------------------------------------------------------------------

    def test_failures_are_storage_errors(self, backend: StorageBackend, root: str) -> None:
        path = self.file(root, "once")
        with pytest.raises(FileNotFoundError) as missing:
            backend.load(path)
        backend.save(self.sample(1), path)
        with pytest.raises(FileExistsError) as taken:
            backend.save(self.sample(2), path)
        for caught in (missing, taken):
            assert isinstance(caught.value, StorageError), (
                f"{type(caught.value).__name__} is not a platekit.storage.StorageError: raise "
                "not_found(self, path) or storage_error(FileExistsError, ...) instead"
            )

    # -- provenance -------------------------------------------------------------------------

    def test_accepts_what_it_saves(self, backend: StorageBackend, root: str) -> None:
        path = self.file(root, "asked")
        assert backend.accepts(self.sample(1), path) is True
        assert not backend.exists(path)  # asking writes nothing
        backend.save(self.sample(1), path)
        assert backend.accepts(self.sample(2), path) is True  # a taken path is not the question

    def test_read_bytes_verifies_what_was_read(self, backend: StorageBackend, root: str) -> None:
        import hashlib

        path = self.file(root, "source")
        backend.save(self.sample(1), path)
        try:
            data = backend.read_bytes(path)
        except NotImplementedError as exc:
            if "does not implement read_bytes()" not in str(exc):
                raise
            pytest.skip("the backend does not implement read_bytes()")
        except TypeError as exc:
            pytest.skip(f"the backend keeps this sample as no bytes: {exc}")
        assert isinstance(data, bytes) and data
        digest = hashlib.sha256(data).hexdigest()
        assert backend.read_bytes(path, sha256=digest.upper(), max_bytes=len(data)) == data
        with pytest.raises(ValueError, match="byte bound"):
            backend.read_bytes(path, max_bytes=len(data) - 1)
        with pytest.raises(ValueError, match="does not match"):
            backend.read_bytes(path, sha256="0" * 64)
        for bound in (True, 0, -1, 1.5):
            with pytest.raises(ValueError, match="positive integer"):
                backend.read_bytes(path, max_bytes=bound)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="SHA-256"):
            backend.read_bytes(path, sha256="abc")
        with pytest.raises(FileNotFoundError):
            backend.read_bytes(self.file(root, "absent"))

    # -- stat and links -------------------------------------------------------------------

    def test_stat_gives_kind_size_and_time(self, backend: StorageBackend, root: str) -> None:
        path = _join(root, "folder", "item" + self.suffix)
        before = time.time()
        backend.save(self.sample(6), path)
        after = time.time()
        found = _optional(lambda: backend.stat(path), "stat")
        assert isinstance(found, FileStat)
        assert found.kind == "file" and found.is_file and not found.is_dir
        assert found.size is None or (isinstance(found.size, int) and found.size >= 0)
        # File systems keep times to a second or two at worst.
        assert found.mtime is None or before - 2 <= found.mtime <= after + 2
        folder = backend.stat(_join(root, "folder"))
        assert folder.kind == "folder" and folder.is_dir and folder.size is None
        with pytest.raises(FileNotFoundError) as caught:
            backend.stat(self.file(root, "absent"))
        assert "absent" in str(caught.value) and backend.name in str(caught.value)

    def test_symlinks(self, backend: StorageBackend, root: str) -> None:
        target = self.file(root, "target")
        backend.save(self.sample(7), target)
        assert _optional(lambda: backend.is_symlink(target), "is_symlink") is False
        assert backend.is_symlink(self.file(root, "absent")) is False
        link = _join(root, "links", "link" + self.suffix)
        try:
            backend.create_symlink(target, link)
        except NotImplementedError:
            # A backend without links says so, and no path is one.
            assert not backend.exists(link) and backend.is_symlink(link) is False
            pytest.skip(f"the {backend.name} backend has no symbolic links")
        assert backend.is_symlink(link) and backend.is_file(link) and backend.exists(link)
        self.assert_same(self.sample(7), backend.load(link))
        with pytest.raises(FileExistsError):
            backend.create_symlink(target, link)
        other = self.file(root, "other")
        backend.save(self.sample(8), other)
        backend.create_symlink(other, link, overwrite=True)
        self.assert_same(self.sample(8), backend.load(link))
        with pytest.raises(FileNotFoundError):
            backend.create_symlink(self.file(root, "absent"), _join(root, "dangling"))
        backend.delete(link)  # the link, never what it points to
        assert not backend.exists(link) and not backend.is_symlink(link)
        self.assert_same(self.sample(8), backend.load(other))

    def test_stat_of_a_link_itself(self, backend: StorageBackend, root: str) -> None:
        target, link = self.file(root, "target"), _join(root, "links", "link" + self.suffix)
        backend.save(self.sample(7), target)
        try:
            backend.create_symlink(target, link)
        except NotImplementedError:
            pytest.skip(f"the {backend.name} backend has no symbolic links")
        itself = backend.stat(link, follow_symlinks=False)
        assert itself.kind == "link" and itself.is_symlink and not itself.is_file
        assert itself.target is not None and itself.target.endswith("target" + self.suffix)
        assert itself.target_exists is True
        assert backend.stat(link).kind == "file"  # followed by default
        plain = backend.stat(target, follow_symlinks=False)
        assert plain.kind == "file" and plain.target is None and plain.target_exists is None
        backend.delete(target)
        broken = backend.stat(link, follow_symlinks=False)
        assert broken.kind == "link" and broken.target_exists is False
        assert backend.is_symlink(link) and not backend.exists(link)
        with pytest.raises(FileNotFoundError):
            backend.stat(link)
        with pytest.raises(FileNotFoundError):
            backend.load(link)
        backend.delete(link)  # a broken link is removed like any other
        assert not backend.is_symlink(link)


class ReadOnlyContract:
    """What a read-only backend must do: read what is there, refuse every write.

    Give it ``backend`` (a read-only backend) and ``existing`` (the path of a
    file in it) fixtures.
    """

    def test_every_write_is_refused(self, backend: StorageBackend, existing: str) -> None:
        folder = os.path.dirname(existing) or "/"
        attempts: list[Callable[[], object]] = [
            lambda: backend.save(b"x", existing, overwrite=True),
            lambda: backend.save_batch([b"x"], [existing], overwrite=True),
            lambda: backend.delete(existing),
            lambda: backend.ensure_directory(_join(folder, "new")),
            lambda: backend.copy(existing, _join(folder, "copy")),
            lambda: backend.move(existing, _join(folder, "moved")),
            lambda: backend.create_symlink(existing, _join(folder, "link")),
        ]
        attempts.append(lambda: backend.save_batch([], []))
        for attempt in attempts:
            with pytest.raises(PermissionError, match="read-only"):
                attempt()
        assert backend.is_file(existing)
        backend.load(existing)
