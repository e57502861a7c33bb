"""ZarrConfig: how the ``zarr`` backend compresses and chunks the arrays it writes, in one object.

Given to the backend (``ZarrBackend(zarr_config=...)``) it applies to every
write; given to one call (``save(..., zarr_config=...)``) it applies to that
call. The options ``chunks``, ``compressors`` and ``shards`` of a call win
over both.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Literal

    Codec = Literal["zstd", "zlib", "gzip", "blosc", "lz4", "none"]
    BloscCompressor = Literal["lz4", "lz4hc", "blosclz", "zstd", "zlib"]

#: What zarr-python says of a numcodecs codec in a Zarr v3 array.
NUMCODECS_WARNING = "Numcodecs codecs are not in the Zarr"
#: Codec name -> (lowest level, highest level, level used when none is given).
CODECS: dict[str, tuple[int, int, int] | None] = {
    "zstd": (-131072, 22, 0),
    "zlib": (0, 9, 6),
    "gzip": (0, 9, 6),
    "blosc": (0, 9, 5),
    # LZ4's "acceleration": 1 compresses most; higher is faster and compresses less.
    "lz4": (1, 65537, 1),
    "none": None,
}
#: The compressors Blosc runs inside (``ZarrConfig.blosc_compressor``).
BLOSC_COMPRESSORS = ("lz4", "lz4hc", "blosclz", "zstd", "zlib")

# ZarrConfig.shuffle -> Blosc's name for it (zarr.codecs'; numcodecs.Blosc's, upper-cased).
_SHUFFLES: dict[bool | str, Literal["shuffle", "noshuffle", "bitshuffle"]] = {
    True: "shuffle",
    False: "noshuffle",
    "bit": "bitshuffle",
}


@dataclass(frozen=True)
class ZarrConfig:
    """Compression and chunking for the arrays the ``zarr`` backend writes.

    ``ZarrConfig()`` is what the backend does without one: Blosc with LZ4
    inside at level 5 and byte shuffle, one chunk per 2-D plane, no shards.
    On microscope images it encodes several times as fast as Zstandard at
    level 0 and stores fewer bytes (docs/benchmarks.rst, "Codecs").

    ``codec``
       ``"blosc"`` (Blosc, around the compressor ``blosc_compressor`` names;
       the default), ``"zstd"`` (Zstandard), ``"zlib"``, ``"gzip"``,
       ``"lz4"`` (LZ4 alone) or ``"none"``. ``zstd``, ``gzip`` and
       ``blosc`` are codecs of the Zarr v3 spec; ``zlib`` and ``lz4`` in a
       Zarr v3 array are numcodecs' ``numcodecs.zlib`` and
       ``numcodecs.lz4``, which zarr-python reads but other Zarr v3 readers
       may not (``gzip`` is the same deflate compression in a standard
       codec, ``blosc`` with ``lz4`` inside the same LZ4).
    ``level``
       The codec's compression level: -131072 to 22 for ``zstd`` (0, its
       default, is the library's own default), 0 to 9 for ``zlib`` and
       ``gzip`` (default 6) and ``blosc`` (default 5); for ``lz4`` its
       acceleration, 1 (the default, compressing most) to 65537 (fastest).
       None for ``none``.
    ``blosc_compressor``
       For ``blosc``: the compressor inside it, ``"lz4"`` (the default),
       ``"lz4hc"``, ``"blosclz"``, ``"zstd"`` or ``"zlib"``.
    ``shuffle``
       For ``blosc``: ``True`` (the default) shuffles bytes before
       compressing, which puts the high bytes of 16-bit pixels together;
       ``"bit"`` shuffles bits, which stores a little less for a slower
       encode; ``False`` does not shuffle.
    ``chunking``
       ``"plane"``: one chunk per 2-D plane, ``(1, ..., 1, height,
       width)`` (the default); ``"well"``: the whole array in one chunk, so
       a well's stack is read or written in one piece; or a chunk shape.
    ``shards``
       None (the default): every chunk its own file. ``"well"``: the whole
       array in one shard file, its chunks inside; or a shard shape, a
       multiple of the chunk shape. Zarr v3 only.

    Raises ``ValueError`` naming the field for a value outside these.
    """

    codec: Codec = "blosc"
    level: int | None = None
    chunking: Literal["plane", "well"] | tuple[int, ...] = "plane"
    shards: Literal["well"] | tuple[int, ...] | None = None
    blosc_compressor: BloscCompressor = "lz4"
    shuffle: bool | Literal["bit"] = True

    def __post_init__(self) -> None:
        if not isinstance(self.codec, str) or self.codec not in CODECS:
            raise ValueError(
                f"ZarrConfig codec must be one of {', '.join(map(repr, CODECS))}, "
                f"not {self.codec!r}"
            )
        levels = CODECS[self.codec]
        if self.level is not None:
            if levels is None:
                raise ValueError("ZarrConfig level must be None for codec='none'")
            low, high, _ = levels
            if type(self.level) is not int or not low <= self.level <= high:
                raise ValueError(
                    f"ZarrConfig level for {self.codec} must be a whole number from {low} to "
                    f"{high}, not {self.level!r}"
                )
        if self.blosc_compressor not in BLOSC_COMPRESSORS:
            raise ValueError(
                f"ZarrConfig blosc_compressor must be one of "
                f"{', '.join(map(repr, BLOSC_COMPRESSORS))}, not {self.blosc_compressor!r}"
            )
        if type(self.shuffle) is not bool and self.shuffle != "bit":
            raise ValueError(
                f"ZarrConfig shuffle must be True, False or 'bit', not {self.shuffle!r}"
            )
        if self.chunking not in ("plane", "well"):
            object.__setattr__(self, "chunking", _shape(self.chunking, "chunking"))
        if self.shards is not None and self.shards != "well":
            object.__setattr__(self, "shards", _shape(self.shards, "shards"))

    @property
    def effective_level(self) -> int | None:
        """The level written: :attr:`level`, or the codec's default when it is None."""
        levels = CODECS[self.codec]
        if levels is None:
            return None
        return levels[2] if self.level is None else self.level

    def compressors(self, zarr_format: int) -> Any:
        """The ``compressors`` for ``zarr.create_array`` in a Zarr v``zarr_format`` array."""
        if self.codec == "none":
            return None
        level = self.effective_level
        assert level is not None  # every codec but "none" has a level
        if zarr_format == 2:
            import numcodecs  # type: ignore[import-untyped]

            v2: dict[str, Callable[[], Any]] = {
                "zstd": lambda: numcodecs.Zstd(level=level),
                "zlib": lambda: numcodecs.Zlib(level=level),
                "gzip": lambda: numcodecs.GZip(level=level),
                "blosc": lambda: numcodecs.Blosc(
                    cname=self.blosc_compressor,
                    clevel=level,
                    shuffle=getattr(numcodecs.Blosc, _SHUFFLES[self.shuffle].upper()),
                ),
                "lz4": lambda: numcodecs.LZ4(acceleration=level),
            }
            return v2[self.codec]()
        from zarr import codecs

        if self.codec == "zstd":
            return [codecs.ZstdCodec(level=level)]
        if self.codec == "gzip":
            return [codecs.GzipCodec(level=level)]
        if self.codec == "blosc":
            shuffle = _SHUFFLES[self.shuffle]
            return [codecs.BloscCodec(cname=self.blosc_compressor, clevel=level, shuffle=shuffle)]
        return [_numcodecs_v3(self.codec, level)]

    def chunk_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The chunk shape for an array of ``shape``."""
        if self.chunking == "plane":
            from platekit.storage._zarr_writer import plane_chunks

            return plane_chunks(shape)
        if self.chunking == "well":
            return tuple(max(1, size) for size in shape)
        return tuple(self.chunking)

    def shard_shape(self, shape: tuple[int, ...]) -> tuple[int, ...] | None:
        """The shard shape for an array of ``shape``, or None for no shards."""
        if self.shards is None:
            return None
        if self.shards == "well":
            return tuple(max(1, size) for size in shape)
        return tuple(self.shards)


def _shape(value: object, field: str) -> tuple[int, ...]:
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        sizes = tuple(operator.index(size) for size in value)  # type: ignore[attr-defined]
    except TypeError:
        choices = "'plane', 'well'" if field == "chunking" else "None, 'well'"
        raise ValueError(
            f"ZarrConfig {field} must be {choices} or a shape (a tuple of whole numbers), "
            f"not {value!r}"
        ) from None
    if not sizes or any(size < 1 for size in sizes):
        raise ValueError(f"ZarrConfig {field} must hold sizes of at least 1, not {value!r}")
    return sizes


def _numcodecs_v3(codec: str, level: int) -> Any:
    """numcodecs' zlib or LZ4 as a Zarr v3 codec, where this zarr-python has it.

    zarr-python warns that numcodecs codecs are outside the Zarr v3 spec;
    :class:`ZarrConfig` says so where ``zlib`` or ``lz4`` is chosen, so the
    warning is not repeated at every write.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NUMCODECS_WARNING)
        try:
            from zarr.codecs.numcodecs import LZ4, Zlib
        except ImportError:  # zarr-python before 3.1.3
            warnings.simplefilter("ignore", DeprecationWarning)
            from numcodecs.zarr3 import LZ4, Zlib  # type: ignore[import-untyped,no-redef]
        if codec == "lz4":
            return LZ4(acceleration=level)
        return Zlib(level=level)
