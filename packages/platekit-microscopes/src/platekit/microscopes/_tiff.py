"""Reading one plane from a TIFF file, with errors that name the file."""

from __future__ import annotations

from platekit.microscopes._codecs import MissingCodecError, compression_name, undecodable_codec
from platekit.microscopes._errors import BadPlaneError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from platekit.microscopes._source import PlateSource

# Worded for the Python API and the CLI alike.
_SKIP_HINT = "write such planes as absent with skip_bad_planes=True / --skip-bad-planes"


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
            try:
                array = page.asarray()
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
    return array  # type: ignore[no-any-return]


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
