"""The record reader parses JSON exactly as json.loads does, without importing json."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platekit.cache._jsonread import loads

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(value=json_values, indent=st.sampled_from([None, 0, 2]), pad=st.sampled_from(["", " \n\t"]))
def test_agrees_with_json_loads(value: object, indent: int | None, pad: str) -> None:
    text = pad + json.dumps(value, indent=indent) + pad
    assert same(loads(text), json.loads(text))


@pytest.mark.parametrize(
    "text", ["", "   ", "{", '{"a": }', "[1, 2", "1 2", '"open', "nul", '{"a": 1} x', "\ufeff{}"]
)
def test_what_json_loads_refuses_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - json.loads's own error type, whatever message
        json.loads(text)
    with pytest.raises(ValueError):  # noqa: PT011
        loads(text)


def test_deep_nesting_is_a_recursion_error_as_with_json() -> None:
    with pytest.raises(RecursionError):
        loads("[" * 100_000 + "]" * 100_000)
