"""Faithful synthetic plates of every format, and the contract every handler keeps.

``write_plate(kind, folder, ...)`` writes a plate as the vendor's software
would: its folder layout, its file names, its metadata files, and real
TIFFs (with MetaSeries XML where ImageXpress writes it). Every plane's
pixels are :func:`expected_pixels` of its key, so a test can tell which
plane it read::

    from platekit.microscopes import open_plate
    from platekit.microscopes.testing import expected_pixels, write_plate

    folder = write_plate("imagexpress", tmp_path / "plate", wells=["A01", "B02"], sites=4)
    plate = open_plate(folder)
    key = next(plate.planes())[0]
    assert (plate.read_plane(key) == expected_pixels(key, (64, 64))).all()

:class:`HandlerContract` (in :mod:`platekit.microscopes.testing.contract`)
is the pytest suite every handler, built in or third party, runs.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from platekit.microscopes._model import PlaneKey
from platekit.microscopes._wells import normal_well

__all__ = ["PlateSpec", "expected_pixels", "hash_tree", "write_plate", "writers"]

# Format -> module whose write(folder, spec) -> Path writes it.
_WRITERS = {
    "imagexpress": "platekit.microscopes.testing._imagexpress",
    "opera_phenix": "platekit.microscopes.testing._opera",
    "cellvoyager": "platekit.microscopes.testing._cellvoyager",
    "omezarr": "platekit.microscopes.testing._omezarr",
}


def writers() -> list[str]:
    """The formats :func:`write_plate` can write."""
    return sorted(_WRITERS)


@dataclass
class PlateSpec:
    """What a synthetic plate holds. Components are 1-based; wells spelled ``A01``."""

    name: str
    wells: list[str]
    sites: int = 1
    channels: int = 1
    z: int = 1
    t: int = 1
    shape: tuple[int, int] = (64, 64)
    dtype: str = "uint16"
    #: Plate format as (rows, columns): (8, 12) for 96 wells.
    plate_format: tuple[int, int] = (8, 12)
    pixel_size_um: float = 0.65
    z_step_um: float = 2.0
    seed: int = 0
    #: Planes the metadata lists but whose image files are not written.
    missing: list[PlaneKey] = field(default_factory=list)
    #: Format-specific choices (layout, version, thumbnails, ...); each writer documents its own.
    options: dict[str, Any] = field(default_factory=dict)

    def planes(self) -> list[PlaneKey]:
        """Every plane of the plate, missing ones included, in key order."""
        return sorted(
            PlaneKey(well, site, channel, z, t)
            for well in self.wells
            for site in range(1, self.sites + 1)
            for channel in range(1, self.channels + 1)
            for z in range(1, self.z + 1)
            for t in range(1, self.t + 1)
        )

    def pixels(self, key: PlaneKey) -> np.ndarray:
        return expected_pixels(key, self.shape, self.dtype, self.seed)


def expected_pixels(
    key: PlaneKey, shape: tuple[int, int] = (64, 64), dtype: str = "uint16", seed: int = 0
) -> np.ndarray:
    """The pixels :func:`write_plate` gives the plane ``key``: a smooth image, unique per plane.

    A gradient with a few bright "cells" and a little noise, drawn from a
    generator seeded by the key, so it compresses like a real image and no
    two planes are alike.
    """
    digest = hashlib.blake2b(
        f"{seed}|{key.well}|{key.site}|{key.channel}|{key.z_index}|{key.timepoint}".encode(),
        digest_size=8,
    ).digest()
    rng = np.random.default_rng(int.from_bytes(digest, "little"))
    height, width = shape
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "ui" else None
    top = min(info.max, 4095) if info is not None else 1.0
    rows = np.linspace(0.0, 0.25, height, dtype=np.float32)[:, None]
    cols = np.linspace(0.0, 0.25, width, dtype=np.float32)[None, :]
    image = rows + cols
    for _ in range(4):
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        radius = max(2, min(height, width) // 10)
        y0, y1 = max(0, cy - radius), min(height, cy + radius)
        x0, x1 = max(0, cx - radius), min(width, cx + radius)
        image[y0:y1, x0:x1] += 0.5
    image += rng.random((height, width), dtype=np.float32) * 0.05
    image *= top / float(image.max())
    return image.astype(dtype)


def write_plate(
    kind: str,
    folder: str | os.PathLike[str],
    *,
    wells: list[str] | tuple[str, ...] = ("A01", "A02"),
    sites: int = 1,
    channels: int = 1,
    z: int = 1,
    t: int = 1,
    shape: tuple[int, int] = (64, 64),
    dtype: str = "uint16",
    name: str | None = None,
    plate_format: tuple[int, int] = (8, 12),
    pixel_size_um: float = 0.65,
    z_step_um: float = 2.0,
    seed: int = 0,
    missing: list[PlaneKey] | tuple[PlaneKey, ...] = (),
    **options: Any,
) -> Path:
    """Write a synthetic plate of format ``kind`` into ``folder``; return the plate's folder.

    The folder is created (its parent must exist) and returned: it is the
    folder to open, whatever the format nests inside it (Harmony's
    ``Images/``). ``options`` are the format's own choices, documented by
    each writer module. Raises ``ValueError`` for an unknown ``kind`` or an
    option the writer does not take.
    """
    if kind not in _WRITERS:
        raise ValueError(f"no synthetic plate writer for {kind!r}; formats: {', '.join(writers())}")
    spec = PlateSpec(
        name=name or Path(folder).name,
        wells=[normal_well(well) for well in wells],
        sites=sites,
        channels=channels,
        z=z,
        t=t,
        shape=tuple(shape),  # type: ignore[arg-type]
        dtype=str(np.dtype(dtype)),
        plate_format=tuple(plate_format),  # type: ignore[arg-type]
        pixel_size_um=pixel_size_um,
        z_step_um=z_step_um,
        seed=seed,
        missing=list(missing),
        options=dict(options),
    )
    module = importlib.import_module(_WRITERS[kind])
    result: Path = module.write(Path(folder), spec)
    return result


def hash_tree(folder: str | os.PathLike[str]) -> dict[str, str]:
    """Relative path → SHA-256 of every file below ``folder`` (and each folder, as ``"<dir>"``)."""
    root = Path(folder)
    hashes: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_dir():
            hashes[relative] = "<dir>"
        else:
            hashes[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def take_options(spec: PlateSpec, known: dict[str, Any]) -> dict[str, Any]:
    """The writer's options: ``known`` (name → default) updated from ``spec.options``.

    Raises ``ValueError`` naming any option the writer does not take.
    """
    unknown = set(spec.options) - set(known)
    if unknown:
        raise ValueError(
            f"the synthetic plate writer does not take {sorted(unknown)}; it takes "
            f"{sorted(known) or 'no options'}"
        )
    return {**known, **spec.options}
