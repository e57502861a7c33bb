"""The zarr backend's user attributes: read and set on arrays, groups and store roots,
in both Zarr formats, replaced or merged, JSON only, written atomically."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

zarr = pytest.importorskip("zarr", minversion="3")

from platekit.storage.backends.zarr import ZarrBackend  # noqa: E402


@pytest.fixture(params=[3, 2], ids=["v3", "v2"])
def backend(request: pytest.FixtureRequest) -> ZarrBackend:
    return ZarrBackend(zarr_format=request.param)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "plate.zarr"


def plate(backend: ZarrBackend, store: Path) -> dict[str, Path]:
    """A store with a group and an array; their paths by kind."""
    backend.save(np.ones((4, 4), dtype=np.uint16), store / "A" / "1" / "0")
    return {"root": store, "group": store / "A" / "1", "array": store / "A" / "1" / "0"}


@pytest.mark.parametrize("kind", ["root", "group", "array"])
def test_set_attributes_replaces_and_merge_updates_top_level_keys(
    backend: ZarrBackend, store: Path, kind: str
) -> None:
    path = plate(backend, store)[kind]
    assert backend.attributes(path) == {}

    ome = {"version": "0.5", "multiscales": [{"axes": [{"name": "y"}, {"name": "x"}]}]}
    backend.set_attributes(path, {"ome": ome, "note": "first"})
    assert backend.attributes(path) == {"ome": ome, "note": "first"}

    backend.set_attributes(path, {"note": "second", "extra": [1, 2.5, None, True]}, merge=True)
    assert backend.attributes(path) == {"ome": ome, "note": "second", "extra": [1, 2.5, None, True]}

    backend.set_attributes(path, {"only": {"nested": "kept whole"}})
    assert backend.attributes(path) == {"only": {"nested": "kept whole"}}

    # What other readers see, and the node is still what it was.
    opened = zarr.open(str(path), mode="r", zarr_format=backend.zarr_format)
    assert opened.attrs.asdict() == {"only": {"nested": "kept whole"}}
    if kind == "array":
        np.testing.assert_array_equal(backend.load(path), np.ones((4, 4), dtype=np.uint16))
    else:
        assert backend.is_dir(path)
    backend.set_attributes(path, {})
    assert backend.attributes(path) == {}


def test_the_metadata_document_of_each_format_holds_the_attributes(
    backend: ZarrBackend, store: Path
) -> None:
    paths = plate(backend, store)
    backend.set_attributes(paths["group"], {"well": {"images": [{"path": "0"}]}})
    backend.set_attributes(paths["array"], {"level": 0})
    if backend.zarr_format == 3:
        group = json.loads((paths["group"] / "zarr.json").read_text())
        array = json.loads((paths["array"] / "zarr.json").read_text())
        assert group["node_type"] == "group" and group["attributes"]["well"]["images"]
        assert array["node_type"] == "array" and array["attributes"] == {"level": 0}
        assert array["shape"] == [4, 4]
    else:
        assert json.loads((paths["group"] / ".zattrs").read_text())["well"]["images"]
        assert json.loads((paths["array"] / ".zattrs").read_text()) == {"level": 0}
        assert json.loads((paths["group"] / ".zgroup").read_text()) == {"zarr_format": 2}
    assert list(store.rglob(".platekit-tmp-*")) == []


def test_a_root_without_metadata_gets_attributes_as_a_group_of_the_backends_format(
    backend: ZarrBackend, store: Path
) -> None:
    store.mkdir()
    assert backend.attributes(store) == {}
    backend.set_attributes(store, {"plate": {"name": "P1"}})
    assert backend.attributes(store) == {"plate": {"name": "P1"}}
    group = zarr.open_group(str(store), mode="r", zarr_format=backend.zarr_format)
    assert group.attrs["plate"] == {"name": "P1"}


def test_attributes_of_the_other_format_can_be_read_and_set(store: Path) -> None:
    ZarrBackend(zarr_format=2).save(np.zeros((2, 2)), store / "0", attributes={"a": 1})
    backend = ZarrBackend()
    assert backend.attributes(store / "0") == {"a": 1}
    backend.set_attributes(store / "0", {"b": 2}, merge=True)
    assert json.loads((store / "0" / ".zattrs").read_text()) == {"a": 1, "b": 2}
    assert not (store / "0" / "zarr.json").exists()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (np.int64(3), "int64"),
        (np.array([1, 2]), "ndarray"),
        ({1: "a"}, "non-string key 1"),
        ([1, {2, 3}], "set"),
        (math.nan, "not a finite number"),
        ({"deep": [math.inf]}, "not a finite number"),
        (b"bytes", "bytes"),
        (Path("/x"), "Path"),
    ],
)
def test_values_that_are_not_json_are_refused_naming_the_key(
    backend: ZarrBackend, store: Path, value: Any, problem: str
) -> None:
    path = plate(backend, store)["array"]
    backend.set_attributes(path, {"kept": True})
    with pytest.raises(TypeError, match="not JSON-safe") as caught:
        backend.set_attributes(path, {"fine": 1, "bad_key": value}, merge=True)
    assert "'bad_key'" in str(caught.value) and problem in str(caught.value)
    assert backend.attributes(path) == {"kept": True}
    with pytest.raises(TypeError, match="not JSON-safe"):
        backend.save(np.zeros((2, 2)), store / "new", attributes={"bad_key": value})
    assert not backend.exists(store / "new")


def test_keys_must_be_strings_and_attributes_a_dict(backend: ZarrBackend, store: Path) -> None:
    path = plate(backend, store)["group"]
    with pytest.raises(TypeError, match="must be strings, not 3"):
        backend.set_attributes(path, {3: "x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="must be a dict"):
        backend.set_attributes(path, [("a", 1)])  # type: ignore[arg-type]
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(TypeError, match="nested deeper"):
        backend.set_attributes(path, {"cycle": cycle})
    assert backend.attributes(path) == {}


def test_tuples_are_stored_as_lists_and_the_callers_dict_is_not_kept(
    backend: ZarrBackend, store: Path
) -> None:
    path = plate(backend, store)["group"]
    given: dict[str, Any] = {"scale": (1.0, 0.65, 0.65), "items": []}
    backend.set_attributes(path, given)
    given["items"].append("changed later")
    assert backend.attributes(path) == {"scale": [1.0, 0.65, 0.65], "items": []}


def test_a_missing_node_is_not_found(backend: ZarrBackend, store: Path) -> None:
    plate(backend, store)
    for missing in (store / "B", store / "A" / "1" / "0" / "0", store.parent / "none.zarr"):
        with pytest.raises(FileNotFoundError) as caught:
            backend.set_attributes(missing, {"a": 1})
        assert str(missing) in str(caught.value)
        with pytest.raises(FileNotFoundError):
            backend.attributes(missing)
    assert not (store.parent / "none.zarr").exists()


def test_readers_see_the_old_attributes_or_the_new_never_a_broken_document(
    backend: ZarrBackend, store: Path
) -> None:
    path = plate(backend, store)["array"]
    versions = [{"version": n, "payload": "x" * 20000} for n in (1, 2)]
    backend.set_attributes(path, versions[0])
    stop = threading.Event()
    errors: list[BaseException] = []

    def rewrite() -> None:
        n = 0
        try:
            while not stop.is_set():
                n += 1
                backend.set_attributes(path, versions[n % 2])
        except BaseException as exc:  # reported below
            errors.append(exc)

    writer = threading.Thread(target=rewrite)
    writer.start()
    seen = set()
    try:
        for _ in range(300):
            found = backend.attributes(path)
            assert found in versions
            seen.add(found["version"])
            assert backend.is_file(path)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not errors and seen
    np.testing.assert_array_equal(backend.load(path), np.ones((4, 4), dtype=np.uint16))
