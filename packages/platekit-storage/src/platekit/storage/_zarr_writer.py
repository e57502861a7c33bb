"""How the ``zarr`` backend creates arrays: the options both ways of writing one share
(``save`` and ``array_writer``, Zarr v3 and v2), and the writer that fills an
array piece by piece before it is published.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    import numpy as np
    import zarr

    from platekit.storage._zarr_config import ZarrConfig

#: zarr.create_array options passed through as they are.
PASSTHROUGH = frozenset(
    {
        "shards",
        "filters",
        "serializer",
        "fill_value",
        "order",
        "dimension_names",
        "chunk_key_encoding",
        "config",
    }
)
#: The options the backend reads itself before handing them to zarr.create_array.
OWN = frozenset({"chunks", "compressors", "attributes", "zarr_config"})
#: OME-NGFF 0.4 asks for "/" between the indices of a v2 chunk key ("0/3/1"), not ".".
_V2_CHUNK_KEYS = {"name": "v2", "separator": "/"}


def as_array(data: Any, path: str) -> np.ndarray[Any, Any]:
    """``data`` as a numpy array the backend can store; ``TypeError`` otherwise."""
    if not hasattr(type(data), "__array__"):
        raise TypeError(
            f"the zarr backend stores arrays, not {type(data).__name__}: {path!r} is inside a "
            "Zarr store. Save JSON, text or bytes through the disk backend, outside the .zarr "
            "folder, or attach JSON-safe metadata to an array with save(..., attributes={...})."
        )
    import numpy as np

    array = np.asarray(data)
    check_dtype(array.dtype, path)
    return array


def check_dtype(dtype: np.dtype[Any], path: str) -> None:
    if dtype.hasobject:
        raise TypeError(
            f"the zarr backend cannot store an array of Python objects at {path!r}; "
            "convert it to a numeric, boolean or string dtype first"
        )


def as_shape(shape: int | Sequence[int], path: str) -> tuple[int, ...]:
    """``shape`` as a tuple of sizes, as numpy takes it (one int or a sequence of them)."""
    import operator

    try:
        if isinstance(shape, Iterable):
            sizes = tuple(operator.index(size) for size in shape)
        else:
            sizes = (operator.index(shape),)
    except TypeError:
        raise TypeError(
            f"the shape of the array at {path!r} must be an int or a sequence of ints, "
            f"not {shape!r}"
        ) from None
    if any(size < 0 for size in sizes):
        raise ValueError(f"the shape of the array at {path!r} has a negative size: {sizes}")
    return sizes


def plane_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """One chunk per 2-D plane: ``(1, ..., 1, height, width)``; a 0-D or 1-D array is one chunk."""
    whole = tuple(max(1, size) for size in shape[-2:])
    return (1,) * max(0, len(shape) - 2) + whole


def create_options(
    shape: tuple[int, ...],
    kwargs: dict[str, Any],
    zarr_format: int,
    method: str,
    where: str,
    config: ZarrConfig,
) -> dict[str, Any]:
    """The zarr.create_array keywords for an array of ``shape``, defaults filled in.

    ``config`` is the backend's :class:`ZarrConfig`; a ``zarr_config`` in
    ``kwargs`` replaces it for this call, and ``chunks``, ``compressors``
    and ``shards`` given in ``kwargs`` win over either. ``method`` names
    the backend method in errors, ``where`` the path. Raises ``TypeError``
    for an unknown option, attributes that are not JSON, a ``zarr_config``
    that is not a :class:`ZarrConfig`, or ``dimension_names`` or shards for
    Zarr v2 (which has neither).
    """
    from platekit.storage._zarr_attributes import json_attributes
    from platekit.storage._zarr_config import ZarrConfig

    options = dict(kwargs)
    unknown = set(options) - PASSTHROUGH - OWN
    if unknown:
        raise TypeError(
            f"the zarr backend's {method}() does not take {sorted(unknown)}; it takes chunks, "
            f"compressors, attributes, zarr_config and {', '.join(sorted(PASSTHROUGH))}"
        )
    for name in (
        "chunks",
        "attributes",
        "fill_value",
        "dimension_names",
        "chunk_key_encoding",
        "shards",
        "zarr_config",
    ):
        if name in options and options[name] is None:
            del options[name]  # None means "the default", as if not given
    chosen = options.pop("zarr_config", config)
    if not isinstance(chosen, ZarrConfig):
        raise TypeError(
            f"zarr_config must be a platekit.storage.ZarrConfig, not {type(chosen).__name__}"
        )
    options.setdefault("chunks", chosen.chunk_shape(shape))
    compressors = options.get("compressors", "auto")
    if isinstance(compressors, str) and compressors == "auto":
        options["compressors"] = chosen.compressors(zarr_format)
    shards = chosen.shard_shape(shape)
    if shards is not None:
        options.setdefault("shards", shards)
    if zarr_format == 2 and "shards" in options:
        raise TypeError(
            f"Zarr v2 arrays have no shards, so a zarr_format=2 backend cannot write "
            f"{where!r} in shards; leave shards out (of the call and of its ZarrConfig)"
        )
    if "attributes" in options:
        options["attributes"] = json_attributes(options["attributes"], where)
    if zarr_format == 2:
        if "dimension_names" in options:
            raise TypeError(
                f"Zarr v2 arrays have no dimension_names, so a zarr_format=2 backend cannot "
                f"store them for {where!r}; leave dimension_names out, or keep the axis names "
                "in the attributes (as OME-NGFF 0.4 does in multiscales)"
            )
        options.setdefault("chunk_key_encoding", _V2_CHUNK_KEYS)
    return options


#: Assignments queued behind the one being written; bounds the planes an ArrayWriter holds.
PENDING_WRITES = 2


class ArrayWriter:
    """Assignment into an array that :meth:`ZarrBackend.array_writer` publishes when done.

    ``writer[index] = data`` takes numpy-style indices (``writer[t, c, z] =
    plane``, ``writer[...] = whole``). The data is copied and its chunks are
    encoded and written on a thread of the writer's own, in the order
    assigned, while the caller goes on (reading the next plane, say): the
    assignment returns at once unless :data:`PENDING_WRITES` assignments
    are already waiting, so memory holds at most that many copies beside
    the one being written. A write that fails raises its error at the next
    assignment or when the writer closes, and then the array is not
    published. Assignments from several threads are safe when no two touch
    the same chunk. After the ``with`` block any assignment raises
    ``ValueError``.
    """

    __slots__ = ("_array", "_error", "_open", "_pending", "_pool", "path")

    def __init__(self, array: zarr.Array[Any], path: str) -> None:
        self._array = array
        self._open = True
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()
        self._error: BaseException | None = None
        #: Where the array is published when the block ends.
        self.path = path

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return tuple(self._array.shape)

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return len(self._array.shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The array's numpy dtype."""
        import numpy as np

        return np.dtype(self._array.dtype)

    @property
    def chunks(self) -> tuple[int, ...]:
        """The chunk shape."""
        return tuple(self._array.chunks)

    def __setitem__(self, index: Any, value: Any) -> None:
        self.write(index, value)

    def write(self, index: Any, value: Any, *, copy: bool = True) -> None:
        """``writer[index] = value``; with ``copy=False`` the array ``value`` is written as it
        is, not copied first: for a caller that hands it over and never changes it again."""
        if not self._open:
            raise ValueError(
                f"the array writer for {self.path!r} is closed: its with block ended, so the "
                "array is published (or was discarded). Open a new array_writer to write again."
            )
        import numpy as np

        # A copy, so the caller may reuse its buffer while this one is written.
        data = np.array(value) if copy else np.asarray(value)
        while self._pending and (len(self._pending) >= PENDING_WRITES or self._pending[0].done()):
            self._settle(self._pending.popleft())
        self._raise_failure()
        if self._pool is None:
            # One thread: writes keep their order and never touch a chunk at the same time.
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="platekit-array-writer")
        self._pending.append(self._pool.submit(self._write, index, data))

    def _write(self, index: Any, data: Any) -> None:
        from platekit.storage._zarr_buffer import write

        write(self._array, index, data)

    def _settle(self, write: Future[None]) -> None:
        error = write.exception()
        if error is not None and self._error is None:
            self._error = error

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error  # again at every assignment: the array lost a piece

    def close(self, *, raise_errors: bool = True) -> None:
        """Wait for the writes in flight and refuse assignments from now on.

        The backend calls this when the block ends. Raises the first failed
        write's error unless ``raise_errors`` is false (the block already failed).
        """
        self._open = False
        while self._pending:
            self._settle(self._pending.popleft())
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if raise_errors:
            self._raise_failure()
        self._error = None

    def __repr__(self) -> str:
        state = "open" if self._open else "closed"
        return f"<ArrayWriter {self.path!r} shape={self.shape} dtype={self.dtype} {state}>"
