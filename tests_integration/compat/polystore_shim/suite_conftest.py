"""Fixtures polystore's test files take from its repository's conftest, which its sdist leaves out.

``registry`` is a fresh disk and memory backend by name, ``file_manager`` a
``FileManager`` over it, ``sample_payloads`` an array, a text and a dict.
"""

import numpy as np
import pytest
from polystore import FileManager
from polystore.disk import DiskBackend
from polystore.memory import MemoryBackend


@pytest.fixture
def registry():
    return {"disk": DiskBackend(), "memory": MemoryBackend()}


@pytest.fixture
def file_manager(registry):
    return FileManager(registry)


@pytest.fixture
def sample_payloads():
    return {
        "array": np.arange(6).reshape(2, 3),
        "text": "hello world",
        "json": {"a": 1, "b": "two"},
    }
