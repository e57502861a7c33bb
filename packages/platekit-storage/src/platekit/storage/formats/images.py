"""JPEG, BMP and GIF files through imagecodecs (the ``images`` extra of platekit-storage)."""

from __future__ import annotations

from platekit.storage._formats import FileFormat, _is_array, _no_other_arguments, imagecodecs_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO


def _grey_or_colour(data: Any, samples: tuple[int, ...]) -> bool:
    """A non-empty ``uint8`` array, ``(Y, X)`` or ``(Y, X, S)`` with S in ``samples``."""
    if not _is_array(data) or data.size == 0 or data.dtype.str[1:] != "u1":
        return False
    return data.ndim == 2 or (data.ndim == 3 and data.shape[2] in samples)


class JpegFormat(FileFormat):
    """JPEG, for 8-bit grey ``(Y, X)`` or RGB ``(Y, X, 3)`` images; lossy.

    JPEG keeps an approximation of the pixels, so an image loads back close
    to, not equal to, what was saved (flat areas come back exactly). Use
    TIFF or PNG where every value matters. ``level=`` (1 to 100, default
    90) sets the quality when saving.
    """

    name = "jpeg"
    extensions = (".jpg", ".jpeg")
    takes = "uint8 numpy arrays of shape (Y, X) or (Y, X, 3), not empty"

    def accepts(self, data: Any) -> bool:
        return _grey_or_colour(data, (3,))

    def write(self, data: Any, file: BinaryIO, *, level: int = 90, **kwargs: Any) -> None:
        _no_other_arguments(self, kwargs, "level= when saving")
        if type(level) is not int or not 1 <= level <= 100:
            raise ValueError(
                f"the JPEG quality level must be a whole number 1 to 100, not {level!r}"
            )
        file.write(imagecodecs_for(self.name, "images").jpeg8_encode(data, level=level))

    def read(self, path: str, **kwargs: Any) -> Any:
        _no_other_arguments(self, kwargs, "no keyword arguments when loading")
        with open(path, "rb") as file:
            return imagecodecs_for(self.name, "images").jpeg8_decode(file.read())


class BmpFormat(FileFormat):
    """BMP, for 8-bit grey ``(Y, X)`` or RGB ``(Y, X, 3)`` images; they load back exactly."""

    name = "bmp"
    extensions = (".bmp",)
    takes = "uint8 numpy arrays of shape (Y, X) or (Y, X, 3), not empty"

    def accepts(self, data: Any) -> bool:
        return _grey_or_colour(data, (3,))

    def write(self, data: Any, file: BinaryIO, **kwargs: Any) -> None:
        _no_other_arguments(self, kwargs, "no keyword arguments when saving")
        file.write(imagecodecs_for(self.name, "images").bmp_encode(data))

    def read(self, path: str, **kwargs: Any) -> Any:
        _no_other_arguments(self, kwargs, "no keyword arguments when loading")
        with open(path, "rb") as file:
            return imagecodecs_for(self.name, "images").bmp_decode(file.read())


class GifFormat(FileFormat):
    """GIF, for 8-bit grey ``(Y, X)`` images, stored with a palette of 256 greys.

    They load back exactly, as ``(Y, X)`` ``uint8``. A GIF made elsewhere in
    colour loads as RGB, ``(Y, X, 3)``; its first frame only.
    """

    name = "gif"
    extensions = (".gif",)
    takes = "uint8 numpy arrays of shape (Y, X), not empty"

    def accepts(self, data: Any) -> bool:
        return _grey_or_colour(data, ())

    def write(self, data: Any, file: BinaryIO, **kwargs: Any) -> None:
        _no_other_arguments(self, kwargs, "no keyword arguments when saving")
        file.write(imagecodecs_for(self.name, "images").gif_encode(data))

    def read(self, path: str, **kwargs: Any) -> Any:
        _no_other_arguments(self, kwargs, "no keyword arguments when loading")
        with open(path, "rb") as file:
            image = imagecodecs_for(self.name, "images").gif_decode(file.read())
        if image.ndim == 4:  # frames: the first is the image
            image = image[0]
        if image.ndim == 3 and (image[..., 1:3] == image[..., :1]).all():
            return image[..., 0].copy()  # a palette of greys: the grey values
        return image
