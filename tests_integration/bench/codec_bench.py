"""Codec benchmark: which Zarr codec a conversion should write by default.

``python -m nox -s bench`` runs it and writes docs/benchmarks/codecs.inc. By
hand, in an environment with platekit-storage[zarr] and platekit-microscopes::

    python tests_integration/bench/codec_bench.py [--rounds 3] [--rst FILE]

Every candidate codec zarr-python and numcodecs offer for 16-bit images
(Zstandard at several levels, Blosc with Zstandard or LZ4 inside and byte,
bit or no shuffle, LZ4 alone, no compression) encodes and decodes the same
images on one core (Blosc's own threads set to 1): the real pixels of the
Harmony V5 and V7 exports in the pe2loaddata sdist, and synthetic cell images
(``platekit.microscopes.testing.expected_pixels``). It reports encode and
decode MB/s of raw pixels per core, the best of ``--rounds`` rounds, and the
compression ratio (raw bytes over stored bytes), and checks every decoded
image against the original. It then says whether ``ZarrConfig()``, the
default, encodes at least 3x as fast as Zstandard at level 0 (the default
before it) and stores no more bytes.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _rst import list_table

#: How much faster than the old default the default must encode, at no larger output.
SPEEDUP_TARGET = 3.0


def candidates() -> list[tuple[str, Any]]:
    """(label, numcodecs codec): what a Zarr v2 array stores; a v3 array runs the same libraries."""
    import numcodecs  # type: ignore[import-untyped]

    from platekit.storage import ZarrConfig

    blosc = numcodecs.Blosc
    return [
        ("ZarrConfig() (default): blosc lz4-5 byte shuffle", ZarrConfig().compressors(2)),
        ("zstd-0 (default before)", ZarrConfig(codec="zstd").compressors(2)),
        ("zstd-1", numcodecs.Zstd(level=1)),
        ("zstd-3", numcodecs.Zstd(level=3)),
        ("zstd--1", numcodecs.Zstd(level=-1)),
        ("blosc zstd-1 bit shuffle", blosc("zstd", 1, blosc.BITSHUFFLE)),
        ("blosc zstd-1 byte shuffle", blosc("zstd", 1, blosc.SHUFFLE)),
        ("blosc zstd-3 bit shuffle", blosc("zstd", 3, blosc.BITSHUFFLE)),
        ("blosc lz4-5 bit shuffle", blosc("lz4", 5, blosc.BITSHUFFLE)),
        ("blosc lz4-1 byte shuffle", blosc("lz4", 1, blosc.SHUFFLE)),
        ("blosc lz4-9 byte shuffle", blosc("lz4", 9, blosc.SHUFFLE)),
        ("blosc lz4-5 no shuffle", blosc("lz4", 5, blosc.NOSHUFFLE)),
        ("lz4 (alone)", numcodecs.LZ4(acceleration=1)),
        ("none", None),
    ]


def harmony_images() -> tuple[list[np.ndarray], str]:
    """The Harmony V5 and V7 exports' images, and what they are."""
    import tifffile

    from platekit.microscopes.testing._downloads import unpacked_sdist

    data = unpacked_sdist("pe2loaddata") / "tests" / "data"
    files = sorted(
        path
        for version in ("Version5", "Version7")
        for path in (data / version / "images").iterdir()
        if path.suffix.lower() in (".tif", ".tiff")
    )
    images = [np.ascontiguousarray(tifffile.imread(path)) for path in files]
    shapes = sorted({f"{a.shape[1]}x{a.shape[0]} {a.dtype}" for a in images})
    return images, f"{len(images)} Harmony V5/V7 images ({', '.join(shapes)}, pe2loaddata 0.2.0)"


