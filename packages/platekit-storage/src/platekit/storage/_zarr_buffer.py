"""Writing into zarr-python arrays without its slow test for chunks that hold only the fill value.

zarr-python leaves out a chunk whose every value is the fill value, and
tests that with ``numpy.array_equal`` against the fill value broadcast to
the chunk, NaN-aware: for a 1024x1024 uint16 plane that takes about as long
as compressing it. For integer and boolean chunks one comparison gives the
same answer in a fraction of the time, so writes here pass zarr-python a
buffer prototype (its public hook for buffer classes) whose arrays answer
that way; the chunks left out and the bytes written are the same.
"""

from __future__ import annotations

from functools import cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import zarr


def write(array: zarr.Array[Any], index: Any, data: Any) -> None:
    """``array[index] = data``, through the quicker fill-value test where it applies.

    Basic indices (integers, slices, ``...``) on a zarr array using zarr's
    CPU buffers take the quicker path; anything else is a plain assignment.
    """
    import zarr

    selection = index if isinstance(index, tuple) else (index,)
    prototype = _prototype()
    basic = all(_basic(part) for part in selection)
    if prototype is None or not basic or not isinstance(array, zarr.Array):
        array[index] = data
        return
    selection, data = _as_chunks(array.shape, selection, data)
    array.set_basic_selection(selection, data, prototype=prototype)


def _as_chunks(shape: tuple[int, ...], selection: tuple[Any, ...], data: Any) -> tuple[Any, Any]:
    """A plane at integer indices as a block of size 1 on those axes, ``data`` given the same.

    zarr-python writes a block that fills its chunk as it is, where it would
    first copy a plane into a new chunk-shaped array; the bytes are the same.
    """
    import numpy as np

    if len(selection) > len(shape) or any(part is Ellipsis for part in selection):
        return selection, data
    selection = selection + (slice(None),) * (len(shape) - len(selection))
    whole = [
        isinstance(part, (int, np.integer)) and 0 <= part < size
        for part, size in zip(selection, shape, strict=True)
    ]
    if not any(whole):
        return selection, data
    data = np.asarray(data)
    if data.ndim != len(shape) - sum(whole):
        return selection, data  # a value broadcast over the selection
    axes = tuple(axis for axis, flag in enumerate(whole) if flag)
    blocks = tuple(
        slice(int(part), int(part) + 1) if flag else part
        for part, flag in zip(selection, whole, strict=True)
    )
    return blocks, np.expand_dims(data, axes)


def _basic(part: object) -> bool:
    import numpy as np

    if isinstance(part, bool):  # an index of booleans is a mask, not a position
        return False
    return part is Ellipsis or isinstance(part, (slice, int, np.integer))


def _prototype() -> Any:
    """The CPU buffer prototype with the quicker test, or ``None`` when zarr is set to others."""
    from zarr.core.buffer import cpu, default_buffer_prototype

    default = default_buffer_prototype()
    if default.nd_buffer is not cpu.NDBuffer or default.buffer is not cpu.Buffer:
        return None  # GPU or other buffers configured: leave them be
    return _quick_prototype()


@cache
def _quick_prototype() -> Any:
    import numpy as np
    from zarr.core.buffer import BufferPrototype, cpu

    class _QuickNDBuffer(cpu.NDBuffer):
        def all_equal(self, other: Any, equal_nan: bool = True) -> bool:
            data = self._data
            if other is None or data.dtype.kind not in "biu" or np.ndim(other) != 0:
                return bool(super().all_equal(other, equal_nan=equal_nan))
            return bool((data == other).all())

    return BufferPrototype(buffer=cpu.Buffer, nd_buffer=_QuickNDBuffer)
