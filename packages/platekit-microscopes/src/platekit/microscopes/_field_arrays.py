"""The arrays of one field's resolution levels, written plane by plane and published together.

The building block every plate written by platekit goes through: ``convert``'s
well writer and :class:`~platekit.microscopes.PlateWriter` alike.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    import numpy as np


def level_plane_shape(shape: tuple[int, int], level: int) -> tuple[int, int]:
    """A plane's ``(height, width)`` at ``level``: halved per level, odd sizes rounded up."""
    height, width = shape
    for _ in range(level):
        height, width = (height + 1) // 2, (width + 1) // 2
    return height, width


def check_levels(levels: int, shape: tuple[int, int]) -> None:
    """``ValueError`` when a level past the one that is 1 x 1 is asked for: it would repeat it."""
    most = 1
    while level_plane_shape(shape, most - 1) != (1, 1):
        most += 1
    if levels > most:
        height, width = shape
        raise ValueError(
            f"levels {levels} is more than {height} x {width} images can be halved into: level "
            f"{most} is 1 x 1 already; give at most {most} levels"
        )


def downsample_labels(labels: np.ndarray) -> np.ndarray:
    """Every second pixel of the last two axes: label values are kept, never averaged."""
    return labels[..., ::2, ::2]


def _downsample_mean(pixels: np.ndarray) -> np.ndarray:
    from platekit.microscopes.functions.arrays import downsample_mean

    return downsample_mean(pixels)


def save_levels(
    backend: Any,
    group: str,
    pixels: np.ndarray,
    levels: int,
    dimension_names: Sequence[str] | None = None,
    *,
    overwrite: bool = False,
    downsample: Callable[[np.ndarray], np.ndarray] = _downsample_mean,
) -> None:
    """Save a whole field's levels (``{group}/0``, ...), each published whole, level 0 first.

    As :class:`LevelWriters` for an image already in memory, without a
    writer thread per array. Of two writers racing for the field, the one
    whose level 0 meets the other's raises ``FileExistsError`` before it
    saves any other level.
    """
    options: dict[str, Any] = {"overwrite": overwrite}
    if dimension_names is not None:
        options["dimension_names"] = list(dimension_names)
    for level in range(levels):
        if level:
            pixels = downsample(pixels)
        backend.save(pixels, f"{group}/{level}", **options)


class LevelWriters:
    """The array writers of one field's levels (``{group}/0``, ``{group}/1``, ...).

    Each plane given to :meth:`write` goes to level 0 and, downsampled, to
    every further level. Level 0 is published first when the block ends, so
    of two writers racing for one field exactly one publishes anything: the
    other's level 0 meets the winner's, and its other levels are discarded.
    """

    def __init__(
        self,
        backend: Any,
        group: str,
        level_shapes: Sequence[tuple[int, ...]],
        dtype: str,
        dimension_names: Sequence[str] | None = None,
        *,
        overwrite: bool = False,
        downsample: Callable[[np.ndarray], np.ndarray] = _downsample_mean,
    ) -> None:
        self._backend, self._group = backend, group
        self._shapes, self._dtype = list(level_shapes), dtype
        self._options: dict[str, Any] = {"overwrite": overwrite}
        if dimension_names is not None:
            self._options["dimension_names"] = list(dimension_names)
        self._downsample = downsample
        self._contexts: list[Any] = []
        self._arrays: list[Any] = []

    def __enter__(self) -> LevelWriters:
        try:
            for level, shape in enumerate(self._shapes):
                context = self._backend.array_writer(
                    f"{self._group}/{level}", shape=shape, dtype=self._dtype, **self._options
                )
                self._arrays.append(context.__enter__())
                self._contexts.append(context)
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def write(self, index: tuple[int, ...], pixels: np.ndarray, *, copy: bool = True) -> None:
        """Put ``pixels`` (a plane, or a block of planes) at ``index`` of every level.

        With ``copy=False`` the caller hands ``pixels`` over: they are written
        as they are, while the caller goes on, so it must never change them.
        """
        for level, array in enumerate(self._arrays):
            if level:
                pixels = self._downsample(pixels)
            array.write(index, pixels, copy=copy)

    def __exit__(self, *exc_info: Any) -> None:
        # Publish level 0 first; once one level fails, the rest are discarded, the first
        # error winning.
        error: BaseException | None = exc_info[1]
        for context in self._contexts:
            try:
                if error is None:
                    context.__exit__(None, None, None)
                else:
                    context.__exit__(type(error), error, error.__traceback__)
            except BaseException as exc:
                error = error or exc
        self._contexts.clear()
        if error is not None and exc_info[0] is None:
            raise error
