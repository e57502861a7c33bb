"""Synthetic Harmony exports (Opera Phenix, Operetta): an index and one TIFF per plane.

``write(folder, spec)`` writes ``folder/Images/Index.idx.xml`` (Harmony 5)
or ``folder/Images/Index.xml`` (Harmony 7) beside the TIFFs, with the
elements, their order and their units as Harmony writes them, and returns
``folder``, the measurement folder a user opens. Options:

``version`` (5)
    5: namespace ``.../PEHH/HarmonyV5``, TimepointID from 0, channel
    descriptions in each Image entry, LZW TIFFs with binning 2 (``ImportError``
    where imagecodecs cannot write LZW). 7: namespace ``.../HarmonyV7``,
    TimepointID from 1, SequenceID and GroupID in each Image, channel
    descriptions in ``Maps``, uncompressed TIFFs with binning 1.
``bom`` (True)
    Start the index with a UTF-8 byte-order mark, as Harmony does.
``index_in_images`` (True)
    Put the index and TIFFs in ``Images/``; False puts them in ``folder``.
``index_name`` (None)
    Another index file name, e.g. ``"Index.ref.xml"``.
``instrument`` ("Phenix")
    The InstrumentType: Phenix, Operetta or Sonata.

Missing planes are Image entries with an empty URL and no file.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import tifffile

from platekit.microscopes._model import PlaneKey
from platekit.microscopes._wells import parse_well
from platekit.microscopes.testing import PlateSpec, take_options
from platekit.microscopes.testing._lzw import lzw

_NAMESPACES = {
    5: "http://www.perkinelmer.com/PEHH/HarmonyV5",
    7: "43B2A954-E3C3-47E1-B392-6635266B0DD3/HarmonyV7",
}
_INDEX_NAMES = {5: "Index.idx.xml", 7: "Index.xml"}
_OPTIONS = {
    "version": 5,
    "bom": True,
    "index_in_images": True,
    "index_name": None,
    "instrument": "Phenix",
}
_START = datetime(2024, 5, 14, 10, 21, 33, 947000, tzinfo=timezone(timedelta(hours=2)))
# Name, excitation, emission (0 for brightfield), type, exposure (s) of the channels in order.
_CHANNELS = [
    ("HOECHST 33342", 375, 456, "Fluorescence", 0.1),
    ("Alexa 488", 488, 522, "Fluorescence", 0.2),
    ("Alexa 568", 561, 599, "Fluorescence", 0.2),
    ("Alexa 647", 640, 706, "Fluorescence", 0.3),
    ("Brightfield", 740, 0, "Brightfield", 0.05),
]
_ORIENTATION = "[[0.979259,0,0,-8.8],[0,-0.979259,0,39.9],[0,0,1.00,-0.5]]"


def _channel_description(channel: int) -> tuple[str, int, int, str, float]:
    """Name, excitation nm, emission nm, ChannelType and exposure (s) of channel ``channel``."""
    if channel <= len(_CHANNELS):
        return _CHANNELS[channel - 1]
    return (f"Channel {channel}", 350 + 50 * channel, 400 + 50 * channel, "Fluorescence", 0.1)


def write(folder: Path, spec: PlateSpec) -> Path:
    """Write ``spec`` as a Harmony export in ``folder``; return ``folder`` (see the module)."""
    options = take_options(spec, _OPTIONS)
    version = options["version"]
    if version not in _NAMESPACES:
        raise ValueError(f"Harmony index version {version!r} is not written; use 5 or 7")
    folder.mkdir(exist_ok=True)
    images = folder / "Images" if options["index_in_images"] else folder
    images.mkdir(exist_ok=True)
    index_name = options["index_name"] or _INDEX_NAMES[version]
    missing = set(spec.missing)
    compression = _compression(version)
    for key in _plane_order(spec):
        if key not in missing:
            tifffile.imwrite(
                images / _file_name(key),
                spec.pixels(key),
                compression=compression,
                photometric="minisblack",
                metadata=None,
            )
    text = _Index(spec, version, str(options["instrument"]), missing).text()
    data = text.encode("utf-8")
    (images / index_name).write_bytes(b"\xef\xbb\xbf" + data if options["bom"] else data)
    return folder


def _compression(version: int) -> str | None:
    """Harmony 5 writes LZW TIFFs (``ImportError`` when imagecodecs cannot), 7 uncompressed."""
    return lzw("a Harmony 5 export") if version == 5 else None


def _file_name(key: PlaneKey) -> str:
    row, column = parse_well(key.well)
    return (
        f"r{row:02d}c{column:02d}f{key.site:02d}p{key.z_index:02d}"
        f"-ch{key.channel}sk{key.timepoint}fk1fl1.tiff"
    )


def _image_id(key: PlaneKey) -> str:
    row, column = parse_well(key.well)
    return f"{row:02d}{column:02d}K{key.timepoint}F{key.site}P{key.z_index}R{key.channel}"


def _plane_order(spec: PlateSpec) -> list[PlaneKey]:
    """The planes in Harmony's order: well, time point, field, plane, channel."""
    return [
        PlaneKey(well, site, channel, z, t)
        for well in sorted(spec.wells, key=parse_well)
        for t in range(1, spec.t + 1)
        for site in range(1, spec.sites + 1)
        for z in range(1, spec.z + 1)
        for channel in range(1, spec.channels + 1)
    ]


