"""polystore's Zarr settings (``ZarrConfig``, ``ZarrCompressor``, ``ZarrChunkStrategy``,
``ZarrCompressorFactory``), each turned into platekit's :class:`~platekit.storage.ZarrConfig`."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from platekit.storage._zarr_config import ZarrConfig as PlatekitZarrConfig


class ZarrCompressor(Enum):
    """The codecs polystore offers; each is one of platekit's ``ZarrConfig.codec``."""

    BLOSC = "blosc"
    ZLIB = "zlib"
    LZ4 = "lz4"
    ZSTD = "zstd"
    NONE = "none"


class ZarrCompressorFactory:
    """Makes the numcodecs codec of one :class:`ZarrCompressor`: platekit's for the same settings.

    Each subclass sets :attr:`compressor` and is registered under it in
    ``ZarrCompressorFactory.__registry__``; ``create(level)`` gives the
    codec a Zarr v2 array written with ``ZarrConfig(compressor=...,
    compression_level=level)`` carries (None for ``NONE``). Needs numcodecs
    (the ``zarr`` extra) for every compressor but ``NONE``.
    """

    __registry__: ClassVar[dict[ZarrCompressor, type[ZarrCompressorFactory]]] = {}
    compressor: ClassVar[ZarrCompressor | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.compressor is not None:
            ZarrCompressorFactory.__registry__[cls.compressor] = cls

    def create(self, compression_level: int, shuffle: bool = True) -> Any:
        """The codec at ``compression_level`` (``shuffle`` for Blosc's byte shuffle).

        Raises ``ValueError`` for a level the codec does not take.
        """
        if self.compressor is None:
            raise TypeError("ZarrCompressorFactory itself makes no codec: use a subclass")
        codec = self.compressor.value
        level = None if codec == "none" else compression_level
        settings = PlatekitZarrConfig(codec=codec, level=level, shuffle=shuffle)  # type: ignore[arg-type]
        return settings.compressors(zarr_format=2)


class NoZarrCompressorFactory(ZarrCompressorFactory):
    """No compression."""

    compressor = ZarrCompressor.NONE


class BloscZarrCompressorFactory(ZarrCompressorFactory):
    """Blosc with LZ4 inside."""

    compressor = ZarrCompressor.BLOSC


class ZlibZarrCompressorFactory(ZarrCompressorFactory):
    """zlib."""

    compressor = ZarrCompressor.ZLIB


class Lz4ZarrCompressorFactory(ZarrCompressorFactory):
    """LZ4 alone; the level is its acceleration."""

    compressor = ZarrCompressor.LZ4


class ZstdZarrCompressorFactory(ZarrCompressorFactory):
    """Zstandard."""

    compressor = ZarrCompressor.ZSTD


class ZarrChunkStrategy(Enum):
    """``WELL``: one chunk per array; ``FILE``: one chunk per 2-D plane."""

    WELL = "well"
    FILE = "file"


@dataclass(frozen=True)
class ZarrConfig:
    """polystore's Zarr settings: zlib at level 3, one chunk per well, unless told otherwise.

    compressor: the codec, a :class:`ZarrCompressor` (platekit's ``codec``).
    compression_level: its level (platekit's ``level``); for LZ4 its acceleration.
    chunk_strategy: a :class:`ZarrChunkStrategy`, one chunk per array or per plane
        (platekit's ``chunking``, ``"well"`` or ``"plane"``).

    :meth:`platekit` gives the same settings as platekit's ``ZarrConfig``,
    which the compat Zarr backend writes with. Raises ``ValueError`` (from
    platekit's ``ZarrConfig``) for a level the codec does not take.
    """

    compressor: ZarrCompressor = ZarrCompressor.ZLIB
    compression_level: int = 3
    chunk_strategy: ZarrChunkStrategy = ZarrChunkStrategy.WELL

    def __post_init__(self) -> None:
        self.platekit()  # refuse a level the codec does not take, now

    def platekit(self) -> PlatekitZarrConfig:
        """These settings as platekit's :class:`~platekit.storage.ZarrConfig`."""
        codec = ZarrCompressor(self.compressor).value
        chunking = "well" if self.chunk_strategy is ZarrChunkStrategy.WELL else "plane"
        level = None if codec == "none" else self.compression_level
        return PlatekitZarrConfig(codec=codec, level=level, chunking=chunking)  # type: ignore[arg-type]


class TiffCompression(Enum):
    """TIFF compression: none, or deflate (tifffile's ``"zlib"``)."""

    NONE = "none"
    DEFLATE = "deflate"


class TiffPhotometric(Enum):
    """How TIFF pixels are seen: planes of grey, or RGB samples."""

    MINISBLACK = "minisblack"
    RGB = "rgb"


class TiffPlanarConfig(Enum):
    """Where RGB samples lie: interleaved (``CONTIG``) or in planes (``SEPARATE``)."""

    CONTIG = "contig"
    SEPARATE = "separate"


@dataclass(frozen=True)
class TiffConfig:
    """polystore's TIFF settings, as the disk backend's ``save(..., tiff_config=...)`` takes them.

    They become the disk TIFF format's own options: ``compression`` and
    ``photometric`` go to tifffile, ``axes`` is platekit's declared axes
    (checked against the array when saving). ``planarconfig`` follows from
    where ``S`` stands in ``axes``. Raises ``ValueError`` or ``TypeError``
    naming the field for settings that cannot hold together.
    """

    compression: TiffCompression = TiffCompression.NONE
    compression_level: int = 1
    photometric: TiffPhotometric | None = None
    axes: str | None = None
    planarconfig: TiffPlanarConfig | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.compression, TiffCompression):
            raise TypeError(f"compression must be a TiffCompression, not {self.compression!r}")
        level = self.compression_level
        if type(level) is not int or not 1 <= level <= 9:
            raise ValueError(f"compression_level must be a whole number 1 to 9, not {level!r}")
        if self.axes is None:
            if self.photometric is TiffPhotometric.RGB or self.planarconfig is not None:
                raise ValueError("an RGB or planar TIFF needs axes with a sample axis S")
            return
        if self.photometric is None:
            raise ValueError(f"axes {self.axes!r} need a photometric (MINISBLACK or RGB)")
        if "S" not in self.axes:
            if self.photometric is TiffPhotometric.RGB or self.planarconfig is not None:
                raise ValueError(f"an RGB or planar TIFF needs a sample axis S in {self.axes!r}")
            return
        if self.axes.endswith("YXS"):
            layout = TiffPlanarConfig.CONTIG
        elif self.axes.endswith("SYX"):
            layout = TiffPlanarConfig.SEPARATE
        else:
            raise ValueError(
                f"the sample axis S must come last or right before YX in {self.axes!r}"
            )
        if self.planarconfig not in (None, layout):
            raise ValueError(
                f"planarconfig {self.planarconfig} disagrees with the sample axis in {self.axes!r}"
            )
        object.__setattr__(self, "planarconfig", layout)

    def save_options(self) -> dict[str, object]:
        """The disk TIFF format's keyword arguments for these settings (``{}`` for the defaults)."""
        options: dict[str, object] = {}
        if self.compression is TiffCompression.DEFLATE:
            options["compression"] = "zlib"
            options["compressionargs"] = {"level": self.compression_level}
        if self.photometric is not None:
            options["photometric"] = self.photometric.value
        if self.axes is not None:
            options["axes"] = self.axes
        return options

    def applies_to_path(self, path: str | os.PathLike[str]) -> bool:
        """Whether saving at ``path`` (a TIFF) takes options from these settings."""
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        return bool(self.save_options()) and suffix in (".tif", ".tiff")


def tiff_write_batches(
    paths: list[str | os.PathLike[str]] | tuple[str | os.PathLike[str], ...],
    config: TiffConfig | None,
) -> tuple[tuple[tuple[int, ...], TiffConfig | None], ...]:
    """Runs of consecutive paths that take ``config`` (TIFFs) or not: ``((indices), config)``."""
    if not paths:
        return ()
    if config is None or not config.save_options():
        return ((tuple(range(len(paths))), None),)
    runs = itertools.groupby(range(len(paths)), key=lambda n: config.applies_to_path(paths[n]))
    return tuple((tuple(indices), config if applies else None) for applies, indices in runs)


__all__ = [
    "BloscZarrCompressorFactory",
    "Lz4ZarrCompressorFactory",
    "NoZarrCompressorFactory",
    "TiffCompression",
    "TiffConfig",
    "TiffPhotometric",
    "TiffPlanarConfig",
    "ZarrChunkStrategy",
    "ZarrCompressor",
    "ZarrCompressorFactory",
    "ZarrConfig",
    "ZlibZarrCompressorFactory",
    "ZstdZarrCompressorFactory",
    "tiff_write_batches",
]
