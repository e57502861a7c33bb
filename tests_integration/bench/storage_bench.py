"""Storage benchmark: platekit-storage backends against the libraries they wrap.

``python -m nox -s bench`` runs it after the registry benchmark. By hand, in an
environment with platekit-storage[zarr] installed::

    python tests_integration/bench/storage_bench.py --quick

Frames of uint16 pixels go through the ``disk`` backend (TIFF and ``.npy``)
and the ``zarr`` backend, and the same frames through tifffile, numpy.save
and zarr-python directly, frame by frame in one process, each side going
first in turn, so both share the machine's state. Throughput is the frame
size over the median time per frame. It prints throughput, the ratio
platekit/raw, and the per-call overhead of the ``memory`` backend.

It then compares the ``zarr`` backend's default codec, Blosc (LZ4, byte shuffle),
with Zstandard at level 0, zlib at level 3 (polystore's default) and gzip, Blosc
(LZ4 without shuffle, Zstandard) and LZ4 alone, on smooth
synthetic cell images (``platekit.microscopes.testing.expected_pixels``, when
platekit-microscopes is installed) rather than noise: bytes stored per frame
and the median time to save and load one. ``--codecs-only`` runs just that::

    python tests_integration/bench/storage_bench.py --codecs-only
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

TARGET = 0.9


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200, help="frames per format (200)")
    parser.add_argument("--size", type=int, default=2048, help="frame width and height (2048)")
    parser.add_argument("--batch", type=int, default=20, help="frames per alternating batch")
    parser.add_argument("--quick", action="store_true", help="40 frames of 1024x1024")
    parser.add_argument("--rst", type=Path, help="write the results as reST to this file")
    parser.add_argument("--fail-on-miss", action="store_true", help="exit 1 when a target misses")
    parser.add_argument(
        "--codec-frames", type=int, default=16, help="frames per codec in the comparison (16)"
    )
    parser.add_argument("--codecs-only", action="store_true", help="only the codec comparison")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.size = 40, 1024
    return args


def frames(count: int, size: int) -> list[np.ndarray]:
    base = np.random.default_rng(7).integers(0, 4096, (size, size), dtype=np.uint16)
    return [base + np.uint16(n) for n in range(count)]


class Timing:
    """Seconds per frame, per side and operation."""

    def __init__(self) -> None:
        self.samples: dict[tuple[str, str], list[float]] = {}

    def add(self, side: str, operation: str, seconds: float) -> None:
        self.samples.setdefault((side, operation), []).append(seconds)

    def median(self, side: str, operation: str) -> float:
        return statistics.median(self.samples[(side, operation)])


def run_format(
    name: str,
    data: list[np.ndarray],
    batch: int,
    folder: Path,
    ours: tuple[Callable[[np.ndarray, str], None], Callable[[str], np.ndarray]],
    raw: tuple[Callable[[np.ndarray, str], None], Callable[[str], np.ndarray]],
    path_of: Callable[[str, int], str],
) -> Timing:
    """Save then load every frame both ways, frame by frame, each side going first in
    turn, so both meet the same page cache and machine noise; check every frame."""
    timing = Timing()
    sides = {"platekit": ours, "raw": raw}
    for side in sides:
        os.makedirs(folder / side, exist_ok=True)
    for start in range(0, len(data), batch):
        chunk = range(start, min(start + batch, len(data)))
        for operation in ("save", "load"):
            for n in chunk:
                order = ("platekit", "raw") if n % 2 == 0 else ("raw", "platekit")
                for side in order:
                    save, load = sides[side]
                    path = path_of(str(folder / side), n)
                    started = time.perf_counter()
                    if operation == "save":
                        save(data[n], path)
                    else:
                        frame = load(path)
                    timing.add(side, operation, time.perf_counter() - started)
                    if operation == "load" and not np.array_equal(frame, data[n]):
                        raise SystemExit(f"{name}: frame {n} read back by {side} differs")
    return timing


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def memory_overhead(calls: int) -> tuple[float, float]:
    """Microseconds per save and per load through the memory backend."""
    from platekit.storage import MemoryBackend

    backend = MemoryBackend()
    frame = np.zeros((4, 4), dtype=np.uint16)
    paths = [f"/plate/A{n:05d}.tif" for n in range(calls)]
    save = timed(lambda: [backend.save(frame, p) for p in paths])
    load = timed(lambda: [backend.load(p) for p in paths])
    return save / calls * 1e6, load / calls * 1e6


def cell_frames(count: int, size: int) -> tuple[list[np.ndarray], str]:
    """``count`` distinct smooth images with bright cells and a little noise, and their source."""
    try:
        from platekit.microscopes import PlaneKey
        from platekit.microscopes.testing import expected_pixels
    except ImportError:
        rows = np.linspace(0, 1000, size, dtype=np.float32)[:, None]
        base = rows + rows.T
        noise = np.random.default_rng(7)
        made = [
            (base + noise.random((size, size), dtype=np.float32) * 200 + n).astype(np.uint16)
            for n in range(count)
        ]
        return made, "gradients with noise (platekit-microscopes is not installed)"
    keys = [PlaneKey("A01", site=1 + n // 4, channel=1 + n % 4) for n in range(count)]
    made = [expected_pixels(key, (size, size)) for key in keys]
    return made, "platekit.microscopes.testing.expected_pixels"


#: The codecs compared: (label, ZarrConfig fields); the first is the backend's default.
CODECS: list[tuple[str, dict[str, Any]]] = [
    ("blosc-lz4-5 (default)", {}),
    ("zstd-0", {"codec": "zstd"}),
    ("zlib-3 (polystore)", {"codec": "zlib", "level": 3}),
    ("gzip-3", {"codec": "gzip", "level": 3}),
    ("blosc-lz4-5-noshuffle", {"codec": "blosc", "shuffle": False}),
    ("blosc-zstd-5", {"codec": "blosc", "blosc_compressor": "zstd"}),
    ("lz4-1", {"codec": "lz4"}),
]


def codec_comparison(count: int, size: int) -> tuple[list[str], list[str]]:
    """Bytes stored and median save and load times per codec; text lines and reST lines."""
    from platekit.storage import ZarrConfig
    from platekit.storage.backends.zarr import ZarrBackend

    data, source = cell_frames(count, size)
    backends = [(label, ZarrBackend(zarr_config=ZarrConfig(**fields))) for label, fields in CODECS]
    saves: dict[str, list[float]] = {label: [] for label, _ in CODECS}
    loads: dict[str, list[float]] = {label: [] for label, _ in CODECS}
    stored: dict[str, int] = dict.fromkeys(saves, 0)
    with tempfile.TemporaryDirectory(prefix="platekit-codec-bench-") as tmp:
        for n, frame in enumerate(data):
            # Each codec goes first in turn, so all meet the same machine state.
            turn = backends[n % len(backends) :] + backends[: n % len(backends)]
            for label, backend in turn:
                path = f"{tmp}/{label.split()[0]}.zarr/frame{n}"
                started = time.perf_counter()
                backend.save(frame, path)
                saves[label].append(time.perf_counter() - started)
                stored[label] += backend.stat(path).size or 0
            for label, backend in turn:
                path = f"{tmp}/{label.split()[0]}.zarr/frame{n}"
                started = time.perf_counter()
                back = backend.load(path)
                loads[label].append(time.perf_counter() - started)
                if not np.array_equal(back, frame):
                    raise SystemExit(f"codec {label}: frame {n} read back differs")
    raw_mb = data[0].nbytes / 1e6
    default = CODECS[0][0]
    facts = (
        f"{count} frames of {size}x{size} uint16 ({raw_mb:.1f} MB each) from {source}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{datetime.date.today().isoformat()}"
    )
    header = f"{'codec':<22} {'MB/frame':>9} {'of raw':>7} {'save ms':>8} {'load ms':>8}"
    lines = [facts, "", header]
    table = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - codec",
        "     - MB per frame",
        "     - of raw",
        "     - save, ms",
        "     - load, ms",
    ]
    for label, _ in CODECS:
        mb = stored[label] / count / 1e6
        save_ms = statistics.median(saves[label]) * 1e3
        load_ms = statistics.median(loads[label]) * 1e3
        lines.append(f"{label:<22} {mb:>9.2f} {mb / raw_mb:>6.0%} {save_ms:>8.0f} {load_ms:>8.0f}")
        table += [
            f"   * - {label}",
            f"     - {mb:.2f}",
            f"     - {mb / raw_mb:.0%}",
            f"     - {save_ms:.0f}",
            f"     - {load_ms:.0f}",
        ]
    for label, _ in CODECS[1:]:
        speed = statistics.median(saves[label]) / statistics.median(saves[default])
        lines.append(
            f"{default} saves {speed:.1f}x as fast as {label}, "
            f"in {stored[default] / stored[label]:.2f}x its bytes"
        )
    return lines, [facts + ".", "", *table, "", *(f"* {line}" for line in lines[-3:])]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.codecs_only:
        lines, _ = codec_comparison(args.codec_frames, args.size)
        print("\n".join(lines))
        return 0
    import tifffile

    from platekit.storage import BackendRegistry

    registry = BackendRegistry()
    disk = registry["disk"]
    data = frames(args.frames, args.size)
    megabytes = sum(frame.nbytes for frame in data) / 1e6
    results: dict[str, Timing] = {}
    with tempfile.TemporaryDirectory(prefix="platekit-storage-bench-") as tmp:
        root = Path(tmp)
        results["disk TIFF"] = run_format(
            "TIFF",
            data,
            args.batch,
            root / "tiff",
            (lambda a, p: disk.save(a, p), disk.load),
            (lambda a, p: tifffile.imwrite(p, a), tifffile.imread),
            lambda folder, n: f"{folder}/frame{n}.tif",
        )
        shutil.rmtree(root / "tiff")
        results["disk .npy"] = run_format(
            ".npy",
            data,
            args.batch,
            root / "npy",
            (lambda a, p: disk.save(a, p), disk.load),
            (lambda a, p: np.save(p, a), np.load),
            lambda folder, n: f"{folder}/frame{n}.npy",
        )
        shutil.rmtree(root / "npy")
        if "zarr" in registry:
            import zarr

            backend = registry["zarr"]

            def raw_save(array: np.ndarray, path: str) -> None:
                store, _, node = path.partition(".zarr/")
                group = zarr.open_group(store + ".zarr", mode="a")
                created = group.create_array(
                    node, shape=array.shape, chunks=array.shape, dtype=array.dtype
                )
                created[...] = array

            def raw_load(path: str) -> np.ndarray:
                return np.asarray(zarr.open_array(path, mode="r")[...])

            results["zarr"] = run_format(
                "zarr",
                data,
                args.batch,
                root / "zarr",
                (lambda a, p: backend.save(a, p), backend.load),
                (raw_save, raw_load),
                lambda folder, n: f"{folder}/plate.zarr/frame{n}",
            )
    save_us, load_us = memory_overhead(100_000)
    codec_lines, codec_rst = (
        codec_comparison(args.codec_frames, args.size) if "zarr" in registry else ([], [])
    )

    rows = []
    misses = []
    for label, timing in results.items():
        for operation in ("save", "load"):
            frame_mb = data[0].nbytes / 1e6
            ours = frame_mb / timing.median("platekit", operation)
            raw = frame_mb / timing.median("raw", operation)
            ratio = ours / raw
            rows.append((label, operation, ours, raw, ratio))
            if ratio < TARGET:
                misses.append(f"{label} {operation}")
    facts = (
        f"{args.frames} frames of {args.size}x{args.size} uint16 ({megabytes:.0f} MB) per format; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{datetime.date.today().isoformat()}"
    )
    lines = [facts, ""]
    lines.append(f"{'format':<10} {'op':<5} {'platekit MB/s':>14} {'raw MB/s':>10} {'ratio':>7}")
    for label, operation, ours, raw, ratio in rows:
        lines.append(f"{label:<10} {operation:<5} {ours:>14.0f} {raw:>10.0f} {ratio:>7.2f}")
    lines.append("")
    lines.append(f"memory backend: {save_us:.2f} us per save, {load_us:.2f} us per load")
    verdicts = [
        f"{'PASS' if ratio >= TARGET else 'FAIL'}  {label} {operation} at least {TARGET}x of raw: "
        f"{ratio:.2f}x"
        for label, operation, _, _, ratio in rows
    ]
    print("\n".join([*lines, "", *verdicts, "", *codec_lines]))
    if args.rst is not None:
        table = [
            ".. list-table::",
            "   :header-rows: 1",
            "",
            "   * - format",
            "     - operation",
            "     - platekit MB/s",
            "     - raw MB/s",
            "     - platekit/raw",
        ]
        for label, operation, ours, raw, ratio in rows:
            table += [
                f"   * - {label}",
                f"     - {operation}",
                f"     - {ours:.0f}",
                f"     - {raw:.0f}",
                f"     - {ratio:.2f}",
            ]
        text = [
            "Storage backends",
            "----------------",
            "",
            ".. Written by tests_integration/bench/storage_bench.py; run the bench session again",
            "   rather than editing this file.",
            "",
            "Frames saved and loaded through the ``disk`` backend (TIFF, ``.npy``) and the "
            "``zarr`` backend, against tifffile, ``numpy.save``/``numpy.load`` and zarr-python "
            "on the same frames, frame by frame in one process with each side going first in "
            "turn; throughput is the frame size over the median time per frame. Every frame "
            "read back is compared with what was written.",
            "",
            facts + ".",
            "",
            *table,
            "",
            f"The ``memory`` backend costs {save_us:.2f} µs per save "
            f"and {load_us:.2f} µs per load.",
            "",
            *(f"* {line}" for line in verdicts),
            "",
        ]
        if codec_rst:
            text += [
                "The ``zarr`` backend's codecs, each through a ``ZarrConfig``, on smooth "
                "synthetic cell images: bytes stored per frame and the median time to save "
                "and to load one frame.",
                "",
                *codec_rst,
                "",
            ]
        args.rst.parent.mkdir(parents=True, exist_ok=True)
        args.rst.write_text("\n".join(text), encoding="utf-8")
    if misses and args.fail_on_miss:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
