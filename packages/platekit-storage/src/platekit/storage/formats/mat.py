"""MATLAB ``.mat`` files through SciPy (the ``mat`` extra of platekit-storage)."""

from __future__ import annotations

import re

from platekit.storage._formats import FileFormat, _is_array, _no_other_arguments

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO

# A MATLAB variable name: a letter, then letters, digits or underscores.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")


def _scipy_io() -> Any:
    try:
        import scipy.io  # type: ignore[import-untyped]
    except ImportError:
        from platekit.registry._install import install_command

        raise ImportError(
            "the mat disk file format needs SciPy, which is not installed: "
            f"{install_command('platekit-storage', 'mat')}"
        ) from None
    return scipy.io


class MatFormat(FileFormat):
    """MATLAB files (version 5), for a dict of variable name to numeric array.

    Numeric means integers, floats and complex numbers: MATLAB would give
    booleans back as ``uint8``, so they are refused (save ``mask.astype("uint8")``).

    Each array has two or more dimensions (MATLAB has no fewer, so a 1-D
    array would come back as a row) and loads back with its shape and
    dtype; the names are MATLAB variable names (``"image"``,
    ``"mask_2"``). Loading gives the variables only, without the file's
    ``__header__``. ``do_compression=True`` compresses when saving.
    """

    name = "mat"
    extensions = (".mat",)
    takes = "a dict of MATLAB variable names to numeric numpy arrays with two or more dimensions"

    def accepts(self, data: Any) -> bool:
        return (
            isinstance(data, dict)
            and bool(data)
            and all(
                isinstance(key, str)
                and _NAME.fullmatch(key) is not None
                and _is_array(value)
                and value.ndim >= 2
                and value.dtype.kind in "iufc"  # MATLAB keeps booleans as uint8
                for key, value in data.items()
            )
        )

    def write(
        self, data: Any, file: BinaryIO, *, do_compression: bool = False, **kwargs: Any
    ) -> None:
        _no_other_arguments(self, kwargs, "do_compression= when saving")
        _scipy_io().savemat(file, data, do_compression=do_compression, oned_as="row")

    def read(self, path: str, **kwargs: Any) -> Any:
        _no_other_arguments(self, kwargs, "no keyword arguments when loading")
        loaded = _scipy_io().loadmat(path)
        return {key: value for key, value in loaded.items() if not key.startswith("__")}
