"""A field written plane by plane: what :meth:`PlateWriter.field_planes` gives to assign into."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from platekit.microscopes._field_arrays import LevelWriters
    from platekit.microscopes._layout import PlateLayout


class FieldPlanes:
    """Planes of one field, assigned as ``planes[t, c, z] = plane`` (0-based numbers).

    Each plane is a ``(y, x)`` array of the layout's image shape and dtype;
    it goes to every resolution level at once, so only a few planes are in
    memory at a time. Planes never assigned read as 0.
    """

    def __init__(self, writers: LevelWriters, axes: list[str], layout: PlateLayout, what: str):
        self._writers, self._axes, self._layout, self._what = writers, axes, layout, what
        #: Each channel's (min, max) over the planes assigned, by channel number.
        self.windows: dict[int, tuple[float, float]] = {}

    def __setitem__(self, index: tuple[int, int, int], plane: Any) -> None:
        """Write ``plane`` at ``(t, c, z)``; ``IndexError`` or ``ValueError`` naming the fault."""
        import numpy as np

        layout = self._layout
        sizes = {"t": layout.t_count, "c": len(layout.channels), "z": layout.z_count}
        if not isinstance(index, tuple) or len(index) != 3:
            raise IndexError(f"planes of {self._what} are numbered (t, c, z), not {index!r}")
        position = dict(zip("tcz", index, strict=True))
        for axis, value in position.items():
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise IndexError(f"{axis} {value!r} of {self._what} is not a whole number")
            if not 0 <= value < sizes[axis]:
                raise IndexError(
                    f"{axis} {value} is outside {self._what}, whose {axis} runs from 0 to "
                    f"{sizes[axis] - 1}"
                )
        pixels = np.asarray(plane)
        if pixels.shape != layout.image_shape or str(pixels.dtype) != layout.dtype:
            given = "x".join(map(str, pixels.shape)) or "scalar"
            height, width = layout.image_shape
            raise ValueError(
                f"the plane {index} of {self._what} is {given} {pixels.dtype} where the plate's "
                f"layout declares {height}x{width} {layout.dtype}; give a plane of that shape "
                "and dtype"
            )
        self._writers.write(tuple(position[axis] for axis in self._axes[:-2]), pixels)
        channel = layout.channels[position["c"]].id
        low, high = self.windows.get(channel, (float("inf"), float("-inf")))
        self.windows[channel] = (min(low, float(pixels.min())), max(high, float(pixels.max())))