def _number(value: float) -> str:
    """A double as .NET writes it: ``5.98178730491848E-07``."""
    return format(value, ".15G")


def _metres(um: float) -> str:
    return _number(um * 1e-6)


class _Index:
    """The index XML of one plate, written line by line as Harmony indents it."""

    def __init__(self, spec: PlateSpec, version: int, instrument: str, missing: set[PlaneKey]):
        self.spec = spec
        self.version = version
        self.instrument = instrument
        self.missing = missing
        self.lines: list[str] = []
        self.grid_columns = max(1, int(np.ceil(np.sqrt(spec.sites))))

    def element(self, depth: int, name: str, value: object = None, **attributes: str) -> None:
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in attributes.items())
        pad = "  " * depth
        if value is None or value == "":
            self.lines.append(f"{pad}<{name}{attrs} />")
        else:
            self.lines.append(f"{pad}<{name}{attrs}>{escape(str(value))}</{name}>")

    def open(self, depth: int, name: str, **attributes: str) -> None:
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in attributes.items())
        self.lines.append(f"{'  ' * depth}<{name}{attrs}>")

    def close(self, depth: int, name: str) -> None:
        self.lines.append(f"{'  ' * depth}</{name}>")

    def text(self) -> str:
        spec = self.spec
        self.lines = ['<?xml version="1.0" encoding="utf-8"?>']
        self.lines.append(
            '<EvaluationInputData xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'Version="{1 if self.version == 5 else 2}" xmlns="{_NAMESPACES[self.version]}">'
        )
        self.element(1, "User", "Operator")
        self.element(1, "InstrumentType", self.instrument)
        self.plates(spec)
        self.wells(spec)
        self.maps(spec)
        self.open(1, "Images")
        for key in _plane_order(spec):
            self.image(key)
        self.close(1, "Images")
        self.lines.append("</EvaluationInputData>")
        return "\r\n".join(self.lines) + "\r\n"

    def plates(self, spec: PlateSpec) -> None:
        rows, columns = spec.plate_format
        measurement = uuid.uuid5(uuid.NAMESPACE_URL, f"platekit-synthetic:{spec.name}:{spec.seed}")
        self.open(1, "Plates")
        self.open(2, "Plate")
        self.element(3, "PlateID", spec.name)
        self.element(3, "MeasurementID", str(measurement))
        self.element(3, "MeasurementStartTime", _START.isoformat(timespec="milliseconds"))
        self.element(3, "Name", spec.name)
        self.element(3, "PlateTypeName", f"{rows * columns} PerkinElmer CellCarrier Ultra")
        self.element(3, "PlateRows", rows)
        self.element(3, "PlateColumns", columns)
        for well in sorted(spec.wells, key=parse_well):
            row, column = parse_well(well)
            self.element(3, "Well", id=f"{row:02d}{column:02d}")
        self.close(2, "Plate")
        self.close(1, "Plates")

    def wells(self, spec: PlateSpec) -> None:
        self.open(1, "Wells")
        keys = _plane_order(spec)
        for well in sorted(spec.wells, key=parse_well):
            row, column = parse_well(well)
            self.open(2, "Well")
            self.element(3, "id", f"{row:02d}{column:02d}")
            self.element(3, "Row", row)
            self.element(3, "Col", column)
            for key in keys:
                if key.well == well:
                    self.element(3, "Image", id=_image_id(key))
            self.close(2, "Well")
        self.close(1, "Wells")

    def maps(self, spec: PlateSpec) -> None:
        self.open(1, "Maps")
        self.open(2, "Map")
        for channel in range(1, spec.channels + 1):
            self.open(3, "Entry", ChannelID=str(channel))
            self.element(
                4,
                "FlatfieldProfile",
                "{Background: {Character: Flat, Mean: 100.0}, "
                "Foreground: {Character: Flat, Mean: 1.0}}",
            )
            self.close(3, "Entry")
        self.close(2, "Map")
        if self.version == 7:
            self.open(2, "Map")
            for channel in range(1, spec.channels + 1):
                self.open(3, "Entry", ChannelID=str(channel))
                self.channel_fields(4, channel)
                self.close(3, "Entry")
            self.close(2, "Map")
        self.close(1, "Maps")

    def channel_fields(self, depth: int, channel: int) -> None:
        """The channel description: in every Image entry (V5) or in Maps (V7)."""
        spec = self.spec
        name, _, _, kind, _ = _channel_description(channel)
        height, width = spec.shape
        binning = 2 if self.version == 5 else 1
        dtype = np.dtype(spec.dtype)
        top = np.iinfo(dtype).max + 1 if dtype.kind in "ui" else 65536
        brightfield = kind == "Brightfield"
        self.element(depth, "ChannelName", name)
        self.element(depth, "ImageType", "Signal")
        self.element(depth, "AcquisitionType", "NonConfocal" if brightfield else "NipkowConfocal")
        self.element(depth, "IlluminationType", "Transmitted" if brightfield else "Epifluorescence")
        self.element(depth, "ChannelType", kind)
        if self.version == 7:
            self.element(depth, "BinningX", binning)
            self.element(depth, "BinningY", binning)
        self.element(depth, "ImageResolutionX", _metres(spec.pixel_size_um), Unit="m")
        self.element(depth, "ImageResolutionY", _metres(spec.pixel_size_um), Unit="m")
        self.element(depth, "ImageSizeX", width)
        self.element(depth, "ImageSizeY", height)
        if self.version == 5:
            self.element(depth, "BinningX", binning)
            self.element(depth, "BinningY", binning)
        self.element(depth, "MaxIntensity", top)
        self.element(depth, "CameraType", "AndorZylaCam")
        if self.version == 7:
            self.wavelengths(depth, channel)
            self.element(depth, "OrientationMatrix", _ORIENTATION)

    def wavelengths(self, depth: int, channel: int) -> None:
        _, excitation, emission, _, exposure = _channel_description(channel)
        self.element(depth, "MainExcitationWavelength", excitation, Unit="nm")
        self.element(depth, "MainEmissionWavelength", emission, Unit="nm")
        self.element(depth, "ObjectiveMagnification", 20, Unit="")
        self.element(depth, "ObjectiveNA", 1, Unit="")
        self.element(depth, "ExposureTime", exposure, Unit="s")

    def position_um(self, key: PlaneKey) -> tuple[float, float, float]:
        """Fields on a grid around the well's centre (Y up), planes from z = 0."""
        spec = self.spec
        rows = int(np.ceil(spec.sites / self.grid_columns))
        row, column = divmod(key.site - 1, self.grid_columns)
        height, width = spec.shape
        x = (column - (self.grid_columns - 1) / 2) * width * spec.pixel_size_um
        y = ((rows - 1) / 2 - row) * height * spec.pixel_size_um
        return x, y, (key.z_index - 1) * spec.z_step_um

    def image(self, key: PlaneKey) -> None:
        row, column = parse_well(key.well)
        url = "" if key in self.missing else _file_name(key)
        timepoint_id = key.timepoint - 1 if self.version == 5 else key.timepoint
        x, y, z = self.position_um(key)
        offset = (key.timepoint - 1) * 600.0 + (key.site - 1) * 1.5 + (key.channel - 1) * 0.25
        self.open(2, "Image", Version="1")
        self.element(3, "id", _image_id(key))
        self.element(3, "State", "Ok")
        self.element(3, "URL", url)
        self.element(3, "Row", row)
        self.element(3, "Col", column)
        self.element(3, "FieldID", key.site)
        self.element(3, "PlaneID", key.z_index)
        self.element(3, "TimepointID", timepoint_id)
        if self.version == 7:
            self.element(3, "SequenceID", 1)
            self.element(3, "GroupID", 1)
        self.element(3, "ChannelID", key.channel)
        self.element(3, "FlimID", 1)
        if self.version == 5:
            self.channel_fields(3, key.channel)
        self.element(3, "PositionX", _metres(x), Unit="m")
        self.element(3, "PositionY", _metres(y), Unit="m")
        self.element(3, "PositionZ", _metres(z), Unit="m")
        self.element(3, "AbsPositionZ", _number(0.1352 + z * 1e-6), Unit="m")
        self.element(3, "MeasurementTimeOffset", _number(offset), Unit="s")
        self.element(
            3, "AbsTime", (_START + timedelta(seconds=offset)).isoformat(timespec="milliseconds")
        )
        if self.version == 5:
            self.wavelengths(3, key.channel)
            self.element(3, "OrientationMatrix", _ORIENTATION)
        self.close(2, "Image")
