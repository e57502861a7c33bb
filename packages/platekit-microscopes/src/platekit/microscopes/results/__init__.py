"""Experimental results: the per-well measurements that HCS analysis software exports.

:func:`read_results` turns one exported file into ``{well: {feature:
value}}``, wells in platekit's spelling (``A01``). Each export format is a
:class:`ResultFormat` registered under ``_format_name`` in
:data:`RESULT_FORMATS`: ``cx5`` (Thermo Fisher CellInsight CX5 / HCS Studio
workbooks) and ``metaxpress`` (Molecular Devices MetaXpress measurement
exports) are built in; third-party formats join through the
``platekit.result_formats`` entry-point group. CSV files need nothing more;
``.xlsx`` workbooks need openpyxl, the ``xlsx`` extra
(``python -m pip install './packages/platekit-microscopes[xlsx]'`` from a checkout).
"""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path

from platekit.registry import AutoRegisterMeta, LazyDiscoveryDict, RegistryConfig

__all__ = ["RESULT_FORMATS", "ResultFormat", "read_results"]

#: Every result format class, by ``_format_name``.
RESULT_FORMATS = LazyDiscoveryDict()

#: What read_results returns: well -> feature -> number or text.
Results = dict[str, dict[str, float | str]]


class ResultFormat(metaclass=AutoRegisterMeta):
    """One program's export of per-well results. Subclasses register under ``_format_name``.

    A subclass sets ``_format_name``, ``display_name``, ``looks_for`` (what
    :meth:`recognises` checks, in words) and ``extensions`` (the suffixes it
    reads, with their dot), and implements :meth:`recognises` and
    :meth:`read`. ``extensions`` is read from the registry's index, so
    ``format="auto"`` only imports the formats that read the file's suffix.
    """

    __registry_config__ = RegistryConfig(
        registry_dict=RESULT_FORMATS,
        key_attribute="_format_name",
        skip_if_no_key=True,
        registry_name="result format",
        discovery_package="platekit.microscopes.results",
        entry_point_group="platekit.result_formats",
        metadata_attributes=("display_name", "looks_for", "extensions"),
    )

    #: The format's name in registries and in ``read_results(..., format=)``.
    _format_name: str | None = None
    #: The program that writes it, for people.
    display_name: str = ""
    #: What :meth:`recognises` looks for, in words: "an .xlsx workbook with a 'Rawdata' sheet".
    looks_for: str = ""
    #: Suffixes of the files it reads, lower case with their dot: ``(".csv", ".xlsx")``.
    extensions: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The format's name (its ``_format_name``)."""
        return self._format_name or type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @abstractmethod
    def recognises(self, path: Path) -> bool:
        """Whether the file at ``path`` is in this format, judged by its header or sheet names.

        Reads as little as it can, and returns ``False`` (never raises) for a
        file of another format, even an unreadable one; only a missing
        optional dependency (openpyxl for a workbook) raises ``ImportError``.
        """

    @abstractmethod
    def read(self, path: Path, *, plate: str | None = None) -> Results:
        """The file's results, ``{well: {feature: value}}``, wells in plate order.

        ``plate`` picks one plate of a file that holds several, by its
        barcode, id or name. Numbers are floats, other text stays ``str``,
        empty cells are left out. Raises
        :class:`~platekit.microscopes.PlateFormatError` naming the file (and
        row) when it is not in this format, ``ValueError`` listing the plates
        when ``plate`` is needed or names none, and ``ImportError`` saying
        what to install when a workbook needs openpyxl.
        """


def read_results(
    path: str | os.PathLike[str], format: str = "auto", *, plate: str | None = None
) -> Results:
    """The per-well results in the file at ``path``: ``{well: {feature: value}}``.

    ``format`` is a key of :data:`RESULT_FORMATS` (``"cx5"``,
    ``"metaxpress"``) or ``"auto"``, which asks every format that reads the
    file's suffix whether it recognises the file, by its header or sheet
    names. Wells are spelled ``A01`` and come in plate order; numbers are
    floats, other text stays ``str``, empty cells are left out; how several
    rows of one well are combined is up to the format (both built-in ones
    average them). ``plate`` chooses one plate of a file that holds several.

    Raises ``FileNotFoundError``; ``KeyError`` listing the formats for an
    unknown ``format``; ``ValueError`` (a
    :class:`~platekit.microscopes.PlateFormatError` when the file is
    malformed) naming every format tried and what each looks for when
    ``"auto"`` finds none, or the ones that both claim the file; and
    ``ImportError`` with the install command for a workbook without openpyxl.
    """
    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise IsADirectoryError(f"{path} is a folder; read_results reads one exported file")
        raise FileNotFoundError(f"no result file at {path}")
    chosen: type[ResultFormat] = RESULT_FORMATS[format] if format != "auto" else _detect(path)
    return chosen().read(path, plate=plate)


def _detect(path: Path) -> type[ResultFormat]:
    """The one format that recognises ``path``; ``ValueError`` saying what was tried otherwise."""
    suffix = path.suffix.lower()
    tried: list[str] = []
    claims: list[type[ResultFormat]] = []
    for name in RESULT_FORMATS:
        metadata = RESULT_FORMATS.metadata(name)
        extensions = [str(ext).lower() for ext in metadata.get("extensions", ())]
        looks_for = metadata.get("looks_for") or "its own files"
        if extensions and suffix not in extensions:
            tried.append(f"{name} (reads {', '.join(extensions)} files: {looks_for})")
            continue
        cls = RESULT_FORMATS[name]
        if cls().recognises(path):
            claims.append(cls)
        else:
            tried.append(f"{name} (looks for {looks_for})")
    if len(claims) == 1:
        return claims[0]
    if claims:
        names = ", ".join(repr(cls._format_name) for cls in claims)
        raise ValueError(
            f"{path} is recognised by more than one result format: {names}; "
            "pass format=... to choose"
        )
    raise ValueError(
        f"no result format recognises {path}. Tried: {'; '.join(tried) or 'none registered'}. "
        "Pass format=... if you know it, or check that the file is an export of per-well results."
    )
