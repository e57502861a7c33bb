"""The file formats of the ``disk`` backend: how each kind of file is written and read.

The disk backend picks a format by the file name's suffix, through the
registry of :class:`FileFormat` classes: ``tiff`` (``.tif``, ``.tiff``),
``png`` (with the ``png`` extra), ``npy``, ``json``, ``csv`` (a list of row
dicts), ``text`` (``.txt``), and ``bytes`` for every suffix no format claims.
A third party adds a format by subclassing :class:`FileFormat`; the class
registers when it is defined. To be found in a fresh process without being
imported first, its module (or class) goes in the ``platekit.disk_formats``
entry-point group::

    [project.entry-points."platekit.disk_formats"]
    pgm = "mypkg.pgm:PgmFormat"

Suffixes match without regard to case, the longest first (a format claiming
``.ome.tif`` takes ``a.ome.tif`` from ``tiff``). A plugin's suffix wins over
a built-in format's; two plugins claiming one suffix is an error naming both.
"""

from __future__ import annotations

import sys

from platekit.registry import AutoRegisterMeta, LazyDiscoveryDict, RegistryConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, BinaryIO

#: Every disk file format class, by name.
DISK_FORMATS = LazyDiscoveryDict()


class FileFormat(metaclass=AutoRegisterMeta):
    """One kind of file: the data it holds, how it is written and read back.

    A subclass sets :attr:`name` (its key in :data:`DISK_FORMATS`) and
    :attr:`extensions`, and defines :meth:`write` and :meth:`read`; it
    narrows :meth:`accepts` and says in :attr:`takes` what it stores. The
    disk backend makes an instance per call, so a format keeps no state.
    Import heavy libraries inside the methods: a format module is imported
    whenever the disk backend is used.
    """

    __registry_config__ = RegistryConfig(
        registry_dict=DISK_FORMATS,
        key_attribute="name",
        skip_if_no_key=True,
        registry_name="disk file format",
        entry_point_group="platekit.disk_formats",
        metadata_attributes=("extensions",),
    )

    #: The format's key, shown in messages and passed as ``format=`` to choose it by hand.
    name: str | None = None
    #: Suffixes of the files it handles, with their dot (``(".tif", ".tiff")``).
    extensions: tuple[str, ...] = ()
    #: What it stores, completing "the ... format takes ..." in error messages.
    takes: str = "what its write() accepts"

    def accepts(self, data: Any) -> bool:
        """Whether :meth:`write` can store ``data`` so that :meth:`read` gives it back.

        The backend asks before creating any file; refused data raises
        ``TypeError`` and nothing is written.
        """
        return True

    def write(self, data: Any, file: BinaryIO, **kwargs: Any) -> None:
        """Write ``data`` to ``file``, a new binary file open for writing (and seeking).

        ``kwargs`` are those the caller gave :meth:`DiskBackend.save`. The
        backend closes the file and puts it in place; if this raises, the
        file is discarded and whatever was at the path before stays.
        """
        raise NotImplementedError(f"the disk file format {self.name!r} does not define write()")

    def read(self, path: str, **kwargs: Any) -> Any:
        """The data in the file at ``path`` (``kwargs`` as given to :meth:`DiskBackend.load`)."""
        raise NotImplementedError(f"the disk file format {self.name!r} does not define read()")


# -- choosing a format -------------------------------------------------------------

# (the registry's keys when built, {suffix: names of the formats claiming it}).
_by_suffix: tuple[tuple[Any, ...], dict[str, tuple[str, ...]]] = ((), {})


def _suffix_table() -> dict[str, tuple[str, ...]]:
    """Suffix → claiming formats; built again only when the registry's keys change."""
    global _by_suffix
    keys = tuple(DISK_FORMATS)
    if _by_suffix[0] == keys:
        return _by_suffix[1]
    builtin: dict[str, list[str]] = {}
    plugins: dict[str, list[str]] = {}
    for key in keys:
        # Metadata and location come from the registry's index: no plugin is imported.
        extensions = DISK_FORMATS.metadata(key).get("extensions") or ()
        claims = builtin if DISK_FORMATS.location(key)[0] == __name__ else plugins
        for extension in extensions:
            suffix = _suffix(extension)
            if key not in claims.setdefault(suffix, []):
                claims[suffix].append(key)
    table = {suffix: tuple(names) for suffix, names in builtin.items()}
    table.update((suffix, tuple(names)) for suffix, names in plugins.items())
    _by_suffix = (keys, table)
    return table


def _suffix(extension: str) -> str:
    extension = extension.lower()
    return extension if extension.startswith(".") else "." + extension


