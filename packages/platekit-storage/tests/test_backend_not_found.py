"""An unknown backend name raises BackendNotFoundError, and compat maps it by type, not by text."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from platekit.storage import (
    BackendNotFoundError,
    BackendRegistry,
    FileManager,
    MemoryBackend,
    StorageBackend,
    compat,
)
from platekit.storage._errors import StorageKeyError
from platekit.storage._registry import OPTIONAL_BACKENDS
from platekit.storage.compat.exceptions import UnknownBackendError


def test_registry_and_file_manager_raise_backend_not_found() -> None:
    with pytest.raises(BackendNotFoundError, match="no storage backend 'tape'") as caught:
        BackendRegistry()["tape"]
    assert isinstance(caught.value, StorageKeyError)
    fm = FileManager({"memory": MemoryBackend(), "scan": MemoryBackend(), "SCAN": MemoryBackend()})
    for name in ("tape", "Scan"):
        with pytest.raises(BackendNotFoundError, match=f"no storage backend '{name}'"):
            fm.backend(name)


def test_compat_maps_the_type_whatever_the_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BackendRegistry, "_unknown", lambda self, name: f"{name!r} is elsewhere")
    with pytest.raises(UnknownBackendError, match=r"^'tape' is elsewhere$") as caught:
        compat.FileManager(BackendRegistry()).backend("tape")
    assert isinstance(caught.value, BackendNotFoundError)
    assert isinstance(caught.value, compat.StorageResolutionError)


def test_compat_maps_an_optional_backend_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(OPTIONAL_BACKENDS, "tape", ("tape", "a tape drive"))
    with pytest.raises(UnknownBackendError, match="'tape' storage backend is not installed"):
        compat.FileManager(BackendRegistry()).load("/a", "tape")


class _Shelf(Mapping[str, StorageBackend]):
    """A mapping that says in its own words why a name is missing, and breaks on 'broken'."""

    def __getitem__(self, name: str) -> StorageBackend:
        if name == "broken":
            raise KeyError("the broken backend lost its key while being made")
        raise KeyError(f"{name} is on the shelf")

    def __contains__(self, name: object) -> bool:
        return name == "broken"

    def __iter__(self) -> Iterator[str]:
        return iter(["broken"])

    def __len__(self) -> int:
        return 1


def test_compat_maps_a_mappings_own_words_but_not_a_backend_that_failed() -> None:
    fm = compat.FileManager(_Shelf())
    with pytest.raises(UnknownBackendError, match="tape is on the shelf"):
        fm.backend("tape")
    with pytest.raises(KeyError, match="lost its key") as caught:
        fm.backend("broken")
    assert not isinstance(caught.value, BackendNotFoundError)
