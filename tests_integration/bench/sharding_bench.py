"""Sharding benchmark: files and time for a big plate's arrays, with and without Zarr v3 shards.

``python -m nox -s bench`` runs it and writes docs/benchmarks/sharding.inc. By
hand, in an environment with platekit-storage[zarr]::

    python tests_integration/bench/sharding_bench.py [--quick] [--rst FILE]

The arrays of a 384-well plate, one per field of shape (1, channels, z, y,
x) as a conversion writes them, are written plane by plane through the
``zarr`` backend's ``array_writer``, once with ``ZarrConfig()`` (one file
per plane) and once with ``ZarrConfig(shards="well")`` (one shard file per
array), taking turns. It reports the files and bytes written, and the
wall time; every array is read back and compared.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _rst import list_table


def planes(channels: int, z: int, size: int, seed: int) -> np.ndarray:
    """A (1, channels, z, size, size) stack of noisy gradients, as cell images compress."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(100, 1100, size, dtype=np.float32)
    base = ramp[:, None] + ramp[None, :]
    noise = rng.normal(0, 20, (1, channels, z, size, size)).astype(np.float32)
    stack: np.ndarray = (base + noise).clip(0, 65535).astype(np.uint16)
    return stack


def write_plate(out: Path, config: object, wells: int, fields: int, stack: np.ndarray) -> float:
    """Write every well's field arrays plane by plane; the wall time in seconds."""
    from platekit.storage.backends.zarr import ZarrBackend

    backend = ZarrBackend(zarr_config=config)  # type: ignore[arg-type]
    _, channels, zs = stack.shape[:3]
    started = time.perf_counter()
    for well in range(wells):
        for field in range(fields):
            path = out / f"W{well:03d}" / str(field) / "0"
            with backend.array_writer(path, stack.shape, stack.dtype) as writer:
                for c in range(channels):
                    for z in range(zs):
                        writer[0, c, z] = stack[0, c, z]
    return time.perf_counter() - started


def tree_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wells", type=int, default=384, help="wells (384)")
    parser.add_argument("--fields", type=int, default=4, help="fields per well (4)")
    parser.add_argument("--channels", type=int, default=3, help="channels (3)")
    parser.add_argument("--z", type=int, default=5, help="z-planes (5)")
    parser.add_argument("--size", type=int, default=256, help="image side (256)")
    parser.add_argument("--quick", action="store_true", help="24 wells")
    parser.add_argument("--rst", type=Path, help="write the results as reST to this file")
    args, _ = parser.parse_known_args(argv)
    if args.quick:
        args.wells = 24

    from platekit.storage import ZarrConfig
    from platekit.storage.backends.zarr import ZarrBackend

    stack = planes(args.channels, args.z, args.size, seed=1)
    layouts = [
        ("one file per plane (default)", ZarrConfig()),
        ("shards='well'", ZarrConfig(shards="well")),
    ]
    results = []
    with tempfile.TemporaryDirectory(prefix="platekit-sharding-bench-") as tmp:
        for n, (label, config) in enumerate(layouts):
            out = Path(tmp) / f"{n}.zarr"
            seconds = write_plate(out, config, args.wells, args.fields, stack)
            files, size = tree_size(out)
            reader = ZarrBackend()
            for path in (out / "W000" / "0" / "0", out / f"W{args.wells - 1:03d}" / "0" / "0"):
                if not np.array_equal(reader.load(path), stack):
                    raise SystemExit(f"{label}: {path} read back differs")
            results.append((label, files, size, seconds))
            shutil.rmtree(out)
    planes_total = args.wells * args.fields * args.channels * args.z
    what = (
        f"{args.wells} wells x {args.fields} fields x {args.channels} channels x {args.z} z of "
        f"{args.size}x{args.size} uint16 ({planes_total} planes)"
    )
    print(what)
    for label, files, size, seconds in results:
        print(f"  {label:<30} {files:>8} files {size / 1e6:>9.1f} MB {seconds:>7.1f} s")
    if args.rst is not None:
        facts = (
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"{datetime.date.today().isoformat()}"
        )
        text = [
            "Sharding",
            "--------",
            "",
            ".. Written by tests_integration/bench/sharding_bench.py; run the bench session again",
            "   rather than editing this file.",
            "",
            f"The field arrays of a plate of {what}, written plane by plane through the "
            "``zarr`` backend's ``array_writer`` (one array per field, as a conversion writes "
            "them), without and with Zarr v3 shards; files and bytes written and wall time.",
            "",
            facts + ".",
            "",
            *list_table(
                ("layout", "files", "MB", "seconds"),
                (
                    [label, files, f"{size / 1e6:.1f}", f"{seconds:.1f}"]
                    for label, files, size, seconds in results
                ),
            ),
        ]
        args.rst.parent.mkdir(parents=True, exist_ok=True)
        args.rst.write_text("\n".join([*text, ""]), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
