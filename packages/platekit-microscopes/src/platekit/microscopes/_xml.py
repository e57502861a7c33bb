"""Parsing vendor XML safely: no DTDs, no entities, errors that name the file and line.

A plate index is data from outside. An XML file that declares a document
type or an entity could make the parser read local files (external
entities) or expand a few bytes into gigabytes ("billion laughs"); such a
file is refused before any of it is used.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from xml.parsers import expat

from platekit.microscopes._errors import PlateFormatError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from platekit.microscopes._source import PlateSource


#: Bytes handed to expat at a time by :func:`stream_xml`.
_PIECE = 1 << 20


class _Refused(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def parse_xml(path: Path | str | PlateSource) -> ET.Element:
    """The root element of the XML file at ``path`` (a path or a plate's file), parsed without
    DTDs or entities.

    A UTF-8 byte-order mark is accepted. Raises :class:`PlateFormatError`
    naming the file and the line for malformed XML, a document type
    declaration or an entity declaration; ``OSError`` when it cannot be read.
    """
    data = _file(path).read_bytes()
    # Checked first by expat with no handler per element (at C speed), then built by
    # ElementTree's C parser, which cannot meet a declaration the check has refused.
    _parse(_safe_parser(), data, path)
    return ET.fromstring(data)


def stream_xml(
    path: Path | str | PlateSource,
    start: Callable[[str, dict[str, str]], object],
    end: Callable[[str], object],
    text: Callable[[str], object],
) -> None:
    """Read the XML file at ``path`` in one pass, without DTDs or entities, and without
    keeping its elements.

    ``start(tag, attributes)`` is called where an element starts, ``end(tag)``
    where it ends and ``text(data)`` with character data (one element's text may
    come in several calls). A tag or attribute name in a namespace is
    ``uri}local``. Raises :class:`PlateFormatError` naming the file and the line
    for a document type or an entity declaration (which only come before the root
    element, so before any callback) and for malformed XML (after the callbacks
    have seen what comes before the fault); ``OSError`` when it cannot be read.
    """
    parser = _safe_parser()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    # Fed in pieces, so that not even the file's bytes are held whole.
    with _file(path).open("rb") as file:
        while piece := file.read(_PIECE):
            _parse(parser, piece, path, final=False)
    _parse(parser, b"", path)


def _file(path: Path | str | PlateSource) -> Path | PlateSource:
    return Path(path) if isinstance(path, str) else path


def _safe_parser() -> expat.XMLParserType:
    """An expat parser that refuses a document type, an entity and an external reference."""
    parser = expat.ParserCreate(namespace_separator="}")

    def refuse(what: str) -> None:
        raise _Refused(
            f"declares {what}, which a plate index never needs; it is refused so that a "
            "crafted file cannot read local files or exhaust memory",
            parser.CurrentLineNumber,
        )

    def start_doctype(name: str, *args: object) -> None:
        refuse(f"a document type ({name!r})")

    def entity_declaration(name: str, *args: object) -> None:
        refuse(f"an entity ({name!r})")

    def external_reference(*args: object) -> int:
        refuse("a reference to an external entity")
        return 0

    parser.StartDoctypeDeclHandler = start_doctype
    parser.EntityDeclHandler = entity_declaration
    parser.UnparsedEntityDeclHandler = entity_declaration
    parser.ExternalEntityRefHandler = external_reference
    return parser


def _parse(
    parser: expat.XMLParserType, data: bytes, path: Path | str | PlateSource, final: bool = True
) -> None:
    try:
        parser.Parse(data, final)
    except _Refused as exc:
        raise PlateFormatError(path, str(exc), exc.line) from None
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code) if exc.code else str(exc)
        raise PlateFormatError(path, f"is not well-formed XML ({message})", exc.lineno) from None


def local(tag: str) -> str:
    """An element's name without its namespace: ``{ns}Image -> Image``."""
    return tag.rsplit("}", 1)[-1]


def namespace(tag: str) -> str:
    """An element's namespace URI, or ``""``."""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
