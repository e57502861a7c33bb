"""FileManager: backends registered on it, names in any case, and what it refuses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from platekit.storage import (
    BackendRegistry,
    DiskBackend,
    FileManager,
    MemoryBackend,
    StorageError,
)


@pytest.mark.parametrize("given", [None, ["memory"], "memory", MemoryBackend()])
def test_something_other_than_a_mapping_is_refused_with_what_to_pass(given: Any) -> None:
    with pytest.raises(TypeError) as caught:
        FileManager(given)
    message = str(caught.value)
    assert "FileManager(BackendRegistry())" in message and "{'memory': MemoryBackend()}" in message
    assert isinstance(caught.value, StorageError)


def test_register_backend_adds_a_backend_to_this_file_manager_only() -> None:
    given = {"memory": MemoryBackend()}
    fm = FileManager(given)
    scratch = MemoryBackend()
    fm.register_backend("scratch", scratch)
    fm.save(np.zeros(3), "/a.npy", "scratch")
    assert scratch.exists("/a.npy") and not given["memory"].exists("/a.npy")
    assert fm.backend("scratch") is scratch
    assert "scratch" not in given  # the mapping it was given is not changed
    assert repr(fm) == "FileManager(['scratch', 'memory'])"
    assert FileManager(given).backends == given


def test_register_backend_refuses_a_taken_name_unless_asked_to_replace() -> None:
    first, second = MemoryBackend(), MemoryBackend()
    fm = FileManager({"memory": first})
    with pytest.raises(ValueError, match="'memory' is already in this FileManager; pass replace"):
        fm.register_backend("Memory", second)
    fm.register_backend("Memory", second, replace=True)
    assert fm.backend("memory") is second and fm.backend("MEMORY") is second


def test_register_backend_wants_a_backend_instance() -> None:
    fm = FileManager({})
    with pytest.raises(TypeError, match=r"not the class DiskBackend: pass DiskBackend\(\)"):
        fm.register_backend("disk", DiskBackend)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="StorageBackend instance, not dict"):
        fm.register_backend("disk", {})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="non-empty string"):
        fm.register_backend("", MemoryBackend())


def test_register_backend_on_a_registry_leaves_the_registry_alone() -> None:
    registry = BackendRegistry()
    fm = FileManager(registry)
    fm.register_backend("scratch", MemoryBackend())
    assert "scratch" not in registry and fm.backend("disk") is registry["disk"]


def test_names_match_in_any_case() -> None:
    memory = MemoryBackend()
    fm = FileManager({"memory": memory})
    for name in ("memory", "Memory", "MEMORY"):
        assert fm.backend(name) is memory
    fm.save(b"x", "/a.bin", "Memory")
    assert fm.load("/a.bin", "MEMORY") == b"x"
    registry = FileManager(BackendRegistry())
    assert registry.backend("Disk") is registry.backend("disk")


def test_names_that_differ_only_in_case_must_be_named_exactly() -> None:
    a, b = MemoryBackend(), MemoryBackend()
    fm = FileManager({"scan": a, "SCAN": b})
    assert fm.backend("scan") is a and fm.backend("SCAN") is b
    with pytest.raises(KeyError, match="'scan' and 'SCAN' differ from it only in case"):
        fm.backend("Scan")


def test_an_unknown_name_lists_the_available_ones() -> None:
    fm = FileManager({"memory": MemoryBackend()})
    fm.register_backend("scratch", MemoryBackend())
    with pytest.raises(KeyError, match=r"no storage backend 'tape'.*available: scratch, memory"):
        fm.load("/x", "tape")
