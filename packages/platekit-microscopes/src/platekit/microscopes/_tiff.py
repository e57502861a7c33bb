"""Reading one plane from a TIFF file, with errors that name the file.

tifffile reads every TIFF; a plain LZW plane (one page, one sample, strips
or tiles), the common case in Harmony and MetaXpress exports, is decoded by
imagecodecs' libtiff instead, whose LZW decoder runs about twice as fast as
the one tifffile calls strip by strip.

A plane cut short is a bad plane, never one padded with zeros: tifffile
2026.11.12 and later pad a strip or tile that ends early, saying so only in
its log, so the file's length is checked against the plane's strips first,
and tifffile's report of a padded strip is listened for while it decodes.
"""

from __future__ import annotations

import logging
import threading

from platekit.microscopes._codecs import MissingCodecError, compression_name, undecodable_codec
from platekit.microscopes._errors import BadPlaneError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import IO, Any

    import numpy as np

    from platekit.microscopes._source import PlateSource

# Worded for the Python API and the CLI alike.
_SKIP_HINT = "write such planes as absent with skip_bad_planes=True / --skip-bad-planes"

#: TIFF compressions that libtiff decodes faster than tifffile: LZW. (Deflate, through
#: tifffile's libdeflate, is faster than libtiff's zlib, and uncompressed needs no codec.)
_LIBTIFF_FASTER = frozenset({5})


def read_tiff_plane(path: Path | PlateSource) -> np.ndarray:
    """The first image of the TIFF at ``path`` (a local path or a plate's file) as a 2-D array.

    Raises ``FileNotFoundError`` when the file is gone and
    :class:`BadPlaneError` naming it when it is not a readable TIFF
    (truncated, damaged, not a TIFF) or holds no 2-D image;
    :class:`~platekit.microscopes.MissingCodecError` naming the
    codec and the install line when its compression cannot be decoded here.
    """
    import tifffile

    try:
        # A plate's file is read through its storage backend; tifffile reads the open file.
        with path.open("rb") as file, tifffile.TiffFile(file) as tiff:
            if not tiff.pages:
                raise BadPlaneError(path, f"the TIFF holds no image; {_SKIP_HINT}")
            page = tiff.pages.first
            codec = undecodable_codec(page)
            if codec is not None:
                raise MissingCodecError(path, codec)
            short = _cut_short(page, tiff.filehandle.size)
            if short is not None:
                raise BadPlaneError(path, f"is truncated ({short}); copy it again, or {_SKIP_HINT}")
            array = _libtiff_plane(file, page)
            try:
                if array is None:
                    array = _tifffile_plane(path, page)
            except ValueError as exc:
                # The codec tables can pass a page whose decoding still needs imagecodecs.
                if "imagecodecs" in str(exc):
                    raise MissingCodecError(path, compression_name(page)) from exc
                raise
    except (FileNotFoundError, BadPlaneError, MissingCodecError):
        raise
    except PermissionError as exc:
        raise BadPlaneError(
            path, f"cannot be read ({exc.strerror}); check its permissions"
        ) from exc
    except Exception as exc:
        # tifffile raises TiffFileError, ValueError, struct.error, OSError or
        # a codec's error for a damaged file; each means the same here.
        raise BadPlaneError(
            path,
            f"is not a readable TIFF ({type(exc).__name__}: {exc}); it may be truncated or "
            f"damaged: copy it again, or {_SKIP_HINT}",
        ) from exc
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise BadPlaneError(
            path, f"holds an image of shape {array.shape}, not one 2-D plane; {_SKIP_HINT}"
        )
    return array


def _cut_short(page: Any, size: int) -> str | None:
    """Why the file, ``size`` bytes long, cannot hold all of ``page``'s image data, or ``None``."""
    segments = list(zip(page.dataoffsets, page.databytecounts, strict=False))
    if not segments:
        return "it holds no image data"
    end = max(offset + count for offset, count in segments)
    if end > size:
        return f"its image data runs to byte {end}, past its end at byte {size}"
    return None


class _PaddedReports(logging.Handler):
    """Keeps, per thread, tifffile's last report of a strip or tile it padded."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "padded" in message:
            self.seen.message = message


_PADDED = _PaddedReports()
logging.getLogger("tifffile").addHandler(_PADDED)


def _tifffile_plane(path: Path | PlateSource, page: Any) -> np.ndarray:
    """``page`` decoded by tifffile; :class:`BadPlaneError` when it padded a part of it."""
    _PADDED.seen.message = None
    # One thread, so that tifffile's report comes from the thread that listens for it.
    array = page.asarray(maxworkers=1)
    said = _PADDED.seen.message
    if said is not None:
        raise BadPlaneError(
            path,
            f"is damaged: tifffile filled a part of it that decoded short ({said}); copy it "
            f"again, or {_SKIP_HINT}",
        )
    return array  # type: ignore[no-any-return]


def _libtiff_plane(file: IO[bytes], page: Any) -> np.ndarray | None:
    """The page decoded by libtiff when it is a plain plane libtiff decodes faster, else ``None``.

    ``None`` also for a page with an empty strip or tile (libtiff would fill
    it), and when libtiff fails or gives another shape or dtype than tifffile
    reads: tifffile then decodes the page, and says what is wrong. A file cut
    short never gets here (:func:`_cut_short`).
    """
    if (
        page.compression not in _LIBTIFF_FASTER
        or page.samplesperpixel != 1
        or page.imagedepth != 1
        or len(page.shape) != 2
    ):
        return None
    if 0 in page.databytecounts:
        return None
    try:
        import imagecodecs

        file.seek(0)
        array = imagecodecs.tiff_decode(file.read())
    except Exception:
        return None
    if array.shape != page.shape or array.dtype != page.dtype:
        return None
    return array


def tiff_description(path: Path | PlateSource) -> str | None:
    """The first page's ImageDescription (MetaSeries XML, OME-XML), or ``None``."""
    import tifffile

    try:
        with path.open("rb") as file, tifffile.TiffFile(file) as tiff:
            tag = tiff.pages.first.tags.get("ImageDescription")
    except Exception:
        return None
    if tag is None:
        return None
    value = tag.value
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)