def format_for(path: str) -> FileFormat:
    """The format for the file at ``path``, chosen by its suffix (``bytes`` when none fits).

    Raises ``ValueError`` when two plugin formats claim the suffix.
    """
    name = path.replace("\\", "/").rpartition("/")[2].lower()
    table = _suffix_table()
    start = name.find(".", 1)
    while start != -1:
        owners = table.get(name[start:])
        if owners:
            if len(owners) > 1:
                raise ValueError(
                    f"the disk file formats {', '.join(map(repr, owners))} all claim "
                    f"{name[start:]!r} files such as {path!r}; uninstall all but one, "
                    "or choose one with format=NAME"
                )
            return format_named(owners[0])
        start = name.find(".", start + 1)
    return format_named("bytes")


def format_named(name: str) -> FileFormat:
    """A fresh instance of the format called ``name``.

    Raises ``KeyError`` listing the known formats when there is none.
    """
    cls: type[FileFormat] = DISK_FORMATS[name]
    return cls()


def refusal(fmt: FileFormat, data: Any, path: str, *, by_suffix: bool = True) -> TypeError:
    """The error for ``data`` that ``fmt`` cannot store at ``path``, naming the formats that can.

    ``by_suffix`` says the format was chosen by the path's suffix rather than by name.
    """
    kind = _describe(data)
    if fmt.extensions:
        reason = f"the {fmt.name} format ({', '.join(fmt.extensions)}) takes {fmt.takes}"
    elif by_suffix and fmt.name == "bytes":
        reason = (
            "no disk file format claims its suffix, so it is stored as bytes, "
            f"and the bytes format takes {fmt.takes}"
        )
    else:
        reason = f"the {fmt.name} format takes {fmt.takes}"
    takers = []
    for key in sorted(DISK_FORMATS):
        if key == fmt.name:
            continue
        try:
            other = format_named(key)
            fits = other.accepts(data)
        except Exception:  # a broken plugin must not hide the error being reported
            continue
        if fits:
            shown = ", ".join(other.extensions) or f"format={key!r}"
            takers.append(f"{key} ({shown})")
    if takers:
        advice = (
            f"Formats that take {kind}: {'; '.join(takers)}. Save it under one of their "
            "suffixes, or choose one with format=NAME."
        )
    else:
        advice = (
            "No disk file format takes it: convert it (to bytes, a str or a numpy array) "
            "or add a FileFormat plugin for it."
        )
    return TypeError(f"cannot save {kind} to {path!r}: {reason}. {advice}")


