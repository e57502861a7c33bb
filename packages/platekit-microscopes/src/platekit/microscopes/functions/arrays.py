"""platekit's own image functions: projections, normalisation and pyramid downsampling.

Plain numpy, on arrays whose last two axes are ``(y, x)``. These are the
functions of the built-in ``platekit`` function library, and the ones the
OME-Zarr conversion uses (:func:`downsample_mean` builds its pyramids).

**Integer means are exact.** :func:`mean_projection` and
:func:`downsample_mean` sum integers exactly (in 32- or 64-bit integers;
64-bit images through a split into high and low halves) and divide with
integer arithmetic, so the result is the true mean rounded to the nearest
integer, halves to the even neighbour (as ``numpy.rint`` rounds): a block of
``1, 2, 2, 2`` (mean 1.75) gives 2, ``1, 1, 2, 2`` (1.5) gives 2 and
``2, 2, 3, 3`` (2.5) gives 2. Floating-point images are averaged in float64
(or their own dtype when wider: longdouble, complex) and rounded once to
their own dtype.

numpy is imported inside each function, so that discovering function
libraries does not import it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    import numpy as np
    from numpy.typing import ArrayLike, DTypeLike

    Reduce = Callable[[np.ndarray[Any, Any], Any], np.ndarray[Any, Any]]

__all__ = ["downsample_mean", "max_projection", "mean_projection", "normalize_percentile"]


def max_projection(stack: ArrayLike, axis: int = 0) -> np.ndarray[Any, Any]:
    """The maximum along ``axis`` (the z axis of a ``(z, y, x)`` stack by default), same dtype.

    Raises ``ValueError`` for an empty stack and ``numpy.exceptions.AxisError``
    for an axis the stack does not have.
    """
    import numpy as np

    array = np.asarray(stack)
    if array.ndim and array.shape[axis] == 0:
        raise ValueError(f"cannot project an empty stack of shape {array.shape} along axis {axis}")
    return np.asarray(np.max(array, axis=axis))


def mean_projection(
    stack: ArrayLike, axis: int = 0, dtype: DTypeLike | None = None
) -> np.ndarray[Any, Any]:
    """The mean along ``axis``, in ``dtype`` (the stack's own dtype by default).

    Integer results are the exact mean rounded half to even (see the module
    notes); pass ``dtype=numpy.float64`` for the unrounded mean. Raises
    ``ValueError`` for an empty stack.
    """
    import numpy as np

    array = np.asarray(stack)
    if array.ndim == 0 or array.shape[axis] == 0:
        raise ValueError(f"cannot project an empty stack of shape {array.shape} along axis {axis}")
    target = np.dtype(dtype) if dtype is not None else array.dtype
    count = array.shape[axis]

    def reduce(values: np.ndarray[Any, Any], accumulator: Any) -> np.ndarray[Any, Any]:
        return np.asarray(np.sum(values, axis=axis, dtype=accumulator))

    if target.kind in "iub" and array.dtype.kind in "iub":
        return _integer_mean(array, reduce, np.int64(count)).astype(target)
    means = np.asarray(_float_sums(array, reduce) / count)
    if target.kind in "iub":
        means = np.rint(means)  # a float stack asked for integers: nearest, not truncated
    return means.astype(target)


def normalize_percentile(
    image: ArrayLike,
    low: float = 1.0,
    high: float = 99.0,
    dtype: DTypeLike = "float32",
    channel_axis: int | None = None,
) -> np.ndarray[Any, Any]:
    """Stretch the ``low``-th to ``high``-th percentile of ``image`` over the range of ``dtype``.

    Values at or below the low percentile become 0, values at or above the
    high one the top of the range: 1.0 for a floating-point ``dtype``, its
    largest value for an integer one (rounded to the nearest, halves to
    even). With ``channel_axis``, each channel along that axis gets its own
    percentiles. A channel whose two percentiles are equal (a flat image)
    becomes all 0. Raises ``ValueError`` unless ``0 <= low < high <= 100``
    and ``dtype`` is a numeric type that is not complex.
    """
    import numpy as np

    if not 0 <= low < high <= 100:
        raise ValueError(
            f"percentiles must satisfy 0 <= low < high <= 100, got low={low}, high={high}"
        )
    target = np.dtype(dtype)
    if target.kind not in "iuf":
        raise ValueError(f"normalize_percentile makes integer or float images, not {target}")
    array = np.asarray(image)
    if array.size == 0:
        return np.zeros(array.shape, dtype=target)
    if channel_axis is None:
        axes: tuple[int, ...] | None = None
    else:
        channel = channel_axis % array.ndim
        axes = tuple(axis for axis in range(array.ndim) if axis != channel)
    data = array.astype(np.float64, copy=False)
    bottom, top = np.percentile(data, [low, high], axis=axes, keepdims=True)
    span = top - bottom
    flat = span <= 0
    scaled = (data - bottom) / np.where(flat, 1.0, span)
    scaled = np.where(flat, 0.0, np.clip(scaled, 0.0, 1.0))
    if target.kind == "f":
        return scaled.astype(target)
    return np.asarray(np.rint(scaled * np.iinfo(target).max)).astype(target)


def downsample_mean(image: ArrayLike, factor: int = 2) -> np.ndarray[Any, Any]:
    """Each ``factor`` x ``factor`` block of the last two axes replaced by its mean, same dtype.

    The result has ``ceil(height / factor)`` rows and ``ceil(width /
    factor)`` columns: blocks cut short by an odd edge are averaged over the
    pixels they hold (a 5 x 5 image gives 3 x 3; its last row averages
    blocks of one row and two columns, its corner is the corner pixel).
    Leading axes (c, z, ...) are kept. Integer means are exact and rounded
    half to even (see the module notes). No Python loop touches pixels:
    blocks are summed by whole-array additions of strided views. Raises
    ``ValueError`` for fewer than two axes or a factor below 1.
    """
    import numpy as np

    array = np.asarray(image)
    if array.ndim < 2:
        raise ValueError(
            f"downsample_mean needs an image with y and x axes, got shape {array.shape}"
        )
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"the downsampling factor must be a whole number >= 1, got {factor!r}")
    if factor == 1:
        return np.array(array, copy=True)
    height, width = array.shape[-2:]
    # A factor beyond the image gives the same single block; clamping keeps counts small.
    factor = int(min(factor, max(height, width, 1)))
    counts = _block_counts(height, width, factor)

    def reduce(values: np.ndarray[Any, Any], accumulator: Any) -> np.ndarray[Any, Any]:
        return _block_sums(values, factor, accumulator)

    if array.dtype.kind in "iub":
        return _integer_mean(array, reduce, counts).astype(array.dtype)
    return np.asarray(_float_sums(array, reduce) / counts).astype(array.dtype)


# -- exact means ------------------------------------------------------------------------


def _block_counts(height: int, width: int, factor: int) -> np.ndarray[Any, Any]:
    """How many pixels each output pixel averages: ``factor**2`` except along short edges."""
    import numpy as np

    def sizes(length: int) -> np.ndarray[Any, Any]:
        full, rest = divmod(length, factor)
        return np.array([factor] * full + ([rest] if rest else []), dtype=np.int64)

    return np.outer(sizes(height), sizes(width))


def _block_sums(
    values: np.ndarray[Any, Any], factor: int, accumulator: Any
) -> np.ndarray[Any, Any]:
    """Sums of the ``factor`` x ``factor`` blocks of the last two axes, in ``accumulator``.

    Whole-array additions of strided views, one per offset inside a block and
    axis (two per axis for a factor of 2), never a loop over pixels: numpy
    reduces short axes of a reshaped view several times slower. A view taken
    at an offset past a short edge is one block shorter, so edge blocks sum
    only the pixels they hold.
    """
    import numpy as np

    height, width = values.shape[-2:]
    lead = values.shape[:-2]
    rows, cols = -(-height // factor), -(-width // factor)
    down = np.zeros((*lead, rows, width), dtype=accumulator)
    for offset in range(min(factor, height)):
        part = values[..., offset::factor, :]
        down[..., : part.shape[-2], :] += part
    sums = np.zeros((*lead, rows, cols), dtype=accumulator)
    for offset in range(min(factor, width)):
        part = down[..., offset::factor]
        sums[..., : part.shape[-1]] += part
    return sums


def _float_sums(array: np.ndarray[Any, Any], reduce: Reduce) -> np.ndarray[Any, Any]:
    import numpy as np

    # float64 at least; longdouble and complex keep their own precision.
    accumulator = (
        np.promote_types(array.dtype, np.float64) if array.dtype.kind in "fc" else np.float64
    )
    return reduce(array, accumulator)


def _integer_mean(array: np.ndarray[Any, Any], reduce: Reduce, counts: Any) -> np.ndarray[Any, Any]:
    """The exact mean of integers, rounded half to even.

    Up to 32-bit values, sums are exact in int64 (int32 for values of at most
    16 bits when no sum can reach 2**31: half the memory traffic). 64-bit
    values are split into high and low 32-bit halves, summed apart and
    recombined by integer division, so no sum can overflow.
    """
    import numpy as np

    if array.dtype.kind == "b" or array.dtype.itemsize <= 4:
        small = array.dtype.itemsize <= 2 and int(np.max(counts, initial=1)) < 1 << 15
        accumulator = np.int32 if small else np.int64
        counts = np.asarray(counts).astype(accumulator)
        quotient, remainder = np.divmod(reduce(array, accumulator), counts)
        return _round_half_even(quotient, remainder, counts)
    kind = np.uint64 if array.dtype.kind == "u" else np.int64
    values = array.astype(kind, copy=False)
    shift, mask = kind(32), kind(0xFFFFFFFF)
    counts = np.asarray(counts).astype(kind)
    high = reduce(values >> shift, kind)  # floor shift: high * 2**32 + low == value
    low = reduce(values & mask, kind)
    high_quotient, high_rest = np.divmod(high, counts)
    # total / n == high_quotient * 2**32 + (high_rest * 2**32 + low) / n, every term exact;
    # an int64 product may wrap, but the result fits, and wrapping is exact modulo 2**64.
    quotient, remainder = np.divmod((high_rest << shift) + low, counts)
    return _round_half_even(high_quotient * (mask + kind(1)) + quotient, remainder, counts)


def _round_half_even(quotient: Any, remainder: Any, counts: Any) -> np.ndarray[Any, Any]:
    """``quotient + remainder / counts`` (``0 <= remainder < counts``) rounded half to even."""
    import numpy as np

    # Up when 2r > n, or 2r == n and the quotient is odd: that is 2r + (q & 1) > n.
    rounded: np.ndarray[Any, Any] = np.asarray(quotient)  # a temporary: safe to change in place
    rounded += (remainder * 2 + (rounded & 1)) > counts
    return rounded
