"""The viewer's layers: arrays by name, and planes with z or t stacked into one layer."""

from __future__ import annotations

import numpy as np
import pytest

from platekit.zmq._layers import LayerStack, describe


def _plane(value: int, shape: tuple[int, int] = (3, 4)) -> np.ndarray:
    return np.full(shape, value, np.uint16)


def test_an_array_is_the_layer_of_its_name_and_a_second_replaces_it() -> None:
    layers = LayerStack()
    layers.put("B03/field1/DAPI", _plane(1), None)
    layers.put("B03/field1/DAPI", _plane(2, (5, 5)), {})
    assert layers.get("B03/field1/DAPI").shape == (5, 5)
    assert [name for name, _ in layers.take_changed()] == ["B03/field1/DAPI"]
    assert layers.take_changed() == []


def test_planes_with_t_and_z_fill_one_growing_stack() -> None:
    layers = LayerStack()
    for t in range(2):
        for z in (2, 0, 1):
            layers.put("A01/GFP", _plane(10 * t + z), {"t": t, "z": z})
    stack = layers.get("A01/GFP")
    assert stack.shape == (2, 3, 3, 4)
    assert [int(stack[t, z, 0, 0]) for t in range(2) for z in range(3)] == [0, 1, 2, 10, 11, 12]


def test_z_alone_makes_a_z_stack_and_a_plane_of_another_shape_starts_afresh() -> None:
    layers = LayerStack()
    layers.put("A01/GFP", _plane(5), {"z": 1})
    assert layers.get("A01/GFP").shape == (2, 3, 4)
    assert int(layers.get("A01/GFP")[0].max()) == 0  # not yet received: empty
    layers.put("A01/GFP", _plane(6, (2, 2)), {"z": 0})
    assert layers.get("A01/GFP").shape == (1, 2, 2)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2", 10**6])
def test_a_position_that_is_no_whole_number_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(ValueError, match=f"z={bad!r}"):
        LayerStack().put("A01/GFP", _plane(1), {"z": bad})


def test_a_placed_array_must_be_a_plane() -> None:
    with pytest.raises(ValueError, match="2-D"):
        LayerStack().put("A01/GFP", np.zeros((2, 3, 4), np.uint16), {"t": 0})


def test_an_unknown_layer_names_those_there_are() -> None:
    layers = LayerStack()
    layers.put("A01/DAPI", _plane(1), None)
    with pytest.raises(KeyError, match="A01/DAPI"):
        layers.get("A01/GFP")


def test_the_description_is_the_pixels_checksum() -> None:
    array = np.arange(12, dtype=np.uint16).reshape(3, 4)
    first = describe("x", array)
    assert first["shape"] == [3, 4] and first["dtype"] == "uint16"
    assert describe("x", array.T.copy())["sha256"] != first["sha256"]
    assert describe("x", np.asfortranarray(array))["sha256"] == first["sha256"]