def _describe(data: Any) -> str:
    """``data``'s type as a person would name it, with dtype and shape for arrays."""
    if _is_array(data):
        return f"a numpy array (dtype {data.dtype}, shape {data.shape})"
    cls = type(data)
    name = (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    return f"an {name}" if name[0] in "aeiouAEIOU" else f"a {name}"


def _is_array(data: Any) -> bool:
    """Whether ``data`` is a numpy array, without importing numpy (none exists before it)."""
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(data, numpy.ndarray)


def _no_other_arguments(fmt: FileFormat, kwargs: dict[str, Any], allowed: str) -> None:
    if kwargs:
        raise TypeError(
            f"the {fmt.name} format got unexpected keyword arguments {sorted(kwargs)}; "
            f"it takes {allowed}"
        )


# -- the built-in formats --------------------------------------------------------------


class TiffFormat(FileFormat):
    """TIFF through tifffile, for numeric numpy arrays of two or more dimensions.

    Arrays are stored as planes of grey values (``photometric="minisblack"``)
    unless the call says otherwise, so a ``(3, Y, X)`` stack comes back as it
    went in rather than as one RGB image. Keyword arguments go to
    ``tifffile.imwrite`` (``compression="zlib"``, ``photometric="rgb"``) and
    ``tifffile.imread`` (``key=0``, ``series=1``).

    ``axes="ZYX"`` declares what each dimension is, one letter each, and
    is written in the file (readers see ``series[0].axes == "ZYX"``). The
    declaration is checked against the array before anything is written:
    one letter per dimension, no letter twice, ``Y`` and ``X`` last
    (``S``, samples of colour, may follow them or stand right before
    ``YX``); ``S`` means RGB, with 3 or 4 samples, interleaved for ``YXS``
    and in planes for ``SYX``. Anything else raises ``ValueError`` naming
    the axes and the array's shape.
    """

    name = "tiff"
    extensions = (".tif", ".tiff")
    takes = "numeric numpy arrays with two or more dimensions, not empty"

    def accepts(self, data: Any) -> bool:
        return _is_array(data) and data.ndim >= 2 and data.size > 0 and data.dtype.kind in "biufc"

    def write(self, data: Any, file: BinaryIO, *, axes: str | None = None, **kwargs: Any) -> None:
        import tifffile

        if axes is not None:
            kwargs.update(_declared_axes(axes, data.shape, kwargs.get("photometric")))
        kwargs.setdefault("photometric", "minisblack")
        tifffile.imwrite(file, data, **kwargs)

    def read(self, path: str, **kwargs: Any) -> Any:
        import tifffile

        return tifffile.imread(path, **kwargs)


#: Axis letters a TIFF declaration may use (OME's and tifffile's own).
_AXIS_LETTERS = frozenset("TZCQIRHEPLVMYXS")


def _declared_axes(given: object, shape: tuple[int, ...], photometric: object) -> dict[str, Any]:
    """tifffile's options for writing an array of ``shape`` declared as ``given`` axes, checked."""
    problem = None
    axes = given if isinstance(given, str) else ""
    if not axes:
        problem = "axes must be a string of axis letters such as 'ZYX'"
    elif len(axes) != len(shape):
        problem = f"one letter per dimension is needed, {len(axes)} for {len(shape)}"
    elif len(set(axes)) != len(axes) or not set(axes) <= _AXIS_LETTERS:
        problem = f"each letter once, from {''.join(sorted(_AXIS_LETTERS))}"
    elif not (axes.endswith("YX") or axes.endswith("YXS")):
        problem = "Y and X must be the last axes (or YX then S, for interleaved colour)"
    elif "S" in axes and not (axes.endswith("YXS") or axes.endswith("SYX")):
        problem = "the sample axis S must stand right before YX or right after it"
    elif "S" in axes and shape[axes.index("S")] not in (3, 4):
        problem = f"the sample axis S must hold 3 or 4 samples, not {shape[axes.index('S')]}"
    elif "S" in axes and photometric not in (None, "rgb"):
        problem = f"the sample axis S means RGB, but photometric={photometric!r} was given"
    elif "S" not in axes and photometric == "rgb":
        problem = "photometric='rgb' needs a sample axis S in the axes"
    if problem:
        raise ValueError(f"the TIFF axes {given!r} do not match pixel shape {shape}: {problem}")
    options: dict[str, Any] = {"metadata": {"axes": axes}}
    if "S" in axes:
        options["photometric"] = "rgb"
        options["planarconfig"] = "contig" if axes.endswith("YXS") else "separate"
    return options


class NpyFormat(FileFormat):
    """NumPy's ``.npy`` files, for arrays of any shape and dtype without Python objects.

    Never pickles: arrays of ``object`` dtype are refused. Keyword arguments
    go to ``numpy.load`` (``mmap_mode="r"``).
    """

    name = "npy"
    extensions = (".npy",)
    takes = "numpy arrays without Python objects inside"

    def accepts(self, data: Any) -> bool:
        return _is_array(data) and not data.dtype.hasobject

    def write(self, data: Any, file: BinaryIO, **kwargs: Any) -> None:
        import numpy

        _no_other_arguments(self, kwargs, "no keyword arguments when saving")
        numpy.save(file, data, allow_pickle=False)

    def read(self, path: str, **kwargs: Any) -> Any:
        import numpy

        kwargs.setdefault("allow_pickle", False)
        return numpy.load(path, **kwargs)


class JsonFormat(FileFormat):
    """JSON in UTF-8, indented by two spaces unless the call says otherwise.

    Keyword arguments go to ``json.dumps`` (``indent=None``, ``sort_keys=True``)
    and ``json.loads``. Tuples come back as lists and keys as strings, as JSON has it.
    """

    name = "json"
    extensions = (".json",)
    takes = "JSON data: a dict, list, str, int, float, bool or None"

    def accepts(self, data: Any) -> bool:
        return data is None or isinstance(data, (dict, list, str, int, float))

    def write(self, data: Any, file: BinaryIO, **kwargs: Any) -> None:
        import json

        kwargs.setdefault("indent", 2)
        kwargs.setdefault("ensure_ascii", False)
        file.write(json.dumps(data, **kwargs).encode("utf-8") + b"\n")

    def read(self, path: str, **kwargs: Any) -> Any:
        import json

        with open(path, "rb") as file:
            return json.loads(file.read(), **kwargs)


class TextFormat(FileFormat):
    """Text, for a ``str``, stored exactly (no newline translation) in UTF-8 by default.

    Takes ``encoding=`` and ``errors=`` when saving and loading.
    """

    name = "text"
    extensions = (".txt",)
    takes = "a str"

    def accepts(self, data: Any) -> bool:
        return isinstance(data, str)

    def write(
        self,
        data: Any,
        file: BinaryIO,
        *,
        encoding: str = "utf-8",
        errors: str = "strict",
        **kwargs: Any,
    ) -> None:
        _no_other_arguments(self, kwargs, "encoding= and errors=")
        file.write(data.encode(encoding, errors))

    def read(
        self, path: str, *, encoding: str = "utf-8", errors: str = "strict", **kwargs: Any
    ) -> Any:
        _no_other_arguments(self, kwargs, "encoding= and errors=")
        with open(path, "rb") as file:
            return file.read().decode(encoding, errors)


class PngFormat(FileFormat):
    """PNG through imagecodecs (the ``png`` extra), for 8- and 16-bit images.

    Takes ``uint8`` or ``uint16`` arrays of shape ``(Y, X)`` (grey) or
    ``(Y, X, S)`` with 2, 3 or 4 samples (grey and alpha, RGB, RGBA); they
    load back exactly. ``level=`` (0 to 9) sets the deflate level when saving.
    """

    name = "png"
    extensions = (".png",)
    takes = (
        "uint8 or uint16 numpy arrays of shape (Y, X), or (Y, X, S) with 2, 3 or 4 "
        "samples, not empty"
    )

    def accepts(self, data: Any) -> bool:
        if not _is_array(data) or data.size == 0 or data.dtype.str[1:] not in ("u1", "u2"):
            return False
        return data.ndim == 2 or (data.ndim == 3 and data.shape[2] in (2, 3, 4))

    def write(self, data: Any, file: BinaryIO, *, level: int | None = None, **kwargs: Any) -> None:
        _no_other_arguments(self, kwargs, "level= when saving")
        file.write(imagecodecs_for(self.name, "png").png_encode(data, level=level))

    def read(self, path: str, **kwargs: Any) -> Any:
        _no_other_arguments(self, kwargs, "no keyword arguments when loading")
        with open(path, "rb") as file:
            return imagecodecs_for(self.name, "png").png_decode(file.read())


def imagecodecs_for(format_name: str | None, extra: str) -> Any:
    """The imagecodecs module; ``ImportError`` saying which extra brings it when missing."""
    try:
        import imagecodecs
    except ImportError:
        from platekit.registry._install import install_command

        raise ImportError(
            f"the {format_name} disk file format needs imagecodecs, which is not installed: "
            f"{install_command('platekit-storage', extra)}"
        ) from None
    return imagecodecs


class CsvFormat(FileFormat):
    """CSV as a list of rows, each a dict of column name to value.

    The header is the columns in the order they first appear; a row without
    a column leaves its cell empty. Values are written as text (``None`` as
    an empty cell) and load back as ``str``, so rows of strings load back
    exactly. UTF-8 unless ``encoding=`` says otherwise; other keyword
    arguments (``delimiter=";"``, ``quoting=csv.QUOTE_ALL``) go to
    ``csv.DictWriter`` and ``csv.DictReader``, and ``fieldnames=`` sets the
    columns and their order when saving.
    """

    name = "csv"
    extensions = (".csv",)
    takes = "a list of dicts with str keys (one per row) of str, numbers, booleans or None"

    def accepts(self, data: Any) -> bool:
        if not isinstance(data, (list, tuple)):
            return False
        cells = (str, int, float, type(None))
        return all(
            isinstance(row, dict)
            and all(isinstance(k, str) and isinstance(v, cells) for k, v in row.items())
            for row in data
        )

    def write(
        self,
        data: Any,
        file: BinaryIO,
        *,
        encoding: str = "utf-8",
        fieldnames: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        import csv
        import io

        if fieldnames is None:
            fieldnames = list(dict.fromkeys(key for row in data for key in row))
        text = io.TextIOWrapper(file, encoding=encoding, newline="")
        try:
            if fieldnames:
                writer = csv.DictWriter(text, fieldnames, **kwargs)
                writer.writeheader()
                writer.writerows(data)
            text.flush()
        finally:
            text.detach()

    def read(self, path: str, *, encoding: str = "utf-8", **kwargs: Any) -> Any:
        import csv

        with open(path, encoding=encoding, newline="") as file:
            return [dict(row) for row in csv.DictReader(file, **kwargs)]


class BytesFormat(FileFormat):
    """Raw bytes, for every file whose suffix no format claims."""

    name = "bytes"
    takes = "bytes, bytearray or memoryview"

    def accepts(self, data: Any) -> bool:
        return isinstance(data, (bytes, bytearray, memoryview))

    def write(self, data: Any, file: BinaryIO, **kwargs: Any) -> None:
        _no_other_arguments(self, kwargs, "no keyword arguments")
        file.write(data)

    def read(self, path: str, **kwargs: Any) -> Any:
        _no_other_arguments(self, kwargs, "no keyword arguments")
        with open(path, "rb") as file:
            return file.read()
