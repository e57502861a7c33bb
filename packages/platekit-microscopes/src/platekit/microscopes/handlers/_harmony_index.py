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
from platekit.microscopes._xml import local, namespace
from platekit.microscopes.handlers._harmony_xml import Fields, read_parts

TYPE_CHECKING = False
if TYPE_CHECKING:
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
    reader = _Reader(path)
    images: list[IndexImage] = []
    # Each channel's first image entry, which describes it with the Maps.
    first_of: dict[int, Fields] = {}
    failed: list[PlateFormatError] = []

    def read_image(fields: Fields) -> None:
        # An entry's fault is raised after the pass, so that malformed XML anywhere, and
        # every fault of what comes before the images, is reported first.
        if failed:
            return
        try:
            image = reader.image(fields)
        except PlateFormatError as error:
            failed.append(error)
            return
        images.append(image)
        if image.channel is not None and image.channel not in first_of:
            first_of[image.channel] = fields

    parts = read_parts(path, read_image)
    schema = namespace(parts.root)
    if local(parts.root) != "EvaluationInputData" and schema != COLUMBUS_NAMESPACE:
        raise PlateFormatError(
            path,
            f"is not a Harmony image index: its root element is <{local(parts.root)}>, not "
            "<EvaluationInputData>; export the measurement from Harmony again",
        )
    match = _HARMONY_VERSION.search(schema)
    index = HarmonyIndex(path=path, schema=schema, version=int(match.group(1)) if match else None)
    index.user = parts.head.text("User") or None
    index.instrument = parts.head.text("InstrumentType") or None
    wells: set[tuple[int, int]] = set()
    plate = parts.plate
    if plate is not None:
        index.name = plate.text("Name") or plate.text("PlateName") or None
        index.plate_id = plate.text("PlateID") or None
        index.plate_type = plate.text("PlateTypeName") or plate.text("PlateType") or None
        index.rows = reader.integer(plate.text("PlateRows") or None, "PlateRows")
        index.columns = reader.integer(plate.text("PlateColumns") or None, "PlateColumns")
        index.measurement_id = plate.text("MeasurementID") or None
        index.measurement_start_time = plate.text("MeasurementStartTime") or None
        for well_id in parts.plate_wells:
            if well_id:
                wells.add(reader.well_id(well_id))
    for well in parts.wells:
        row = reader.integer(well.text("Row") or None, "Well Row")
        column = reader.integer(well.text("Col") or None, "Well Col")
        if row is not None and column is not None:
            wells.add((row, column))
        elif well.text("id"):
            wells.add(reader.well_id(well.text("id") or ""))
    index.wells = sorted(wells)

    described: dict[int, Fields] = {}
    for channel_id, entry in parts.entries:
        channel = reader.integer(channel_id, "Maps Entry ChannelID")
        if channel is not None:
            described.setdefault(channel, Fields()).update(entry, _CHANNEL_FIELDS)
    index.images = images
    # In the order the images first name them, each described by the Maps and then its first image.
    for channel, first in first_of.items():
        fields = Fields()
        if channel in described:
            fields.update(described[channel], _CHANNEL_FIELDS)
        fields.update(first, _CHANNEL_FIELDS)
        index.channels[channel] = reader.channel(channel, fields)
    if failed:
        raise failed[0]
    for channel, fields in described.items():
        if channel not in index.channels:
            index.channels[channel] = reader.channel(channel, fields)
    index.channels = dict(sorted(index.channels.items()))
    return index


