"""Reading a Harmony (Opera Phenix, Operetta) or Columbus image index into plain data.

Harmony exports one XML index beside the plate's TIFFs: ``Index.idx.xml``
(Harmony 5 and older), ``Index.xml`` (6 and 7) or ``Index.ref.xml`` (a
flat-field export); Columbus writes ``ImageIndex.ColumbusIDX.xml``. This
module says what the index says, with lengths in µm and the numbers as the
file writes them; which plane each entry stands for is the handler's
business (the time point bases differ between versions).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from platekit.microscopes._errors import PlateFormatError
from platekit.microscopes._xml import local, namespace, parse_xml

TYPE_CHECKING = False
if TYPE_CHECKING:
    import xml.etree.ElementTree as ET
    from collections.abc import Iterator

    from platekit.microscopes._source import PlateSource

#: Index file names, in the order they are preferred when one folder holds several.
INDEX_NAMES = ("Index.idx.xml", "Index.xml", "Index.ref.xml", "ImageIndex.ColumbusIDX.xml")
#: The folder of a measurement that holds the index and the TIFFs.
IMAGES_FOLDER = "Images"

COLUMBUS_NAMESPACE = "http://www.perkinelmer.com/Columbus"
_HARMONY_VERSION = re.compile(r"/HarmonyV(\d+)$")

# Length units Harmony writes in Unit="..." attributes, as factors to µm.
# An absent unit is taken as metres, which is what Harmony always writes.
_TO_UM = {"": 1e6, "m": 1e6, "mm": 1e3, "um": 1.0, "\u00b5m": 1.0, "\u03bcm": 1.0, "nm": 1e-3}

# Children of an Image entry (V5) or of a Maps/Map/Entry (V7) that describe its channel.
_CHANNEL_FIELDS = frozenset(
    {
        "ChannelName",
        "ChannelType",
        "ImageType",
        "AcquisitionType",
        "IlluminationType",
        "ImageResolutionX",
        "ImageResolutionY",
        "ImageSizeX",
        "ImageSizeY",
        "BinningX",
        "BinningY",
        "MaxIntensity",
        "CameraType",
        "MainExcitationWavelength",
        "MainEmissionWavelength",
        "ObjectiveMagnification",
        "ObjectiveNA",
        "ExposureTime",
    }
)


@dataclass
class IndexChannel:
    """One channel as the index describes it; ``None`` where it says nothing."""

    id: int
    name: str | None = None
    #: Fluorescence, Brightfield or Phase.
    type: str | None = None
    pixel_size_um: tuple[float | None, float | None] = (None, None)
    #: ImageSizeX, ImageSizeY: the image's width and height in pixels.
    size: tuple[int | None, int | None] = (None, None)
    binning: tuple[int | None, int | None] = (None, None)
    excitation_nm: float | None = None
    #: ``None`` for brightfield channels, which Harmony writes as emission 0.
    emission_nm: float | None = None
    objective_magnification: float | None = None
    objective_na: float | None = None
    exposure_s: float | None = None
    camera: str | None = None
    acquisition: str | None = None


@dataclass(frozen=True)
class IndexImage:
    """One ``Images/Image`` entry: numbers as written (``None`` where absent), ``url`` as written.

    An empty ``url`` is a plane Harmony lists but did not export.
    """

    id: str
    url: str
    row: int | None
    column: int | None
    field: int | None
    plane: int | None
    channel: int | None
    timepoint_id: int | None
    #: PositionX, PositionY, PositionZ in µm (X and Y are offsets from the well's centre).
    position_um: tuple[float | None, float | None, float | None]
    #: The URL's BufferNo (Columbus): which image of a multi-image TIFF; ``None`` when absent.
    buffer: int | None = None


@dataclass
class HarmonyIndex:
    """What one index file says about its plate."""

    path: Path | PlateSource
    #: The XML namespace of the root element.
    schema: str
    #: The Harmony schema version in the namespace (5, 7), or ``None`` (Columbus, unknown).
    version: int | None
    name: str | None = None
    plate_id: str | None = None
    plate_type: str | None = None
    rows: int | None = None
    columns: int | None = None
    measurement_id: str | None = None
    measurement_start_time: str | None = None
    user: str | None = None
    instrument: str | None = None
    #: Selected wells as (row, column), 1-based, from Plates/Plate/Well and Wells/Well.
    wells: list[tuple[int, int]] = field(default_factory=list)
    channels: dict[int, IndexChannel] = field(default_factory=dict)
    images: list[IndexImage] = field(default_factory=list)

    @property
    def columbus(self) -> bool:
        return self.schema == COLUMBUS_NAMESPACE


def find_index(folder: PlateSource) -> PlateSource | None:
    """The index file in ``folder`` or its ``Images/`` folder, or ``None``.

    The folder itself is searched first; within a folder, names are matched
    without regard to case, preferred in the order of :data:`INDEX_NAMES`.
    """
    for where in (folder, _images_folder(folder)):
        if where is None:
            continue
        for wanted in INDEX_NAMES:
            # The lowered names' map is made only for a folder that holds an index.
            if _has_file(where, wanted):
                return where / _file_names(where)[wanted.lower()]
    return None


def _images_folder(folder: PlateSource) -> PlateSource | None:
    try:
        folders = folder.entries()[1]
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    for name in folders:
        if name.lower() == IMAGES_FOLDER.lower():
            return folder / name
    return None


def _has_file(folder: PlateSource, name: str) -> bool:
    """Whether ``folder`` holds a file called ``name`` without regard to case."""
    try:
        return folder.has_file_without_case(name)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return False


def _file_names(folder: PlateSource) -> dict[str, str]:
    """Lower-cased name → name of every file in ``folder``."""
    try:
        return folder.files_by_lower_name()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return {}


def read_index(path: Path | PlateSource) -> HarmonyIndex:
    """What the index file at ``path`` says.

    Raises :class:`PlateFormatError` naming the file (and the line, for
    malformed XML) when it is not XML, declares a DTD or entities, is not a
    Harmony or Columbus index, or holds a number that is not one;
    ``OSError`` when it cannot be read.
    """
    root = parse_xml(path)
    schema = namespace(root.tag)
    if local(root.tag) != "EvaluationInputData" and schema != COLUMBUS_NAMESPACE:
        raise PlateFormatError(
            path,
            f"is not a Harmony image index: its root element is <{local(root.tag)}>, not "
            "<EvaluationInputData>; export the measurement from Harmony again",
        )
    match = _HARMONY_VERSION.search(schema)
    index = HarmonyIndex(path=path, schema=schema, version=int(match.group(1)) if match else None)
    reader = _Reader(path)
    index.user = _text(root, "User")
    index.instrument = _text(root, "InstrumentType")
    wells: set[tuple[int, int]] = set()
    plate = _child(_child(root, "Plates"), "Plate")
    if plate is not None:
        index.name = _text(plate, "Name") or _text(plate, "PlateName")
        index.plate_id = _text(plate, "PlateID")
        index.plate_type = _text(plate, "PlateTypeName") or _text(plate, "PlateType")
        index.rows = reader.integer(_text(plate, "PlateRows"), "PlateRows")
        index.columns = reader.integer(_text(plate, "PlateColumns"), "PlateColumns")
        index.measurement_id = _text(plate, "MeasurementID")
        index.measurement_start_time = _text(plate, "MeasurementStartTime")
        for well in _children(plate, "Well"):
            if well.get("id"):
                wells.add(reader.well_id(well.get("id", "")))
    for well in _children(_child(root, "Wells"), "Well"):
        row = reader.integer(_text(well, "Row"), "Well Row")
        column = reader.integer(_text(well, "Col"), "Well Col")
        if row is not None and column is not None:
            wells.add((row, column))
        elif _text(well, "id"):
            wells.add(reader.well_id(_text(well, "id") or ""))
    index.wells = sorted(wells)

    described: dict[int, dict[str, ET.Element]] = {}
    for map_ in _children(_child(root, "Maps"), "Map"):
        for entry in _children(map_, "Entry"):
            channel = reader.integer(entry.get("ChannelID"), "Maps Entry ChannelID")
            if channel is not None:
                fields = described.setdefault(channel, {})
                fields.update(_fields(entry, _CHANNEL_FIELDS))
    for element in _children(_child(root, "Images"), "Image"):
        image = reader.image(element)
        index.images.append(image)
        if image.channel is not None and image.channel not in index.channels:
            fields = {**described.get(image.channel, {}), **_fields(element, _CHANNEL_FIELDS)}
            index.channels[image.channel] = reader.channel(image.channel, fields)
    for channel, fields in described.items():
        if channel not in index.channels:
            index.channels[channel] = reader.channel(channel, fields)
    index.channels = dict(sorted(index.channels.items()))
    return index


class _Reader:
    """Turns element text into numbers, with errors naming the index file."""

    def __init__(self, path: Path | PlateSource) -> None:
        self.path = path

    def integer(self, text: str | None, what: str) -> int | None:
        if text is None:
            return None
        try:
            return int(text)
        except ValueError:
            raise PlateFormatError(
                self.path, f"{what} is {text!r}, not a whole number; is the index damaged?"
            ) from None

    def number(self, element: ET.Element | None, what: str) -> float | None:
        if element is None or not (element.text or "").strip():
            return None
        text = (element.text or "").strip()
        try:
            value = float(text)
        except ValueError:
            raise PlateFormatError(
                self.path, f"{what} is {text!r}, not a number; is the index damaged?"
            ) from None
        return None if math.isnan(value) else value

    def length_um(self, element: ET.Element | None, what: str) -> float | None:
        value = self.number(element, what)
        if value is None or element is None:
            return None
        unit = element.get("Unit", "").strip()
        if unit not in _TO_UM:
            raise PlateFormatError(
                self.path, f"{what} has the unit {unit!r}; platekit reads m, mm, µm and nm"
            )
        # Harmony writes metres (5.98178730491848E-07); 12 digits drop the float noise.
        return float(f"{value * _TO_UM[unit]:.12g}")

    def well_id(self, text: str) -> tuple[int, int]:
        """``"0203"`` (RRCC) → ``(2, 3)``."""
        if len(text) != 4 or not text.isdigit():
            raise PlateFormatError(
                self.path, f"the well id {text!r} is not RRCC (row and column, two digits each)"
            )
        return int(text[:2]), int(text[2:])

    def image(self, element: ET.Element) -> IndexImage:
        fields = _fields(element)
        image_id = _element_text(fields.get("id")) or ""
        what = f"image {image_id or '(no id)'}"

        def whole(name: str) -> int | None:
            return self.integer(_element_text(fields.get(name)) or None, f"{what}: {name}")

        url = fields.get("URL")
        return IndexImage(
            id=image_id,
            url=_element_text(url) or "",
            row=whole("Row"),
            column=whole("Col"),
            field=whole("FieldID"),
            plane=whole("PlaneID"),
            channel=whole("ChannelID"),
            timepoint_id=whole("TimepointID"),
            position_um=(
                self.length_um(fields.get("PositionX"), f"{what}: PositionX"),
                self.length_um(fields.get("PositionY"), f"{what}: PositionY"),
                self.length_um(fields.get("PositionZ"), f"{what}: PositionZ"),
            ),
            buffer=None if url is None else self.integer(url.get("BufferNo"), f"{what}: BufferNo"),
        )

    def channel(self, channel: int, fields: dict[str, ET.Element]) -> IndexChannel:
        what = f"channel {channel}"

        def number(name: str) -> float | None:
            return self.number(fields.get(name), f"{what}: {name}")

        def whole(name: str) -> int | None:
            value = number(name)
            return None if value is None else round(value)

        emission = number("MainEmissionWavelength")
        return IndexChannel(
            id=channel,
            name=_element_text(fields.get("ChannelName")),
            type=_element_text(fields.get("ChannelType")),
            pixel_size_um=(
                self.length_um(fields.get("ImageResolutionX"), f"{what}: ImageResolutionX"),
                self.length_um(fields.get("ImageResolutionY"), f"{what}: ImageResolutionY"),
            ),
            size=(whole("ImageSizeX"), whole("ImageSizeY")),
            binning=(whole("BinningX"), whole("BinningY")),
            excitation_nm=number("MainExcitationWavelength") or None,
            emission_nm=emission or None,
            objective_magnification=number("ObjectiveMagnification"),
            objective_na=number("ObjectiveNA"),
            exposure_s=number("ExposureTime"),
            camera=_element_text(fields.get("CameraType")),
            acquisition=_element_text(fields.get("AcquisitionType")),
        )


#: Each tag's local name, as an index has dozens of children per image and a few dozen tags.
_LOCAL_NAMES: dict[str, str] = {}


def _children(parent: ET.Element | None, name: str) -> Iterator[ET.Element]:
    if parent is None:
        return
    for child in parent:
        if local(child.tag) == name:
            yield child


def _child(parent: ET.Element | None, name: str) -> ET.Element | None:
    return next(_children(parent, name), None)


def _element_text(element: ET.Element | None) -> str | None:
    """The element's stripped text; ``None`` when there is no element, ``""`` when it is empty."""
    if element is None:
        return None
    return (element.text or "").strip()


def _text(parent: ET.Element | None, name: str) -> str | None:
    """The stripped text of the child ``name``, ``None`` when it is absent or empty."""
    return _element_text(_child(parent, name)) or None


def _fields(element: ET.Element, only: frozenset[str] | None = None) -> dict[str, ET.Element]:
    """Local name → child element; the first of a name wins."""
    names = _LOCAL_NAMES
    if len(names) > 4096:  # a file of ever new tags; an index has a few dozen
        names.clear()
    fields: dict[str, ET.Element] = {}
    for child in reversed(element):  # so that the first of a name is the one kept
        tag = child.tag
        name = names.get(tag)
        if name is None:
            name = names[tag] = local(tag)
        fields[name] = child
    if only is not None:
        return {name: child for name, child in fields.items() if name in only}
    return fields
