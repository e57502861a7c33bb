"""Microscopes benchmark: plate conversion and plate opening against the raw libraries.

``python -m nox -s bench`` runs it after the storage benchmark. By hand, in an
environment with platekit-microscopes installed::

    python tests_integration/bench/microscopes_bench.py --quick

Conversion: a synthetic ImageXpress plate converted to OME-Zarr 0.5 by
``platekit.microscopes.convert`` with 1 and 2 workers, against a raw copy of
the same bytes in the same run (every TIFF read with tifffile, the same
arrays written with zarr-python directly, same chunks and codec, one
field array per site). The three runs take turns, each round in another
order, and the median of the rounds is compared.

Opening: ``detect_microscope`` + ``open_plate`` on a 384-well ImageXpress
folder against a bare ``os.scandir`` of the same folder, in one process,
warm, median of many calls.
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
from pathlib import Path

ONE_WORKER_TARGET = 0.7
TWO_WORKER_TARGET = 1.6


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wells", type=int, default=96, help="wells of the plate converted (96)")
    parser.add_argument("--sites", type=int, default=4, help="sites per well (4)")
    parser.add_argument("--channels", type=int, default=3, help="channels (3)")
    parser.add_argument("--size", type=int, default=1024, help="image width and height (1024)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three runs (3)")
    parser.add_argument(
        "--quick", action="store_true", help="24 wells x 2 sites x 2 channels of 512x512"
    )
    parser.add_argument("--rst", type=Path, help="write the results as reST to this file")
    parser.add_argument("--fail-on-miss", action="store_true", help="exit 1 when a target misses")
    args = parser.parse_args(argv)
    if args.quick:
        args.wells, args.sites, args.channels, args.size, args.rounds = 24, 2, 2, 512, 2
    return args


def well_names(count: int, columns: int = 12) -> list[str]:
    return [f"{chr(ord('A') + n // columns)}{n % columns + 1:02d}" for n in range(count)]


def raw_copy(plate: Path, out: Path) -> None:
    """The same bytes through tifffile and zarr-python alone: one (c, y, x) array per site."""
    import tifffile
    import zarr

    from platekit.microscopes import open_plate

    opened = open_plate(plate)
    meta = opened.metadata
    root = zarr.open_group(str(out), mode="w", zarr_format=3)
    by_field: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for key, address in opened.planes():
        by_field.setdefault((key.well, key.site), []).append((key.channel, address))
    height, width = meta.image_shape or (0, 0)
    for (well, site), planes in by_field.items():
        array = root.create_array(
            f"{well}/{site - 1}/0",
            shape=(len(meta.channels), height, width),
            chunks=(1, height, width),
            dtype=meta.dtype,
            dimension_names=["c", "y", "x"],
        )
        for index, (_, address) in enumerate(sorted(planes)):
            array[index] = tifffile.imread(plate / address)


def convert_with(workers: int):  # type: ignore[no-untyped-def]
    from platekit.microscopes import convert

    def run(plate: Path, out: Path) -> None:
        convert(plate, out, workers=workers)

    return run


def time_conversions(plate: Path, work: Path, rounds: int) -> dict[str, list[float]]:
    runs = {
        "raw": raw_copy,
        "platekit, 1 worker": convert_with(1),
        "platekit, 2 workers": convert_with(2),
    }
    names = list(runs)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        order = names[round_number % 3 :] + names[: round_number % 3]
        for name in order:
            out = work / "out.zarr"
            shutil.rmtree(out, ignore_errors=True)
            started = time.perf_counter()
            runs[name](plate, out)
            seconds[name].append(time.perf_counter() - started)
            print(f"  round {round_number + 1}: {name}: {seconds[name][-1]:.2f} s", flush=True)
    shutil.rmtree(work / "out.zarr", ignore_errors=True)
    return seconds


def time_opening(plate: Path, calls: int) -> tuple[float, float]:
    from platekit.microscopes import detect_microscope, open_plate

    def opening() -> None:
        detect_microscope(plate)
        open_plate(plate)

    def scanning() -> None:
        with os.scandir(plate) as entries:
            for _ in entries:
                pass

    opening()
    ours, bare = [], []
    for _ in range(calls):
        for target, samples in ((opening, ours), (scanning, bare)):
            started = time.perf_counter()
            target()
            samples.append(time.perf_counter() - started)
    return statistics.median(ours), statistics.median(bare)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from platekit.microscopes.testing import write_plate

    with tempfile.TemporaryDirectory(prefix="platekit-microscopes-bench-") as tmp:
        work = Path(tmp)
        print(
            f"writing a {args.wells}-well ImageXpress plate, {args.sites} sites, "
            f"{args.channels} channels of {args.size}x{args.size} uint16...",
            flush=True,
        )
        plate = write_plate(
            "imagexpress",
            work / "plate",
            wells=well_names(args.wells),
            sites=args.sites,
            channels=args.channels,
            shape=(args.size, args.size),
            plate_format=(8, 12) if args.wells <= 96 else (16, 24),
        )
        planes = args.wells * args.sites * args.channels
        megabytes = planes * args.size * args.size * 2 / 1e6
        seconds = time_conversions(plate, work, args.rounds)
        shutil.rmtree(plate)

        print("writing a 384-well ImageXpress plate of small images...", flush=True)
        wide = write_plate(
            "imagexpress",
            work / "plate384",
            wells=well_names(384, 24),
            sites=4,
            channels=2,
            shape=(16, 16),
            plate_format=(16, 24),
        )
        files = sum(1 for _ in os.scandir(wide))
        open_s, scan_s = time_opening(wide, 30)

    medians = {name: statistics.median(values) for name, values in seconds.items()}
    raw = medians["raw"]
    one, two = medians["platekit, 1 worker"], medians["platekit, 2 workers"]
    one_ratio, two_ratio = raw / one, one / two
    facts = (
        f"{args.wells} wells x {args.sites} sites x {args.channels} channels of "
        f"{args.size}x{args.size} uint16 ({planes} planes, {megabytes:.0f} MB), median of "
        f"{args.rounds} rounds; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{datetime.date.today().isoformat()}"
    )
    rows = [(name, medians[name], megabytes / medians[name]) for name in seconds]
    lines = [facts, "", f"{'run':<22} {'seconds':>8} {'MB/s':>8}"]
    lines += [f"{name:<22} {s:>8.2f} {rate:>8.0f}" for name, s, rate in rows]
    lines += [
        "",
        f"open a 384-well plate ({files} entries): detect_microscope + open_plate "
        f"{open_s * 1e3:.2f} ms, bare os.scandir {scan_s * 1e3:.2f} ms, "
        f"ratio {open_s / scan_s:.1f}x",
    ]
    verdicts = [
        f"{'PASS' if one_ratio >= ONE_WORKER_TARGET else 'FAIL'}  1 worker at least "
        f"{ONE_WORKER_TARGET}x the raw throughput: {one_ratio:.2f}x",
        f"{'PASS' if two_ratio >= TWO_WORKER_TARGET else 'FAIL'}  2 workers at least "
        f"{TWO_WORKER_TARGET}x one worker: {two_ratio:.2f}x",
    ]
    print("\n".join([*lines, "", *verdicts]))
    if args.rst is not None:
        write_rst(args.rst, facts, rows, raw, (open_s, scan_s, files), verdicts)
    missed = one_ratio < ONE_WORKER_TARGET or two_ratio < TWO_WORKER_TARGET
    return 1 if args.fail_on_miss and missed else 0


def write_rst(
    path: Path,
    facts: str,
    rows: list[tuple[str, float, float]],
    raw: float,
    opening: tuple[float, float, int],
    verdicts: list[str],
) -> None:
    open_s, scan_s, files = opening
    table = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - run",
        "     - seconds",
        "     - MB/s",
        "     - throughput / raw",
    ]
    for name, seconds, rate in rows:
        table += [
            f"   * - {name}",
            f"     - {seconds:.2f}",
            f"     - {rate:.0f}",
            f"     - {raw / seconds:.2f}",
        ]
    text = [
        "Plate conversion",
        "----------------",
        "",
        ".. Written by tests_integration/bench/microscopes_bench.py; run the bench session again",
        "   rather than editing this file.",
        "",
        "A synthetic ImageXpress plate converted to OME-Zarr 0.5 by ``platekit convert`` with one "
        "and two worker processes, against a raw copy of the same bytes in the same run: every "
        "TIFF read with tifffile and written with zarr-python directly, one chunk per plane, "
        "zarr's default codec. The runs take turns, each round in another order; the table gives "
        "the medians.",
        "",
        facts + ".",
        "",
        *table,
        "",
        f"Opening a 384-well plate folder ({files} entries): ``detect_microscope`` and "
        f"``open_plate`` take {open_s * 1e3:.2f} ms against {scan_s * 1e3:.2f} ms for a bare "
        f"``os.scandir`` of the folder ({open_s / scan_s:.1f}x), warm, median of 30 calls.",
        "",
        "Targets:",
        "",
        *[f"- {verdict}" for verdict in verdicts],
        "",
    ]
    path.write_text("\n".join(text))


if __name__ == "__main__":
    sys.exit(main())