class _Reader:
    """Turns element text into numbers, with errors naming the index file."""

    def __init__(self, path: Path | PlateSource) -> None:
        self.path = path
        # (text, unit) -> µm: an index repeats a few dozen positions thousands of times.
        self.lengths: dict[tuple[str, str], float] = {}

    def integer(self, text: str | None, what: str) -> int | None:
        if text is None:
            return None
        try:
            return int(text)
        except ValueError:
            raise self.not_whole(text, what) from None

    def not_whole(self, text: str, what: str) -> PlateFormatError:
        return PlateFormatError(
            self.path, f"{what} is {text!r}, not a whole number; is the index damaged?"
        )

    def number(self, text: str | None, what: str) -> float | None:
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise PlateFormatError(
                self.path, f"{what} is {text!r}, not a number; is the index damaged?"
            ) from None
        return None if math.isnan(value) else value

    def length_um(self, fields: Fields, name: str, what: str) -> float | None:
        """The child ``name`` as a length in µm, from its Unit attribute; ``None`` when absent."""
        text = fields.texts.get(name)
        if text is None:
            return None
        unit = fields.attributes[name].get("Unit", "")
        found = self.lengths.get((text, unit))
        if found is not None:
            return found
        value = self.number(text.strip(), f"{what}: {name}")
        if value is None:
            return None
        if unit.strip() not in _TO_UM:
            raise PlateFormatError(
                self.path,
                f"{what}: {name} has the unit {unit.strip()!r}; platekit reads m, mm, µm and nm",
            )
        # Harmony writes metres (5.98178730491848E-07); 12 digits drop the float noise.
        length = self.lengths[text, unit] = float(f"{value * _TO_UM[unit.strip()]:.12g}")
        return length

    def well_id(self, text: str) -> tuple[int, int]:
        """``"0203"`` (RRCC) → ``(2, 3)``."""
        if len(text) != 4 or not text.isdigit():
            raise PlateFormatError(
                self.path, f"the well id {text!r} is not RRCC (row and column, two digits each)"
            )
        return int(text[:2]), int(text[2:])

    def image(self, fields: Fields) -> IndexImage:
        texts = fields.texts
        image_id = texts.get("id", "").strip()
        wholes: list[int | None] = []
        for name in _IMAGE_NUMBERS:
            text = texts.get(name)
            if text is not None:
                text = text.strip()
            if not text:
                wholes.append(None)
                continue
            try:
                wholes.append(int(text))
            except ValueError:
                raise self.not_whole(text, f"image {image_id or '(no id)'}: {name}") from None
        url = fields.attributes.get("URL")
        what = f"image {image_id or '(no id)'}"
        row, column, field_id, plane, channel, timepoint = wholes
        return IndexImage(
            image_id,
            texts.get("URL", "").strip(),
            row,
            column,
            field_id,
            plane,
            channel,
            timepoint,
            (
                self.length_um(fields, "PositionX", what),
                self.length_um(fields, "PositionY", what),
                self.length_um(fields, "PositionZ", what),
            ),
            None if url is None else self.integer(url.get("BufferNo"), f"{what}: BufferNo"),
        )

    def channel(self, channel: int, fields: Fields) -> IndexChannel:
        what = f"channel {channel}"

        def number(name: str) -> float | None:
            return self.number(fields.text(name), f"{what}: {name}")

        def whole(name: str) -> int | None:
            value = number(name)
            return None if value is None else round(value)

        emission = number("MainEmissionWavelength")
        return IndexChannel(
            id=channel,
            name=fields.text("ChannelName"),
            type=fields.text("ChannelType"),
            pixel_size_um=(
                self.length_um(fields, "ImageResolutionX", what),
                self.length_um(fields, "ImageResolutionY", what),
            ),
            size=(whole("ImageSizeX"), whole("ImageSizeY")),
            binning=(whole("BinningX"), whole("BinningY")),
            excitation_nm=number("MainExcitationWavelength") or None,
            emission_nm=emission or None,
            objective_magnification=number("ObjectiveMagnification"),
            objective_na=number("ObjectiveNA"),
            exposure_s=number("ExposureTime"),
            camera=fields.text("CameraType"),
            acquisition=fields.text("AcquisitionType"),
        )


# An image entry's whole numbers, in the order of IndexImage's fields.
_IMAGE_NUMBERS = ("Row", "Col", "FieldID", "PlaneID", "ChannelID", "TimepointID")
