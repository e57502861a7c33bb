"""A synthetic ImageXpress plate, written as MetaXpress writes one.

The plate folder gets ``<name>.HTD`` (``"HTSInfoFile", Version 1.0`` first,
``"EndFile"`` last, CRLF line ends) and one TIFF per plane named
``<name>_<well>[_s<site>][_w<wave>][<GUID>].tif``, whose ImageDescription is
MetaSeries XML (pixel size, stage position, Z position, wavelength,
acquisition time). Planes in ``spec.missing`` are listed by the HTD but not
written.

Options (``write_plate("imagexpress", folder, **options)``):

``layout``
    ``"flat"`` (every TIFF in the plate folder; needs z == t == 1),
    ``"timepoint"`` (``TimePoint_<t>/``; needs z == 1), ``"zstep"``
    (``ZStep_<z>/``; needs t == 1) or ``"timepoint_zstep"``
    (``TimePoint_<t>/ZStep_<z>/``). Default: flat for a single plane per
    site and wave, ``timepoint`` for a time series, ``timepoint_zstep``
    for a Z series.
``htd_in_timepoint``
    ``False`` (default: the HTD in the plate folder), ``True`` (also a copy
    in ``TimePoint_1/``) or ``"only"`` (only in ``TimePoint_1/``).
``htd_name_case``
    ``"upper"`` (``.HTD``, default) or ``"lower"`` (``.htd``).
``extension``
    ``".tif"`` (default) or ``".TIF"``.
``guid``
    ``False`` (default), ``True`` (a GUID right after the wave, as
    MetaXpress appends it) or ``"bracketed"`` (``_[GUID]``).
``thumbnails``
    Also write a small ``_thumb`` TIFF beside every plane (default ``False``).
``site_names``
    Whether names carry ``_s<site>``. Default: only when there is more than
    one site; without them the HTD says ``"Sites", FALSE``.
``wave_names``
    Whether names carry ``_w<wave>`` (default ``True``); without them the
    HTD says ``"Waves", FALSE`` (one wavelength only).
``site_selection``
    The HTD's SiteSelection grid as rows of booleans; ``spec.sites`` must be
    the number of ``True`` cells. Default: the first ``sites`` cells, in
    reading order, of the smallest near-square grid.
``description_encoding``
    ``"cp1252"`` (default, as MetaXpress on Windows) or ``"utf-8"``: the
    encoding of the HTD, whose Description holds a "µ".
``pixel_size_in_htd``
    Also write ``"PixelSize", <µm>`` into the HTD (default ``False``;
    MetaXpress keeps the pixel size in the TIFFs only).
``compression``
    ``"lzw"`` (default, as MetaXpress often writes them; ``ImportError``
    when imagecodecs cannot write LZW) or ``None`` (uncompressed TIFFs).
``projections``
    Also write, for a Z series (nothing otherwise), the maximum projection of each site and wave
    into ``ZStep_0/`` beside the ``ZStep_<z>/`` folders, named like the
    planes, and say ``"ZProjection", TRUE`` in the HTD, as MetaXpress's
    projection exports do (default ``False``).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from pathlib import Path

import numpy as np
import tifffile

from platekit.microscopes._model import PlaneKey
from platekit.microscopes._wells import parse_well
from platekit.microscopes.testing import PlateSpec, take_options
from platekit.microscopes.testing._lzw import lzw

_OPTIONS: dict[str, object] = {
    "layout": None,
    "htd_in_timepoint": False,
    "htd_name_case": "upper",
    "extension": ".tif",
    "guid": False,
    "thumbnails": False,
    "site_names": None,
    "wave_names": True,
    "site_selection": None,
    "description_encoding": "cp1252",
    "pixel_size_in_htd": False,
    "projections": False,
    "compression": "lzw",
}
_WAVES = [("DAPI", 452), ("FITC", 520), ("TexasRed", 615), ("Cy5", 692)]
_LAYOUTS = {
    "flat": (False, False),
    "timepoint": (True, False),
    "zstep": (False, True),
    "timepoint_zstep": (True, True),
}


def write(folder: Path, spec: PlateSpec) -> Path:
    """Write the plate ``spec`` into ``folder`` as MetaXpress would; return ``folder``.

    Raises ``ValueError`` for an option it does not take or a choice that
    cannot hold the plate (a flat layout for a Z series, for example).
    """
    options = take_options(spec, _OPTIONS)
    layout = options["layout"] or (
        "timepoint_zstep" if spec.z > 1 else "timepoint" if spec.t > 1 else "flat"
    )
    if layout not in _LAYOUTS:
        raise ValueError(f"layout {layout!r} is not one of {sorted(_LAYOUTS)}")
    by_time, by_z = _LAYOUTS[layout]
    if (spec.t > 1 and not by_time) or (spec.z > 1 and not by_z):
        raise ValueError(
            f"layout {layout!r} cannot hold {spec.z} Z planes and {spec.t} time points; "
            "use 'timepoint_zstep'"
        )
    site_names = options["site_names"]
    if site_names is None:
        site_names = spec.sites > 1
    if spec.sites > 1 and not site_names:
        raise ValueError("a plate with more than one site needs site_names=True")
    if spec.channels > 1 and not options["wave_names"]:
        raise ValueError("a plate with more than one wavelength needs wave_names=True")
    selection = options["site_selection"] or _default_selection(spec.sites)
    selected = sum(bool(cell) for row in selection for cell in row)
    if selected != spec.sites:
        raise ValueError(f"site_selection selects {selected} sites; the plate has {spec.sites}")
    if options["extension"] not in (".tif", ".TIF"):
        raise ValueError(f"extension {options['extension']!r} is not '.tif' or '.TIF'")
    if options["compression"] not in ("lzw", None):
        raise ValueError(f"compression {options['compression']!r} is not 'lzw' or None")
    compression = lzw("a MetaXpress export") if options["compression"] else None
    if options["htd_name_case"] not in ("upper", "lower"):
        raise ValueError(f"htd_name_case {options['htd_name_case']!r} is not 'upper' or 'lower'")
    cells = [
        (row, column)
        for row, flags in enumerate(selection, start=1)
        for column, on in enumerate(flags, start=1)
        if on
    ]

    folder.mkdir(exist_ok=True)
    htd = _htd(spec, options, bool(site_names), selection)
    suffix = ".HTD" if options["htd_name_case"] == "upper" else ".htd"
    where = options["htd_in_timepoint"]
    if where != "only":
        (folder / f"{spec.name}{suffix}").write_bytes(htd)
    if where:
        (folder / "TimePoint_1").mkdir(exist_ok=True)
        (folder / "TimePoint_1" / f"{spec.name}{suffix}").write_bytes(htd)

    missing = set(spec.missing)
    for key in spec.planes():
        if key in missing:
            continue
        place = folder
        if by_time:
            place = place / f"TimePoint_{key.timepoint}"
        if by_z:
            place = place / f"ZStep_{key.z_index}"
        place.mkdir(parents=True, exist_ok=True)
        stem = f"{spec.name}_{key.well}"
        if site_names:
            stem += f"_s{key.site}"
        if options["wave_names"]:
            stem += f"_w{key.channel}"
        pixels = spec.pixels(key)
        xml = _metaseries(spec, key, cells[key.site - 1], len(selection), len(selection[0]))
        _tiff(
            place / f"{stem}{_guid(spec, key, options['guid'])}{options['extension']}",
            pixels,
            xml,
            compression,
        )
        if options["thumbnails"]:
            thumb = (pixels[::4, ::4] >> 4).astype(np.uint8) if pixels.dtype.kind == "u" else pixels
            name = f"{stem}_thumb{_guid(spec, key, options['guid'], 'thumb')}{options['extension']}"
            _tiff(place / name, thumb, None, compression)
        if options["projections"] and spec.z > 1 and key.z_index == 1:
            # One projection per site and wave, beside the Z steps (of its time point).
            projection = place.parent / "ZStep_0"
            projection.mkdir(exist_ok=True)
            _tiff(
                projection / f"{stem}{_guid(spec, key, options['guid'], 'max')}"
                f"{options['extension']}",
                _projection_pixels(spec, key),
                xml,
                compression,
            )
    return folder


def _projection_pixels(spec: PlateSpec, key: PlaneKey) -> np.ndarray:
    """The maximum projection over Z of the site, wave and time point of ``key``."""
    stack = [
        spec.pixels(PlaneKey(key.well, key.site, key.channel, z, key.timepoint))
        for z in range(1, spec.z + 1)
    ]
    projection: np.ndarray = np.max(stack, axis=0)
    return projection


def _default_selection(sites: int) -> list[list[bool]]:
    columns = math.ceil(math.sqrt(sites))
    rows = math.ceil(sites / columns)
    return [[row * columns + column < sites for column in range(columns)] for row in range(rows)]


def _htd(
    spec: PlateSpec, options: dict[str, object], sites: bool, selection: list[list[bool]]
) -> bytes:
    def flags(values: list[bool]) -> str:
        return ", ".join("TRUE" if value else "FALSE" for value in values)

    rows, columns = spec.plate_format
    wells = {parse_well(well) for well in spec.wells}
    lines = [
        '"HTSInfoFile", Version 1.0',
        f'"Description", "{spec.name}, synthetic plate, 10 µM"',
        '"PlateType", 6',
        f'"TimePoints", {spec.t}',
        f'"ZSeries", {"TRUE" if spec.z > 1 else "FALSE"}',
        f'"ZSteps", {spec.z}',
        f'"ZProjection", {"TRUE" if options["projections"] and spec.z > 1 else "FALSE"}',
        f'"XWells", {columns}',
        f'"YWells", {rows}',
    ]
    lines += [
        f'"WellsSelection{row}", {flags([(row, c) in wells for c in range(1, columns + 1)])}'
        for row in range(1, rows + 1)
    ]
    if sites:
        lines += ['"Sites", TRUE', f'"XSites", {len(selection[0])}', f'"YSites", {len(selection)}']
        lines += [
            f'"SiteSelection{row}", {flags([bool(cell) for cell in cells])}'
            for row, cells in enumerate(selection, start=1)
        ]
    else:
        lines.append('"Sites", FALSE')
    lines += [
        f'"Waves", {"TRUE" if options["wave_names"] else "FALSE"}',
        f'"NWavelengths", {spec.channels}',
    ]
    lines += [f'"WaveName{w}", "{_wave(w)[0]}"' for w in range(1, spec.channels + 1)]
    lines += [f'"WaveCollect{w}", 1' for w in range(1, spec.channels + 1)]
    if options["pixel_size_in_htd"]:
        lines.append(f'"PixelSize", {spec.pixel_size_um!r}')
    lines.append(f'"UniquePlateIdentifier", "{uuid.uuid5(uuid.NAMESPACE_URL, spec.name)}"')
    lines.append('"EndFile"')
    encoding = str(options["description_encoding"])
    if encoding not in ("utf-8", "cp1252"):
        raise ValueError(f"description_encoding {encoding!r} is not 'utf-8' or 'cp1252'")
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def _wave(channel: int) -> tuple[str, int]:
    if channel <= len(_WAVES):
        return _WAVES[channel - 1]
    return f"Wave{channel}", 400 + 50 * channel


def _guid(spec: PlateSpec, key: PlaneKey, style: object, salt: str = "") -> str:
    if not style:
        return ""
    digest = hashlib.blake2b(f"{spec.seed}|{key}|{salt}".encode(), digest_size=16).digest()
    text = str(uuid.UUID(bytes=digest, version=4)).upper()
    return f"_[{text}]" if style == "bracketed" else text


def _metaseries(
    spec: PlateSpec, key: PlaneKey, cell: tuple[int, int], grid_rows: int, grid_columns: int
) -> str:
    """The MetaSeries XML of one plane: calibration, stage and Z position, wave, time."""
    height, width = spec.shape
    size = spec.pixel_size_um
    row, column = parse_well(key.well)
    pitch = 9000.0 * 12 / spec.plate_format[1]
    offset_x = (cell[1] - (grid_columns + 1) / 2) * width * size
    offset_y = (cell[0] - (grid_rows + 1) / 2) * height * size
    stage_x = 14380.0 + (column - 1) * pitch + offset_x
    stage_y = 11240.0 + (row - 1) * pitch + offset_y
    z = 1000.0 + (key.z_index - 1) * spec.z_step_um
    name, wavelength = _wave(key.channel)
    seconds = (key.timepoint - 1) * 600 + key.site * 2 + key.channel
    time = f"20240115 {10 + seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.125"
    bits = np.dtype(spec.dtype).itemsize * 8
    props = [
        ("plane-type", "string", "plane"),
        ("pixel-size-x", "int", width),
        ("pixel-size-y", "int", height),
        ("bits-per-pixel", "int", bits),
        ("spatial-calibration-state", "bool", "on"),
        ("spatial-calibration-x", "float", size),
        ("spatial-calibration-y", "float", size),
        ("spatial-calibration-units", "string", "um"),
        ("image-name", "string", name),
        ("acquisition-time-local", "time", time),
        ("stage-position-x", "float", stage_x),
        ("stage-position-y", "float", stage_y),
        ("z-position", "float", z),
        # MetaXpress also records the stage's own axes and the site's label.
        ("ImageXpress Micro X", "float", stage_x),
        ("ImageXpress Micro Y", "float", stage_y),
        ("ImageXpress Micro Z", "float", z),
        ("stage-label", "string", f"{key.well} : Site {key.site}"),
        ("Exposure Time", "string", f"{50 * key.channel} ms"),
        ("wavelength", "float", wavelength),
        ("_IllumSetting_", "string", name),
        ("_MagSetting_", "string", "20X Plan Apo"),
        ("_MagNA_", "float", 0.75),
        ("SiteX", "int", cell[1]),
        ("SiteY", "int", cell[0]),
        ("OffsetFromWellCenterUmX", "float", offset_x),
        ("OffsetFromWellCenterUmY", "float", offset_y),
    ]
    lines = [
        "<MetaData>",
        '<prop id="Description" type="string" value=""/>',
        '<prop id="MetaDataVersion" type="float" value="1"/>',
        '<prop id="ApplicationName" type="string" value="MetaXpress"/>',
        '<prop id="ApplicationVersion" type="string" value="6.7.2.290"/>',
        "<PlaneInfo>",
        *(f'<prop id="{id_}" type="{kind}" value="{value}"/>' for id_, kind, value in props),
        "</PlaneInfo>",
        "<SetInfo>",
        '<prop id="number-of-planes" type="int" value="1"/>',
        "</SetInfo>",
        "</MetaData>",
    ]
    return "\r\n".join(lines)


def _tiff(path: Path, pixels: np.ndarray, description: str | None, compression: str | None) -> None:
    tifffile.imwrite(
        path,
        pixels,
        description=description,
        metadata=None,
        software="MetaSeries",
        photometric="minisblack",
        compression=compression,
    )
