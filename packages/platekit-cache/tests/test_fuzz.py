"""Whatever lies in a record file, load() never raises, and a save() heals it."""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platekit.cache import RegistryCacheManager

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)

# Records that look nearly right: every field present, each of any JSON type.
near_records = st.fixed_dictionaries(
    {},
    optional={
        "cache_version": json_values | st.just(1),
        "version": json_values | st.just("1"),
        "timestamp": json_values | st.floats(min_value=0, max_value=4e9),
        "max_age_days": json_values,
        "files": json_values | st.dictionaries(st.text(max_size=8), json_values, max_size=3),
        "items": json_values,
    },
)


def check_heals(manager: RegistryCacheManager, content: bytes) -> None:
    manager.path.parent.mkdir(parents=True, exist_ok=True)
    manager.path.write_bytes(content)
    manager.load()  # must not raise, whatever it returns
    manager.lookup()
    assert manager.save({"healed": True})
    assert manager.load() == {"healed": True}


def manager_for(cache_root: Path) -> RegistryCacheManager:
    return RegistryCacheManager("fuzzed", version="1", files=lambda: [cache_root / "plugin.py"])


@FUZZ
@given(content=st.binary(max_size=512))
def test_arbitrary_bytes_never_raise(cache_root: Path, content: bytes) -> None:
    check_heals(manager_for(cache_root), content)


@FUZZ
@given(value=json_values)
def test_arbitrary_json_never_raises(cache_root: Path, value: object) -> None:
    check_heals(manager_for(cache_root), json.dumps(value).encode())


@FUZZ
@given(record=near_records)
def test_nearly_valid_records_never_raise(cache_root: Path, record: dict[str, object]) -> None:
    manager = manager_for(cache_root)
    text = json.dumps(record)
    manager.path.parent.mkdir(parents=True, exist_ok=True)
    manager.path.write_text(text)
    found = manager.lookup()
    if found.hit:
        # Only a record that really is valid may hit.
        assert record["cache_version"] == 1 and record["version"] == "1"
        assert isinstance(record["timestamp"], (int, float))
        assert math.isfinite(record["timestamp"])
    check_heals(manager, text.encode())
