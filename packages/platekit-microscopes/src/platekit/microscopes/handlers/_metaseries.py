"""The MetaSeries XML that MetaXpress writes into every plane's TIFF.

Each plane's ImageDescription holds ``<MetaData><prop id=… type=… value=…/>``.
:func:`tiff_header` reads a TIFF's shape, dtype and description from its
first directory without decoding pixels, :func:`metaseries_props` picks the
``prop`` elements out of the description, and :class:`StagePositions` reads
every plane's stage position the first time they are asked for.
"""

from __future__ import annotations

import html
import re
import struct
from dataclasses import dataclass

from platekit.microscopes._model import PlaneKey
from platekit.microscopes.handlers._lazy_dict import LazyDict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path
    from typing import IO

    from platekit.microscopes._source import PlateSource

# MetaSeries writes id, type and value in this order.
_PROP = re.compile(r'<(?:custom-)?prop\s+id="([^"]*)"(?:\s+type="[^"]*")?\s+value="([^"]*)"')
_MICROMETRES = {
    "um": 1.0,
    "µm": 1.0,
    "μm": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "micrometer": 1.0,
    "nm": 1e-3,
    "mm": 1e3,
}
_DTYPES = {
    (1, 8): "uint8",
    (1, 16): "uint16",
    (1, 32): "uint32",
    (1, 64): "uint64",
    (2, 8): "int8",
    (2, 16): "int16",
    (2, 32): "int32",
    (2, 64): "int64",
    (3, 16): "float16",
    (3, 32): "float32",
    (3, 64): "float64",
}
# TIFF field type -> (struct code, size in bytes).
_FIELD_TYPES = {
    1: ("B", 1),
    2: ("B", 1),
    3: ("H", 2),
    4: ("I", 4),
    7: ("B", 1),
    16: ("Q", 8),
    9: ("i", 4),
    8: ("h", 2),
}
_WIDTH, _LENGTH, _BITS, _DESCRIPTION, _SAMPLE_FORMAT = 256, 257, 258, 270, 339


@dataclass(frozen=True)
class TiffHeader:
    """What a TIFF's first directory says: its size, pixel type and ImageDescription."""

    shape: tuple[int, int]
    dtype: str | None
    description: str


def tiff_header(path: Path | PlateSource) -> TiffHeader | None:
    """The first directory of the TIFF at ``path``, or ``None`` when it cannot be read.

    Reads the tags only, a few hundred bytes, so that it costs a small part
    of opening the file with tifffile; it never raises.
    """
    try:
        with path.open("rb") as file:
            return _read_header(file)
    except (OSError, ValueError, KeyError, IndexError, struct.error):
        return None


def _read_header(file: IO[bytes]) -> TiffHeader | None:
    head = file.read(16)
    order = {b"II": "<", b"MM": ">"}[head[:2]]
    (magic,) = struct.unpack(order + "H", head[2:4])
    if magic == 42:  # classic TIFF: 2-byte entry count, 4-byte counts and offsets
        count_code, offset_code, entry_size = "H", "I", 12
        (first,) = struct.unpack(order + "I", head[4:8])
    elif magic == 43:  # BigTIFF: 8-byte entry count, counts and offsets
        count_code, offset_code, entry_size = "Q", "Q", 20
        (first,) = struct.unpack(order + "Q", head[8:16])
    else:
        return None
    inline = struct.calcsize(offset_code)
    file.seek(first)
    (entries,) = struct.unpack(order + count_code, file.read(struct.calcsize(count_code)))
    table = file.read(entries * entry_size)
    entry = f"{order}HH{offset_code}{inline}s"
    tags = {
        tag: (kind, number, payload)
        for tag, kind, number, payload in struct.iter_unpack(entry, table)
    }

    def raw(tag: int) -> tuple[str, int, bytes]:
        kind, number, payload = tags[tag]
        code, size = _FIELD_TYPES[kind]
        if number * size > inline:
            file.seek(struct.unpack(order + offset_code, payload)[0])
            payload = file.read(number * size)
        return code, number, payload[: number * size]

    def first_value(tag: int, default: int) -> int:
        if tag not in tags:
            return default
        code, _, payload = raw(tag)
        return int(struct.unpack_from(order + code, payload)[0])

    width, length = first_value(_WIDTH, 0), first_value(_LENGTH, 0)
    dtype = _DTYPES.get((first_value(_SAMPLE_FORMAT, 1), first_value(_BITS, 1)))
    description = ""
    if _DESCRIPTION in tags:
        text = raw(_DESCRIPTION)[2].rstrip(b"\0")
        try:
            description = text.decode("utf-8")
        except UnicodeDecodeError:
            description = text.decode("latin-1")
    return TiffHeader((length, width), dtype, description)


def metaseries_props(description: str) -> dict[str, str]:
    """The ``prop`` elements of MetaSeries XML as id → value (the first of each id).

    The elements are picked out by pattern, not parsed as XML, so nothing in
    a description is expanded or fetched; an empty dict for other text.
    """
    if "<MetaData" not in description:
        return {}
    props: dict[str, str] = {}
    for id_, value in _PROP.findall(description):
        if id_ not in props:
            props[id_] = html.unescape(value) if "&" in value else value
    return props


def pixel_size_um(props: dict[str, str]) -> float | None:
    """The pixel size in µm that ``spatial-calibration-x`` gives, or ``None`` if uncalibrated."""
    state = props.get("spatial-calibration-state", "on").strip().lower()
    units = props.get("spatial-calibration-units", "um").strip().lower()
    if state in ("off", "false", "0") or units not in _MICROMETRES:
        return None
    size = _number(props.get("spatial-calibration-x"))
    return size * _MICROMETRES[units] if size is not None and size > 0 else None


def stage_position(props: dict[str, str]) -> tuple[float, float, float | None] | None:
    """``(x, y, z or None)`` in µm from ``stage-position-x/y`` and ``z-position``, or ``None``."""
    x, y = _number(props.get("stage-position-x")), _number(props.get("stage-position-y"))
    if x is None or y is None:
        return None
    return x, y, _number(props.get("z-position"))


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


#: A stage position in µm: x, y and, where recorded, z.
Position = tuple[float, float, float | None]


class StagePositions(LazyDict[PlaneKey, Position]):
    """Each plane's stage position in µm, read from its MetaSeries XML on first use.

    A plate's planes each hold their own position, so reading them all
    costs a file open per plane: a scan does not pay that, the first use of
    the mapping does. Planes whose TIFF records no position are left out.
    Copies and pickles as a plain ``dict``.
    """

    def __init__(
        self,
        items: Iterable[tuple[PlaneKey, Position]] = (),
        /,
        *,
        source: tuple[Path | PlateSource, Mapping[PlaneKey, str]] | None = None,
    ) -> None:
        super().__init__(items, fill=None if source is None else lambda: _read(*source))


def _read(
    plate: Path | PlateSource, planes: Mapping[PlaneKey, str]
) -> Iterator[tuple[PlaneKey, Position]]:
    for key in sorted(planes):
        header = tiff_header(plate / planes[key])
        position = stage_position(metaseries_props(header.description)) if header else None
        if position is not None:
            yield key, position
