"""cached_enum: built once, read back from the cache, with its base's methods, picklable."""

from __future__ import annotations

import json
import pickle
import sys
import textwrap
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path

import pytest

from platekit.cache import RegistryCacheManager, cached_enum

RunPython = Callable[..., str]

COMPONENTS = {"WELL": "well", "SITE": "site", "CHANNEL": "channel", "Z_INDEX": "z_index"}


class ComponentBase(Enum):
    """Methods a cached enum must keep."""

    @property
    def column(self) -> str:
        return f"{self.value}_id"

    def describe(self) -> str:
        return f"{self.name.lower()} ({self.value})"

    @classmethod
    def names(cls) -> list[str]:
        return [member.name for member in cls]


class Producer:
    def __init__(self, members: dict[str, object]) -> None:
        self.members = members
        self.calls = 0

    def __call__(self) -> dict[str, object]:
        self.calls += 1
        return self.members


def test_producer_runs_once_then_the_cache_answers() -> None:
    producer = Producer(COMPONENTS)
    first = cached_enum("Component", producer, version="1", max_age_days=7)
    second = cached_enum("Component", producer, version="1", max_age_days=7)
    assert producer.calls == 1
    assert [(m.name, m.value) for m in first] == [(m.name, m.value) for m in second]
    assert list(COMPONENTS) == [m.name for m in second]


def test_a_new_version_runs_the_producer_again() -> None:
    producer = Producer(COMPONENTS)
    cached_enum("Component", producer, version="1", max_age_days=7)
    cached_enum("Component", producer, version="2", max_age_days=7)
    assert producer.calls == 2


def test_base_methods_work_the_same_on_a_fresh_and_a_cached_enum() -> None:
    producer = Producer(COMPONENTS)
    fresh = cached_enum("Component", producer, version="1", max_age_days=7, base=ComponentBase)
    cached = cached_enum("Component", producer, version="1", max_age_days=7, base=ComponentBase)
    assert producer.calls == 1
    for made in (fresh, cached):
        assert made.WELL.column == "well_id"
        assert made.Z_INDEX.describe() == "z_index (z_index)"
        assert made.names() == list(COMPONENTS)
        assert issubclass(made, ComponentBase)
        assert made("site") is made.SITE


def test_values_pass_through_json_so_fresh_and_cached_agree() -> None:
    producer = Producer({"ORIGIN": (0, 0), "NONE": None, "FLAGS": {"a": 1}})
    fresh = cached_enum("Shapes", producer, version="1", max_age_days=7)
    cached = cached_enum("Shapes", producer, version="1", max_age_days=7)
    assert fresh.ORIGIN.value == cached.ORIGIN.value == [0, 0]
    assert fresh.NONE.value is None and cached.NONE.value is None


def test_enable_cache_false_never_reads_or_writes() -> None:
    producer = Producer(COMPONENTS)
    cached_enum("Component", producer, version="1", max_age_days=7, enable_cache=False)
    cached_enum("Component", producer, version="1", max_age_days=7, enable_cache=False)
    assert producer.calls == 2
    assert not RegistryCacheManager("enum.Component", version="1").path.exists()


def test_a_record_that_cannot_make_an_enum_is_rebuilt() -> None:
    producer = Producer(COMPONENTS)
    cached_enum("Component", producer, version="1", max_age_days=7)
    manager = RegistryCacheManager("enum.Component", version="1", max_age_days=7)
    for bad_items in ({"not an identifier": 1}, ["WELL"], {}, {"_sunder_": 1}):
        record = json.loads(manager.path.read_text())
        record["items"] = bad_items
        manager.path.write_text(json.dumps(record))
        made = cached_enum("Component", producer, version="1", max_age_days=7)
        assert [m.name for m in made] == list(COMPONENTS)
    assert producer.calls == 5


@pytest.mark.parametrize(
    ("produced", "error", "match"),
    [
        (["A", "B"], TypeError, "mapping"),
        ({}, ValueError, "no members"),
        ({"A": object()}, TypeError, "JSON values"),
        ({"A": float("nan")}, TypeError, "JSON values"),
        ({"not valid": 1}, ValueError, "'not valid'"),
        ({"__dunder": 1}, ValueError, "'__dunder'"),
    ],
)
def test_a_bad_producer_gets_a_clear_error(
    produced: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        cached_enum("Bad", lambda: produced, version="1", max_age_days=7)  # type: ignore[arg-type,return-value]
    assert not RegistryCacheManager("enum.Bad", version="1").path.exists()


def test_an_invalid_name_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot name a file"):
        cached_enum("no/slash", lambda: COMPONENTS, version="1", max_age_days=7)


MODULE = textwrap.dedent(
    """
    import os
    from enum import Enum
    from platekit.cache import cached_enum

    class Base(Enum):
        def shout(self):
            return self.value.upper()

    def produce():
        with open(os.environ["PRODUCER_LOG"], "a") as fh:
            fh.write("ran\\n")
        return {"RED": "red", "GREEN": "green", "BLUE": "blue"}

    Color = cached_enum("Color", produce, version="1", max_age_days=30, base=Base)
    """
)


@pytest.fixture
def color_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "modules"
    folder.mkdir()
    (folder / "palette.py").write_text(MODULE)
    monkeypatch.setenv("PRODUCER_LOG", str(tmp_path / "producer.log"))
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    sys.modules.pop("palette", None)


def test_producer_runs_once_across_two_processes(
    color_module: Path, tmp_path: Path, run_python: RunPython
) -> None:
    code = "from palette import Color; print([m.name for m in Color], Color.RED.shout())"
    first = run_python(code, extra_path=color_module)
    second = run_python(code, extra_path=color_module)
    assert first == second == "['RED', 'GREEN', 'BLUE'] RED\n"
    assert (tmp_path / "producer.log").read_text() == "ran\n"


def test_members_pickle_and_unpickle_to_the_same_member(
    color_module: Path, tmp_path: Path, run_python: RunPython
) -> None:
    import palette

    assert palette.Color.__module__ == "palette"
    assert palette.Color.__qualname__ == "Color"
    data = pickle.dumps(palette.Color.GREEN)
    assert pickle.loads(data) is palette.Color.GREEN
    # A second process rebuilds the enum from the cache and unpickles into it.
    out = run_python(
        f"import pickle; m = pickle.loads({data!r}); print(m.name, m.shout(), type(m).__name__)",
        extra_path=color_module,
    )
    assert out == "GREEN GREEN Color\n"
    assert (tmp_path / "producer.log").read_text() == "ran\n"