def cell_images(count: int, size: int) -> tuple[list[np.ndarray], str]:
    """``count`` synthetic cell images of ``size`` x ``size``, and what they are."""
    from platekit.microscopes import PlaneKey
    from platekit.microscopes.testing import expected_pixels

    keys = [PlaneKey("A01", site=1 + n // 4, channel=1 + n % 4) for n in range(count)]
    images = [expected_pixels(key, (size, size)) for key in keys]
    return images, f"{count} synthetic cell images ({size}x{size} uint16, expected_pixels)"


def best_seconds(run: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def measure(codec: Any, images: list[np.ndarray], rounds: int) -> tuple[float, float, float]:
    """Encode MB/s, decode MB/s and ratio of ``codec`` on ``images``; every image checked."""
    raw = sum(image.nbytes for image in images)
    if codec is None:
        return float("inf"), float("inf"), 1.0
    encoded = [codec.encode(image) for image in images]
    for image, stored in zip(images, encoded, strict=True):
        back = np.frombuffer(codec.decode(stored), dtype=image.dtype).reshape(image.shape)
        if not np.array_equal(back, image):
            raise SystemExit(f"{codec!r} did not give an image back as it was")
    encode = best_seconds(lambda: [codec.encode(image) for image in images], rounds)
    decode = best_seconds(lambda: [codec.decode(stored) for stored in encoded], rounds)
    stored_bytes = sum(len(stored) for stored in encoded)
    return raw / encode / 1e6, raw / decode / 1e6, raw / stored_bytes


def rate(value: float) -> str:
    return "—" if value == float("inf") else f"{value:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per codec, best kept (3)")
    parser.add_argument("--size", type=int, default=1024, help="synthetic image side (1024)")
    parser.add_argument("--count", type=int, default=8, help="synthetic images (8)")
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--rst", type=Path, help="write the results as reST to this file")
    parser.add_argument(
        "--fail-on-miss", action="store_true", help="exit 1 if the target is missed"
    )
    parser.add_argument("--only", help=argparse.SUPPRESS)  # other scripts' options, ignored
    args, _ = parser.parse_known_args(argv)
    rounds = 1 if args.quick else args.rounds

    import numcodecs.blosc  # type: ignore[import-untyped]

    numcodecs.blosc.set_nthreads(1)  # per core: Blosc would use every core otherwise
    sets = [harmony_images(), cell_images(args.count, args.size)]
    results: dict[str, list[tuple[float, float, float]]] = {}
    for label, codec in candidates():
        results[label] = [measure(codec, images, rounds) for images, _ in sets]

    labels = list(results)
    default, before = labels[0], labels[1]
    verdicts = []
    for n, (_, what) in enumerate(sets):
        new, old = results[default][n], results[before][n]
        speedup = new[0] / old[0]
        met = speedup >= SPEEDUP_TARGET and new[2] >= old[2]
        verdicts.append(
            f"{'PASS' if met else 'FAIL'}  {what}: the default encodes {speedup:.1f}x as fast as "
            f"zstd-0 (target {SPEEDUP_TARGET:.0f}x) at ratio {new[2]:.2f} against {old[2]:.2f}"
        )

    headers = ["codec"] + [
        f"{name} {column}"
        for name in ("real", "cells")
        for column in ("enc MB/s", "dec MB/s", "ratio")
    ]
    rows = [
        [label]
        + [cell for enc, dec, ratio in values for cell in (rate(enc), rate(dec), f"{ratio:.2f}")]
        for label, values in results.items()
    ]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print()
    print("\n".join(verdicts))

    if args.rst is not None:
        facts = (
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs, one core measured, "
            f"best of {rounds} rounds, {datetime.date.today().isoformat()}"
        )
        table = list_table(headers, rows)
        text = [
            "Codecs",
            "------",
            "",
            ".. Written by tests_integration/bench/codec_bench.py; run the bench session again",
            "   rather than editing this file.",
            "",
            "Each codec encodes and decodes the same images on one core (Blosc's threads set to "
            "1), through numcodecs as a Zarr array stores them: real pixels, "
            + sets[0][1]
            + "; and "
            + sets[1][1]
            + ". MB/s are raw pixels per second; ratio is raw bytes over stored bytes; every "
            "decoded image is compared with the original.",
            "",
            facts + ".",
            "",
            *table,
            "",
            *(f"* {line}" for line in verdicts),
            "",
        ]
        args.rst.parent.mkdir(parents=True, exist_ok=True)
        args.rst.write_text("\n".join(text), encoding="utf-8")
    if args.fail_on_miss and any(v.startswith("FAIL") for v in verdicts):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
