"""The errors a plate can raise: each names the folder or file, and what to do."""

from __future__ import annotations


class PlateError(ValueError):
    """Base of every error about a plate's files; a ``ValueError``."""


class UnknownPlateError(PlateError):
    """No registered microscope handler recognises the folder."""


class AmbiguousPlateError(PlateError):
    """More than one microscope handler recognises the folder."""


class PlateFormatError(PlateError):
    """A metadata file of the plate cannot be read: names the file and, where known, the line."""

    def __init__(self, path: object, message: str, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


class BadPlaneError(PlateError):
    """One image file of the plate cannot be used: unreadable, truncated or unlike the others."""

    def __init__(self, path: object, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = str(path)
