"""The viewer's layers: arrays streamed under a name, planes of one image stacked into one.

An array saved under ``B03/field1/DAPI`` is the layer of that name. With a
``z`` or ``t`` (0-based) in its metadata, a 2-D plane is placed at that
position of the layer's stack, shaped ``(t, z, y, x)`` with only the axes
given, which grows as planes arrive; a plane of another shape or type than
the stack's starts the layer afresh. Without them the array is the layer.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: The metadata keys that place a plane in its layer's stack, slowest first.
STACK_AXES = ("t", "z")
# A position beyond this is a mistake, not a stack: it would allocate that many planes.
_MAX_POSITION = 100_000


class LayerStack:
    """The layers streamed so far, and which changed since the display last looked.

    Safe to share between the thread that receives and the one that displays.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._layers: dict[str, np.ndarray] = {}
        self._axes: dict[str, tuple[str, ...]] = {}
        self._changed: dict[str, None] = {}

    def put(self, name: str, array: np.ndarray, metadata: dict[str, Any] | None) -> np.ndarray:
        """Add ``array`` to the layer ``name``; return the layer's data now.

        Raises ``ValueError`` for a ``z`` or ``t`` that is not a whole number
        from 0, or given with an array that is not 2-D.
        """
        position = _position(metadata or {})
        with self._lock:
            if not position:
                layer = array
                self._axes[name] = ()
            else:
                if array.ndim != 2:
                    raise ValueError(
                        f"a plane placed by {', '.join(position)} is 2-D, not shaped "
                        f"{array.shape}; send the planes of {name!r} one by one"
                    )
                layer = self._placed(name, array, position)
            self._layers[name] = layer
            self._changed[name] = None
            return layer

    def _placed(self, name: str, plane: np.ndarray, position: dict[str, int]) -> np.ndarray:
        axes = tuple(axis for axis in STACK_AXES if axis in position)
        index = tuple(position[axis] for axis in axes)
        layer = self._layers.get(name)
        fits = (
            layer is not None
            and self._axes.get(name) == axes
            and layer.shape[len(axes) :] == plane.shape
            and layer.dtype == plane.dtype
        )
        if not fits:
            layer = np.zeros((*(i + 1 for i in index), *plane.shape), plane.dtype)
        assert layer is not None
        needed = tuple(max(size, i + 1) for size, i in zip(layer.shape, index, strict=False))
        if needed != layer.shape[: len(axes)]:
            grown = np.zeros((*needed, *plane.shape), plane.dtype)
            grown[tuple(slice(0, size) for size in layer.shape)] = layer
            layer = grown
        layer[index] = plane
        self._axes[name] = axes
        return layer

    def take_changed(self) -> list[tuple[str, np.ndarray]]:
        """The layers changed since the last call, each once, as (name, data)."""
        with self._lock:
            names, self._changed = list(self._changed), {}
            return [(name, self._layers[name]) for name in names]

    def get(self, name: str) -> np.ndarray:
        """The layer ``name``'s data; ``KeyError`` naming the layers there are."""
        with self._lock:
            try:
                return self._layers[name]
            except KeyError:
                known = ", ".join(sorted(self._layers)) or "none yet"
                raise KeyError(f"no layer {name!r}; layers: {known}") from None


def describe(name: str, data: Any) -> dict[str, Any]:
    """A layer as the viewer reports it: name, shape, dtype and the SHA-256 of its pixels."""
    array = np.ascontiguousarray(np.asarray(data))
    return {
        "name": name,
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "sha256": hashlib.sha256(array.tobytes()).hexdigest(),
    }


def _position(metadata: dict[str, Any]) -> dict[str, int]:
    position = {}
    for axis in STACK_AXES:
        if axis not in metadata:
            continue
        value = metadata[axis]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_POSITION:
            raise ValueError(
                f"metadata {axis}={value!r} does not place a plane; give a whole number from 0 "
                f"to {_MAX_POSITION - 1}"
            )
        position[axis] = value
    return position
