"""TIFF compression: which codecs a plate's files need, and whether this environment has them.

tifffile reads uncompressed, deflate and PackBits TIFFs alone; LZW (Harmony,
MetaXpress), JPEG and most others need the ``imagecodecs`` package. A file
whose codec is missing is an environment problem, never a damaged plane, so
it gets its own error that a conversion does not skip.
"""

from __future__ import annotations

from dataclasses import dataclass

from platekit.microscopes._errors import BadPlaneError, PlateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.microscopes._model import PlaneKey
    from platekit.microscopes._plate import Plate

#: How to get the codecs; imagecodecs is a dependency of platekit-microscopes.
INSTALL_LINE = "pip install imagecodecs"

# tifffile's COMPRESSION names that read badly in a sentence.
_NAMES = {
    "NONE": "none",
    "ADOBE_DEFLATE": "deflate",
    "DEFLATE": "deflate",
    "PACKBITS": "PackBits",
}

_TIFF_SUFFIXES = (".tif", ".tiff")


class MissingCodecError(PlateError):
    """A plane's file uses a compression this environment cannot decode (imagecodecs missing).

    Not a :class:`~platekit.microscopes.BadPlaneError`: the file is fine, so
    ``skip_bad_planes`` never turns it into an absent plane.
    """

    def __init__(self, path: object, codec: str) -> None:
        super().__init__(f"{path}: is compressed with {codec}, {_why_missing(codec)}")
        self.path = str(path)
        self.codec = codec

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from its parts when it crosses from a worker process.
        return (type(self), (self.path, self.codec))


def _why_missing(codec: str) -> str:
    try:
        import imagecodecs
    except ImportError:
        return (
            f"which needs the imagecodecs package; install it in this environment: {INSTALL_LINE}"
        )
    version = getattr(imagecodecs, "__version__", "?")
    return (
        f"which the installed imagecodecs {version} cannot decode; upgrade it: "
        f"{INSTALL_LINE} --upgrade"
    )


def compression_name(page: object) -> str:
    """The compression of a tifffile page in words: ``"LZW"``, ``"deflate"``, ``"JPEG"``, ..."""
    compression = page.compression  # type: ignore[attr-defined]
    name = getattr(compression, "name", str(compression))
    return _NAMES.get(name, name)


def undecodable_codec(page: object) -> str | None:
    """The codec tifffile lacks to decode a page (``"LZW"``, ...), or ``None`` when it has all.

    Asks tifffile's own codec tables, which are filled from imagecodecs when
    it is importable and from tifffile's few built-in codecs otherwise.
    """
    import tifffile

    compression = page.compression  # type: ignore[attr-defined]
    if compression != 1:
        try:
            tifffile.TIFF.DECOMPRESSORS[compression]
        except KeyError:
            return compression_name(page)
    predictor = page.predictor  # type: ignore[attr-defined]
    if compression != 1 and predictor != 1:
        try:
            tifffile.TIFF.UNPREDICTORS[predictor]
        except KeyError:
            name = getattr(predictor, "name", str(predictor))
            return f"{compression_name(page)} with the {name} predictor"
    return None


@dataclass(frozen=True)
class CompressionCheck:
    """One compression a plate's files use, and whether a plane of it was decoded.

    ``path`` is the file that was decoded (or failed); ``error`` the
    one-line reason when it could not be, else ``None``.
    """

    compression: str
    path: str
    error: str | None = None

    @property
    def decodable(self) -> bool:
        return self.error is None


def check_compressions(plate: Plate) -> list[CompressionCheck]:
    """Whether every compression the plate's TIFFs use can be decoded here.

    Reads the header of the first file of each channel (the cheap sample:
    one export writes one channel's files alike, but channels differ, e.g. a
    Harmony 7 export with two LZW channels and five uncompressed ones) and
    decodes one plane per distinct compression through the plate's handler.
    Returns one :class:`CompressionCheck` per compression, in the order
    first met; an empty list for a plate without TIFF files (OME-Zarr).
    """
    import tifffile

    first_per_channel: dict[int, tuple[PlaneKey, str]] = {}
    for key, address in plate.planes():
        if key.channel not in first_per_channel and address.lower().endswith(_TIFF_SUFFIXES):
            first_per_channel[key.channel] = (key, address)
    by_compression: dict[str, tuple[PlaneKey, str]] = {}
    for key, address in first_per_channel.values():
        try:
            with (plate.source / address).open() as file, tifffile.TiffFile(file) as tiff:
                name = compression_name(tiff.pages.first)
        except Exception:
            # A damaged file is a bad plane, which reading or converting it reports.
            continue
        by_compression.setdefault(name, (key, address))
    checks = []
    for name, (key, address) in by_compression.items():
        path = plate.source / address
        try:
            plate.read_plane(key)
        except (MissingCodecError, BadPlaneError, FileNotFoundError) as exc:
            checks.append(CompressionCheck(name, str(path), str(exc)))
        else:
            checks.append(CompressionCheck(name, str(path)))
    return checks
