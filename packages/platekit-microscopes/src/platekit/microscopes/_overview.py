"""A picture of a whole plate: one thumbnail per well, laid out as the plate is, labelled.

The plate's images are TIFFs (or Zarr chunks) that are read whole, so each
thumbnail costs one full plane read per well and channel; the reads run on a
thread pool, since tifffile, imagecodecs and Pillow release the GIL while
they decode and resample. Pillow downsamples (a box filter: the mean of each
block of pixels), draws the labels and writes the PNG.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from platekit.microscopes._errors import BadPlaneError
from platekit.microscopes._model import PlaneKey
from platekit.microscopes._ngff import _PALETTE
from platekit.microscopes._wells import row_letters, well_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import ModuleType

    from platekit.microscopes._plate import Plate

#: Colours of the picture's parts (RGB).
BACKGROUND = (255, 255, 255)
GRID = (170, 170, 170)
EMPTY = (228, 228, 228)
TEXT = (30, 30, 30)
#: The frame of a well with planes missing from the folder or unreadable.
MISSING = (255, 128, 0)

#: Percentiles of each channel's pixels over the plate that map to black and full colour.
DEFAULT_PERCENTILES = (1.0, 99.5)


@dataclass
class Overview:
    """A rendered overview: the RGB picture, the wells with a thumbnail, the planes unreadable."""

    picture: np.ndarray
    wells_shown: int
    unreadable: list[PlaneKey]


def pillow() -> ModuleType:
    """The ``PIL`` package; ``ImportError`` saying how to install it when it is not there."""
    try:
        import PIL.Image
        import PIL.ImageDraw
        import PIL.ImageFont
    except ImportError:
        from platekit.registry._install import install_command

        raise ImportError(
            "the plate overview needs Pillow, which is not installed: "
            f"{install_command('platekit-microscopes', 'overview')}"
        ) from None
    return PIL


def default_cell(rows: int, columns: int) -> int:
    """A well's side in pixels that makes the picture about 1200 pixels wide (or high)."""
    return max(16, min(96, 1200 // (columns + 1), 1200 // (rows + 1)))


def overview(
    plate: Plate,
    *,
    field: int | None = None,
    channels: Sequence[int] | None = None,
    z: int = 1,
    timepoint: int = 1,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    windows: Mapping[int, tuple[float, float]] | None = None,
    cell: int | None = None,
    threads: int | None = None,
) -> Overview:
    """Render the overview of ``plate``; see :meth:`Plate.overview` for the options.

    Raises ``ImportError`` without Pillow and ``ValueError`` naming an option
    the plate cannot satisfy, before any plane is read.
    """
    pil = pillow()
    meta = plate.metadata
    field = _check_field(plate, field)
    shown = _check_channels(plate, channels)
    _check_range("z", z, meta.z_count)
    _check_range("timepoint", timepoint, meta.t_count)
    low, high = percentiles
    if not 0 <= low < high <= 100:
        raise ValueError(
            f"contrast percentiles {low}, {high} do not fit; give two numbers with "
            "0 <= low < high <= 100, such as 1, 99.5"
        )
    cell = default_cell(meta.rows, meta.columns) if cell is None else cell
    if cell < 8:
        raise ValueError(f"a well of {cell} pixels is too small to show; give 8 or more")

    present = {key for key, _ in plate.planes()}
    shown_planes = (PlaneKey(w, field, c, z, timepoint) for w in meta.wells for c in shown)
    wanted = [key for key in shown_planes if key in present]
    inner = cell - 2  # one pixel of grid on each side
    with ThreadPoolExecutor(max_workers=threads) as pool:
        try:
            thumbs = list(pool.map(lambda key: _thumbnail(plate, key, inner, pil), wanted))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    read = {key: thumb for key, thumb in zip(wanted, thumbs, strict=True) if thumb is not None}
    unreadable = [key for key, thumb in zip(wanted, thumbs, strict=True) if thumb is None]
    ranges = {channel: _window(channel, read, percentiles, windows or {}) for channel in shown}
    colours = _colours(plate, shown)
    marked = {key.well for key in plate.missing()} | {key.well for key in unreadable}

    rows, columns = meta.rows, meta.columns
    picture = np.empty(((rows + 1) * cell, (columns + 1) * cell, 3), np.uint8)
    picture[:] = BACKGROUND
    wells_shown = 0
    for row in range(1, rows + 1):
        for column in range(1, columns + 1):
            well = well_name(row, column)
            block = picture[row * cell : (row + 1) * cell, column * cell : (column + 1) * cell]
            block[:] = GRID
            area = block[1:-1, 1:-1]
            layers = {
                c: read[k] for c in shown if (k := PlaneKey(well, field, c, z, timepoint)) in read
            }
            if layers:
                area[:] = 0
                _paste(area, _composite(layers, ranges, colours))
                wells_shown += 1
            else:
                area[:] = EMPTY
            if well in marked:
                width = max(2, cell // 16)
                area[:width], area[-width:] = MISSING, MISSING
                area[:, :width], area[:, -width:] = MISSING, MISSING
    _draw_labels(picture, rows, columns, cell, pil)
    return Overview(picture, wells_shown, unreadable)


def write_overview(plate: Plate, path: str | os.PathLike[str], **options: object) -> str:
    """Write ``plate``'s overview to the PNG file ``path``; the sentence that says so.

    Raises ``ValueError`` for a path that does not end in ``.png``, lies
    inside the plate's folder (a plate is never changed) or whose folder does
    not exist, as :func:`overview` raises, and ``OSError`` when the file
    cannot be written.
    """
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ValueError(
            f"the overview is a PNG picture; give a file name ending in .png, not {str(target)!r}"
        )
    if not target.parent.is_dir():
        raise ValueError(f"cannot write the overview to {str(target)!r}: its folder does not exist")
    folder = plate.source.local  # a plate in object storage has no folder to write into
    if folder is not None and target.resolve().is_relative_to(folder.resolve()):
        raise ValueError(
            f"{str(target)!r} is inside the plate folder {str(plate.path)!r}, which platekit "
            "never changes; write the overview elsewhere"
        )
    started = time.perf_counter()
    result = overview(plate, **options)  # type: ignore[arg-type]
    _save_png(result.picture, target)
    seconds = time.perf_counter() - started
    said = f"overview of {result.wells_shown} wells written to {target} in {seconds:.1f} s"
    if result.unreadable:
        said += f"; {len(result.unreadable)} planes could not be read and their wells are framed"
    return said


def _check_field(plate: Plate, field: int | None) -> int:
    sites = plate.metadata.sites
    if field is None:
        return sites[0] if sites else 1
    if field not in sites:
        raise ValueError(
            f"field {field} is not one of the plate's fields ({_listed(sites)}); choose one of them"
        )
    return field


def _check_channels(plate: Plate, channels: Sequence[int] | None) -> list[int]:
    known = list(plate.metadata.channels)
    if channels is None:
        return known
    if not channels:
        raise ValueError(f"no channel chosen; choose one or more of {_listed(known)}")
    unknown = [channel for channel in channels if channel not in known]
    if unknown:
        raise ValueError(
            f"channel {_listed(unknown)} is not among the plate's channels "
            f"({_listed(known)}); choose from them"
        )
    return list(dict.fromkeys(channels))


def _check_range(name: str, value: int, count: int) -> None:
    if not 1 <= value <= count:
        raise ValueError(f"{name} {value} is not in the plate, which has {name} 1 to {count}")


def _listed(numbers: Sequence[int]) -> str:
    return ", ".join(str(number) for number in numbers)


def _thumbnail(plate: Plate, key: PlaneKey, inner: int, pil: ModuleType) -> np.ndarray | None:
    """The plane ``key`` downsampled to fit ``inner`` pixels square; None when it cannot be read."""
    try:
        plane = plate.read_plane(key)
    except (OSError, BadPlaneError):
        return None
    height, width = plane.shape[-2:]
    scale = inner / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = pil.Image.fromarray(np.asarray(plane, np.float32).reshape(height, width))
    small = image.resize(size, pil.Image.Resampling.BOX, reducing_gap=2.0)
    return np.asarray(small, np.float32)


def _window(
    channel: int,
    read: dict[PlaneKey, np.ndarray],
    percentiles: tuple[float, float],
    windows: Mapping[int, tuple[float, float]],
) -> tuple[float, float]:
    """The intensities of ``channel`` shown as black and as full colour."""
    if channel in windows:
        low, high = windows[channel]
        return float(low), float(high)
    pixels = [thumb.ravel() for key, thumb in read.items() if key.channel == channel]
    if not pixels:
        return 0.0, 1.0
    low, high = np.percentile(np.concatenate(pixels), percentiles)
    return float(low), float(high)


def _colours(plate: Plate, shown: list[int]) -> dict[int, np.ndarray]:
    """Each channel's colour as RGB in 0..1: white for one channel, else the metadata's colours."""
    if len(shown) == 1:
        return {shown[0]: np.ones(3, np.float32)}
    order = list(plate.metadata.channels)
    colours = {}
    for channel in shown:
        code = plate.metadata.channels[channel].color
        code = code or _PALETTE[order.index(channel) % len(_PALETTE)]
        colours[channel] = np.array([int(code[i : i + 2], 16) for i in (0, 2, 4)], np.float32) / 255
    return colours


def _composite(
    layers: dict[int, np.ndarray],
    ranges: dict[int, tuple[float, float]],
    colours: dict[int, np.ndarray],
) -> np.ndarray:
    """The channels' thumbnails, each scaled to its window and tinted, added up as RGB uint8."""
    shape = next(iter(layers.values())).shape
    total = np.zeros((*shape, 3), np.float32)
    for channel, thumb in layers.items():
        low, high = ranges[channel]
        scaled = np.clip((thumb - low) / max(high - low, 1e-12), 0.0, 1.0)
        total += scaled[..., None] * colours[channel]
    return np.round(np.clip(total, 0.0, 1.0) * 255).astype(np.uint8)


def _paste(area: np.ndarray, thumb: np.ndarray) -> None:
    """Put ``thumb`` in the middle of ``area``."""
    top = (area.shape[0] - thumb.shape[0]) // 2
    left = (area.shape[1] - thumb.shape[1]) // 2
    area[top : top + thumb.shape[0], left : left + thumb.shape[1]] = thumb


def _draw_labels(picture: np.ndarray, rows: int, columns: int, cell: int, pil: ModuleType) -> None:
    """Row letters down the first column of cells, column numbers along the first row."""
    image = pil.Image.fromarray(picture)
    draw = pil.ImageDraw.Draw(image)
    font = pil.ImageFont.load_default(size=max(7, min(24, int(cell * 0.45))))
    labels = [(row_letters(row), cell // 2, row * cell + cell // 2) for row in range(1, rows + 1)]
    labels += [
        (str(column), column * cell + cell // 2, cell // 2) for column in range(1, columns + 1)
    ]
    for text, x, y in labels:
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        draw.text((x - (left + right) / 2, y - (top + bottom) / 2), text, fill=TEXT, font=font)
    picture[:] = np.asarray(image)


def _save_png(picture: np.ndarray, target: Path) -> None:
    """Write ``picture`` to ``target`` whole or not at all (a partial file, then a rename)."""
    pil = pillow()
    partial = target.with_name(f".{target.name}.partial")
    try:
        pil.Image.fromarray(picture).save(partial, format="PNG")
        os.replace(partial, target)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OSError(
                f"cannot write the overview to {str(target)!r} ({exc.strerror or exc}); "
                "choose a folder you can write to"
            ) from exc
        raise
