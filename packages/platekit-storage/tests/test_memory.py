"""The memory backend keeps the shared contract."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from platekit.storage import MemoryBackend
from platekit.storage.testing import BackendContract


class TestMemoryBackend(BackendContract):
    suffix = ".tif"

    @pytest.fixture
    def backend(self) -> MemoryBackend:
        return MemoryBackend()

    @pytest.fixture
    def root(self) -> str:
        return "/plates/run1"

    def sample(self, n: int) -> Any:
        return np.full((4, 4), n, dtype=np.uint16)


def test_objects_of_any_kind() -> None:
    backend = MemoryBackend()
    backend.save({"wells": ["A01"]}, "/meta.json")
    backend.save("text", "notes.txt")
    assert backend.load("meta.json") == {"wells": ["A01"]}
    assert backend.load("/notes.txt") == "text"
    assert backend.list_dir("/") == ["meta.json", "notes.txt"]
