"""A Harmony or Columbus index read in one pass: the elements its reader uses, and no more.

An index of 50,000 images is some 85 MB of XML; built as an element tree it
holds several times that in memory. Here expat calls back as it reads, and
only the children of the elements that are records (the plate, each well,
each map entry, each image) are kept, as :class:`Fields`; each image is
handed on as soon as it ends, so nothing of it need stay.

What is read is what ElementTree would give: an element's text is the text
before its first child, the first child of a name is the one kept, and names
are local (``{ns}Image`` is ``Image``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from platekit.microscopes._xml import stream_xml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from platekit.microscopes._source import PlateSource

# The root's children that hold records; only the first of each is read, as a reader
# looking up "the" Plates element would.
_SECTIONS = frozenset({"Plates", "Wells", "Maps", "Images"})


class Fields:
    """One record's child elements, by local name (the first of a name wins)."""

    __slots__ = ("attributes", "texts")

    def __init__(self) -> None:
        #: Name -> the child's attributes; every child is here.
        self.attributes: dict[str, dict[str, str]] = {}
        #: Name -> the child's text as written; a child without text is not here.
        self.texts: dict[str, str] = {}

    def text(self, name: str) -> str | None:
        """The child's stripped text: ``None`` when there is no such child, ``""`` when empty."""
        if name not in self.attributes:
            return None
        return self.texts.get(name, "").strip()

    def update(self, other: Fields, names: frozenset[str]) -> None:
        """Take ``other``'s children of the given names in place of these."""
        for name, attributes in other.attributes.items():
            if name in names:
                self.attributes[name] = attributes
                if name in other.texts:
                    self.texts[name] = other.texts[name]
                else:
                    self.texts.pop(name, None)


@dataclass
class IndexParts:
    """What an index's XML holds, as far as its reader asks."""

    #: The root element's tag, as ElementTree writes it: ``{namespace}local``.
    root: str = ""
    #: The root's own children (User, InstrumentType, ...).
    head: Fields = field(default_factory=Fields)
    #: The first Plates/Plate, or ``None``.
    plate: Fields | None = None
    #: The id attribute of each Well of that plate (``None`` where it has none).
    plate_wells: list[str | None] = field(default_factory=list)
    #: Each Wells/Well.
    wells: list[Fields] = field(default_factory=list)
    #: Each Maps/Map/Entry with its ChannelID attribute (``None`` where it has none).
    entries: list[tuple[str | None, Fields]] = field(default_factory=list)


def read_parts(path: Path | PlateSource, image: Callable[[Fields], object]) -> IndexParts:
    """Read the index at ``path``, calling ``image`` with each Images/Image entry in order.

    Raises :class:`~platekit.microscopes.PlateFormatError` for XML that is
    malformed or declares a DTD or entities (after ``image`` may have been
    called for the entries before the fault); ``OSError`` when it cannot be read.
    """
    parts = IndexParts()
    names: dict[str, str] = {}  # tag -> local name; expat hands each tag as one interned string
    depth = 0
    # The open record, its depth and its children's depth (-1 when none is open); its
    # fields' attributes and texts, and what it is handed to at its end.
    record = Fields()
    record_depth = field_depth = -1
    fields, texts = record.attributes, record.texts
    done: Callable[[Fields], object] = image
    plate_wells: list[str | None] | None = None  # while the plate is open, its wells' ids
    section = ""  # the root's child being read, when it is one of the first _SECTIONS
    seen: set[str] = set()
    in_map = False
    current: str | None = None  # the field whose text is being read, if any

    def local(tag: str) -> str:
        name = names.get(tag)
        if name is None:
            name = names[tag] = tag.rsplit("}", 1)[-1]
        return name

    def start(tag: str, attributes: dict[str, str]) -> None:
        # Called for every element: the children of records come first and do least.
        nonlocal depth, current
        depth += 1
        if depth == field_depth:
            name = names.get(tag) or local(tag)
            if name in fields:
                current = None
            else:
                fields[name] = attributes
                current = name
            if plate_wells is not None and name == "Well":
                plate_wells.append(attributes.get("id"))
            return
        current = None  # an element's text is what comes before its first child
        if field_depth < 0:
            outline(tag, attributes)

    def outline(tag: str, attributes: dict[str, str]) -> None:
        """An element outside every record: the root, its children, and where records start."""
        nonlocal section, in_map, fields, texts, current, done, plate_wells
        name = local(tag)
        if depth == 2:
            head = parts.head
            if name not in head.attributes:
                head.attributes[name] = attributes
                texts, current = head.texts, name
            section = name if name in _SECTIONS and name not in seen else ""
            seen.add(name)
        elif depth == 3:
            if section == "Images" and name == "Image":
                done = image
            elif section == "Wells" and name == "Well":
                done = parts.wells.append
            elif section == "Plates" and name == "Plate" and parts.plate is None:
                done = plate_done
                plate_wells = parts.plate_wells
            else:
                in_map = section == "Maps" and name == "Map"
                return
            open_record()
        elif depth == 4 and in_map and name == "Entry":
            channel = attributes.get("ChannelID")
            done = lambda fields: parts.entries.append((channel, fields))  # noqa: E731
            open_record()
        elif depth == 1:
            parts.root = "{" + tag if "}" in tag else tag

    def open_record() -> None:
        nonlocal record, record_depth, field_depth, fields, texts
        record = Fields()
        record_depth, field_depth = depth, depth + 1
        fields, texts = record.attributes, record.texts

    def end(tag: str) -> None:
        # The section and whether a Map is open need no reset here: the next element at
        # their depth sets them, and none deeper comes before it.
        nonlocal depth, current, record_depth, field_depth, plate_wells
        current = None
        if depth == record_depth:
            record_depth = field_depth = -1
            plate_wells = None
            done(record)
        depth -= 1

    def text(data: str) -> None:
        if current is not None:
            if current in texts:
                texts[current] += data
            else:
                texts[current] = data

    def plate_done(fields: Fields) -> None:
        parts.plate = fields

    stream_xml(path, start, end, text)
    return parts
