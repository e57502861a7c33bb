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

Opening (see ``_opening_bench.py``; ``--opening-only`` runs just this):
``detect_microscope`` + ``open_plate`` of 384-well plates of each format, of
about 3,000 and 50,000 images, against one bare ``os.scandir`` of the folder
holding the images, in one process, warm, median of many calls.

Executors (see ``_executors.py``): the ``dask`` executor on a LocalCluster of
2 workers against the ``processes`` executor with 2, on the conversion's
plate and on one a quarter its size; 4 plates on 1 and 2 Dask workers; and
the scheduler's cost per task.

Arrays: ``Plate.to_dask`` of a 96-well plate computed in full (every plane
read, each reduced to its maximum) against reading every plane with
``Plate.read`` in a loop, in the same run, taking turns; and the time to
build the array of a 384-well plate, which reads no pixels.

Conversion throughput (see ``_throughput_bench.py``; ``--throughput-only``
runs just this): an LZW and an uncompressed plate converted with one worker
on one core and two workers on two cores, and decoded alone, as input MB/s
per core against 250.

Writing plates (see ``_writer_bench.py``): ``PlateWriter`` against
zarr-python writing the same arrays directly, taking turns.

Object storage: the same plate converted into a moto S3 server on 127.0.0.1
and into a local folder, taking turns, and the requests per well written.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from _bytecode import bytecode_note
from _executors import ExecutorsResult, bench_executors
from _opening_bench import bench_opening
from _pinned import machine_cpus
from _rst import rst_section
from _throughput_bench import bench_throughput, in_child
from _turns import take_turns
from _writer_bench import bench_writer

ONE_WORKER_TARGET = 0.7
TWO_WORKER_TARGET = 1.6
ARRAYS_TARGET = 0.9
#: What the processes this benchmark starts import: their start is timed with them.
WORKER_IMPORTS = ("distributed", "zarr", "numcodecs", "tifffile", "imagecodecs", "numpy")


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
    parser.add_argument(
        "--executors-only", action="store_true", help="run only the executors' measurements"
    )
    parser.add_argument(
        "--writer-only", action="store_true", help="run only PlateWriter against zarr-python"
    )
    parser.add_argument(
        "--throughput-only",
        action="store_true",
        help="run only the conversion's input MB/s per core (LZW and uncompressed plates)",
    )
    parser.add_argument(
        "--opening-only",
        action="store_true",
        help="run only detect_microscope + open_plate against os.scandir, per format (--rst "
        "then writes this section alone)",
    )
    parser.add_argument(
        "--object-storage-only",
        action="store_true",
        help="run only the S3 output against a local folder, and its requests per well",
    )
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


def convert_on_one_core(plate: Path, out: Path) -> float:
    """One worker in a child process pinned to one core; the seconds its conversion took.

    The child's own clock, so the interpreter's start is not counted against it.
    """
    return in_child(plate, out, 1, machine_cpus()[:1])["seconds"]


def time_conversions(plate: Path, work: Path, rounds: int) -> dict[str, float]:
    """The median seconds of each conversion of ``plate``, the runs taking turns."""
    # A worker keeps busy as many cores as it may (it reads ahead on threads), so one
    # worker alone takes both cores here; the workers' scaling is read against one core.
    runs = {
        "raw": raw_copy,
        "platekit, 1 worker": convert_with(1),
        "platekit, 1 worker, 1 core": convert_on_one_core,
        "platekit, 2 workers": convert_with(2),
    }
    out = work / "out.zarr"
    shutil.rmtree(out, ignore_errors=True)
    return take_turns(
        {name: functools.partial(run, plate, out) for name, run in runs.items()},
        rounds,
        tidy=lambda _name: shutil.rmtree(out, ignore_errors=True),
    )


def write_conversion_plate(args: argparse.Namespace, folder: Path) -> Path:
    """The plate the conversion is timed on, as the arguments describe it."""
    from platekit.microscopes.testing import write_plate

    print(
        f"writing a {args.wells}-well ImageXpress plate, {args.sites} sites, "
        f"{args.channels} channels of {args.size}x{args.size} uint16...",
        flush=True,
    )
    return write_plate(
        "imagexpress",
        folder,
        wells=well_names(args.wells),
        sites=args.sites,
        channels=args.channels,
        shape=(args.size, args.size),
        plate_format=(8, 12) if args.wells <= 96 else (16, 24),
    )


def run_executors(
    args: argparse.Namespace, work: Path, plate: Path | None = None
) -> ExecutorsResult:
    """Time the executors on ``plate`` and on 4 plates written here (the first alone, then all).

    ``plate`` is the one the conversion is timed on; it is written here when not given.
    """
    from platekit.microscopes.testing import write_plate

    if plate is None:
        plate = write_conversion_plate(args, work / "plate")
    wells, sites, channels, size = (8, 2, 2, 512) if args.quick else (24, 4, 3, 1024)
    print(f"writing 4 {wells}-well plates for the executors benchmark...", flush=True)
    (work / "screen-in").mkdir()
    plates = [
        write_plate(
            "imagexpress",
            work / f"screen-in/Plate{index}",
            wells=well_names(wells),
            sites=sites,
            channels=channels,
            shape=(size, size),
            seed=index,
        )
        for index in range(4)
    ]
    planes = wells * sites * channels
    whole = args.wells * args.sites * args.channels
    facts = (
        f"The whole plate: {args.wells} wells x {args.sites} sites x {args.channels} channels "
        f"of {args.size}x{args.size} uint16 ({whole * args.size * args.size * 2 / 1e6:.0f} MB); "
        f"4 plates of {wells} wells x {sites} sites x {channels} channels of {size}x{size} "
        f"uint16 ({planes} planes, {planes * size * size * 2 / 1e6:.0f} MB each), the first "
        f"of them the small plate; median of {args.rounds} rounds; {os.cpu_count()} CPUs"
    )
    tasks = 500 if args.quick else 5000
    result = bench_executors(plate, plates, work, args.rounds, tasks, facts)
    shutil.rmtree(work / "screen-in")
    return result


def run_alone(measure: Callable[[Path], Any], rst: Path | None, fail_on_miss: bool) -> int:
    """One part of the benchmark alone, in a folder of its own; ``rst`` gets its section only."""
    with tempfile.TemporaryDirectory(prefix="platekit-microscopes-bench-") as tmp:
        part = measure(Path(tmp))
    if part is None:  # it cannot run here, and has said why
        return 0
    print("\n".join(["", *part.lines, "", *part.verdicts]))
    if rst is not None:
        rst.write_text(part.rst().lstrip("\n"))
    return 1 if fail_on_miss and part.missed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    note = bytecode_note(WORKER_IMPORTS)
    if note:
        print(f"warning: {note}", file=sys.stderr, flush=True)

    parts = [
        (args.executors_only, lambda work: run_executors(args, work)),
        (args.throughput_only, lambda work: bench_throughput(work, args.quick, args.rounds)),
        (args.writer_only, lambda work: bench_writer(work, args.quick, max(args.rounds, 3))),
        (args.opening_only, lambda work: bench_opening(work, args.quick)),
        (
            args.object_storage_only,
            lambda work: bench_object_storage(work, args.quick, max(args.rounds, 3)),
        ),
    ]
    for wanted, measure in parts:
        if wanted:
            return run_alone(measure, args.rst, args.fail_on_miss)

    with tempfile.TemporaryDirectory(prefix="platekit-microscopes-bench-") as tmp:
        work = Path(tmp)
        plate = write_conversion_plate(args, work / "plate")
        planes = args.wells * args.sites * args.channels
        megabytes = planes * args.size * args.size * 2 / 1e6
        medians = time_conversions(plate, work, args.rounds)
        # Kept for the executors, which compare Dask with the pool on it.
        throughput = bench_throughput(work, args.quick, args.rounds)

        opening = bench_opening(work, args.quick)
        arrays = bench_arrays(work, args.quick, max(args.rounds, 5))
        executors = run_executors(args, work, plate)
        shutil.rmtree(plate)
        writer = bench_writer(work, args.quick, max(args.rounds, 3))
        object_storage = bench_object_storage(work, args.quick, max(args.rounds, 3))

    raw = medians["raw"]
    one, two = medians["platekit, 1 worker"], medians["platekit, 2 workers"]
    one_ratio, two_ratio = raw / one, medians["platekit, 1 worker, 1 core"] / two
    facts = (
        f"{args.wells} wells x {args.sites} sites x {args.channels} channels of "
        f"{args.size}x{args.size} uint16 ({planes} planes, {megabytes:.0f} MB), median of "
        f"{args.rounds} rounds; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{datetime.date.today().isoformat()}"
    )
    if note:  # the figures of processes started here are not what a user's install gives
        facts += f"; {note}"
    rows = [(name, seconds, megabytes / seconds) for name, seconds in medians.items()]
    lines = [facts, "", f"{'run':<28} {'seconds':>8} {'MB/s':>8}"]
    lines += [f"{name:<28} {s:>8.2f} {rate:>8.0f}" for name, s, rate in rows]
    verdicts = [
        f"{'PASS' if one_ratio >= ONE_WORKER_TARGET else 'FAIL'}  1 worker at least "
        f"{ONE_WORKER_TARGET}x the raw throughput: {one_ratio:.2f}x",
        f"{'PASS' if two_ratio >= TWO_WORKER_TARGET else 'FAIL'}  2 workers at least "
        f"{TWO_WORKER_TARGET}x one worker on one core: {two_ratio:.2f}x",
    ]
    print("\n".join([*lines, "", *verdicts, "", *arrays.lines, "", arrays.verdict]))
    print("\n".join(["", *opening.lines, "", *opening.verdicts]))
    print("\n".join(["", *throughput.lines, "", *throughput.verdicts]))
    print("\n".join(["", *writer.lines, "", writer.verdict]))
    print("\n".join(["", *executors.lines, "", *executors.verdicts]))
    if object_storage is not None:
        print("\n".join(["", *object_storage.lines]))
    if args.rst is not None:
        write_rst(args.rst, facts, rows, raw, verdicts)
        with args.rst.open("a", encoding="utf-8") as rst:
            rst.write(throughput.rst())
            rst.write(opening.rst())
            rst.write(arrays.rst())
            rst.write(writer.rst())
            rst.write(executors.rst())
            if object_storage is not None:
                rst.write(object_storage.rst())
    missed = one_ratio < ONE_WORKER_TARGET or two_ratio < TWO_WORKER_TARGET or arrays.missed
    missed = missed or throughput.missed
    missed = missed or writer.missed or opening.missed or executors.missed
    return 1 if args.fail_on_miss and missed else 0


def write_rst(
    path: Path,
    facts: str,
    rows: list[tuple[str, float, float]],
    raw: float,
    verdicts: list[str],
) -> None:
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
        "worker (on every core, and in a process pinned to one core) and with two worker "
        "processes, against a raw copy of the same bytes in the same run: every "
        "TIFF read with tifffile and written with zarr-python directly, one chunk per plane, "
        "zarr's default codec. The runs take turns, each round in another order; the table gives "
        "the medians.",
        "",
        facts + ".",
        "",
        *table,
        "",
        "Targets:",
        "",
        *[f"- {verdict}" for verdict in verdicts],
        "",
    ]
    path.write_text("\n".join(text))


# -- plates as arrays -------------------------------------------------------------------


@dataclass
class ArraysResult:
    """Plate.to_dask computed in full against a Plate.read loop, and building a 384-well array."""

    facts: str
    seconds: dict[str, float]
    megabytes: float
    build_ms: dict[str, float]
    build_planes: int

    @property
    def ratio(self) -> float:
        return self.seconds["Plate.read loop"] / self.seconds["to_dask, threads"]

    @property
    def missed(self) -> bool:
        return self.ratio < ARRAYS_TARGET

    @property
    def lines(self) -> list[str]:
        rows = [f"{'run':<22} {'seconds':>8} {'MB/s':>8}"]
        rows += [
            f"{name:<22} {s:>8.2f} {self.megabytes / s:>8.0f}" for name, s in self.seconds.items()
        ]
        built = ", ".join(f"{name} {ms:.0f} ms" for name, ms in self.build_ms.items())
        return [
            self.facts,
            *rows,
            f"building the array of a 384-well plate ({self.build_planes} planes): {built}",
        ]

    @property
    def verdict(self) -> str:
        return (
            f"{'FAIL' if self.missed else 'PASS'}  to_dask computed at least {ARRAYS_TARGET}x "
            f"the throughput of a Plate.read loop: {self.ratio:.2f}x"
        )

    def rst(self) -> str:
        loop = self.seconds["Plate.read loop"]
        table = [".. list-table::", "   :header-rows: 1", ""]
        table += ["   * - run", "     - seconds", "     - MB/s", "     - throughput / loop"]
        for name, seconds in self.seconds.items():
            table += [
                f"   * - {name}",
                f"     - {seconds:.2f}",
                f"     - {self.megabytes / seconds:.0f}",
                f"     - {loop / seconds:.2f}",
            ]
        built = " and ".join(f"``{name}`` {ms:.0f} ms" for name, ms in self.build_ms.items())
        return rst_section(
            "Plates as arrays",
            "``Plate.to_dask()`` of a synthetic ImageXpress plate computed in full (every plane "
            "read and reduced to its maximum, on dask's default threads and on one thread), "
            "against every plane read with ``Plate.read`` in a loop and reduced the same way, in "
            "the same run, taking turns; the table gives the medians.",
            self.facts,
            [
                *table,
                "",
                f"Building the array of a 384-well plate ({self.build_planes} planes), which "
                f"reads no pixels: {built}, warm, median of 10 calls.",
            ],
            [self.verdict],
        )


def bench_arrays(work: Path, quick: bool, rounds: int) -> ArraysResult:
    """Time reading a plate as an array against a Plate.read loop, and building a big array."""
    from platekit.microscopes import open_plate
    from platekit.microscopes.testing import write_plate

    wells, sites, channels, size = (24, 1, 2, 512) if quick else (96, 1, 2, 1024)
    print(f"writing a {wells}-well plate for the arrays benchmark...", flush=True)
    folder = write_plate(
        "imagexpress",
        work / "arrays",
        wells=well_names(wells),
        sites=sites,
        channels=channels,
        shape=(size, size),
    )
    plate = open_plate(folder)
    planes = [key for key, _ in plate.planes()]

    def loop() -> None:
        for key in planes:
            plate.read(key.well, key.site, key.channel, key.z_index, key.timepoint).max()

    def threads() -> None:
        plate.to_dask().max(axis=(-2, -1)).compute()

    def one_thread() -> None:
        plate.to_dask().max(axis=(-2, -1)).compute(scheduler="sync")

    runs = {"Plate.read loop": loop, "to_dask, threads": threads, "to_dask, one thread": one_thread}
    threads()  # imports dask and warms the files, for every run alike
    seconds = take_turns(runs, rounds)
    shutil.rmtree(folder)

    print("writing a 384-well plate of small images for building its array...", flush=True)
    wide_folder = write_plate(
        "imagexpress",
        work / "arrays384",
        wells=well_names(384, 24),
        sites=9,
        channels=4,
        shape=(8, 8),
        plate_format=(16, 24),
    )
    wide = open_plate(wide_folder)
    build_ms = {}
    for name, build in (("to_dask()", wide.to_dask), ("to_xarray()", wide.to_xarray)):
        build()
        times = []
        for _ in range(10):
            started = time.perf_counter()
            build()
            times.append((time.perf_counter() - started) * 1e3)
        build_ms[name] = statistics.median(times)
    build_planes = sum(1 for _ in wide.planes())
    shutil.rmtree(wide_folder)
    facts = (
        f"{wells} wells x {sites} sites x {channels} channels of {size}x{size} uint16 "
        f"({len(planes)} planes), median of {rounds} rounds; {os.cpu_count()} CPUs"
    )
    return ArraysResult(
        facts=facts,
        seconds=seconds,
        megabytes=len(planes) * size * size * 2 / 1e6,
        build_ms=build_ms,
        build_planes=build_planes,
    )


# -- output to object storage -----------------------------------------------------------


#: Plates of a request count: alike but for their number of wells, in the same two rows.
_FEWER_WELLS = ["A01", "A02", "B01", "B02"]
_MORE_WELLS = [f"{row}{column:02d}" for row in "AB" for column in range(1, 5)]
#: What differs between the plates whose requests per well are counted.
_REQUEST_LAYOUTS = {
    "1 field, 1 channel, 1 z": {},
    "1 field, 4 channels (4 chunks)": {"channels": 4},
    "1 field, 3 z planes (3 chunks)": {"z": 3},
    "4 fields (4 arrays)": {"sites": 4},
}
_REQUEST_KINDS = ("GET", "HEAD", "LIST", "PUT metadata", "PUT data", "DELETE")


@dataclass
class ObjectStorageResult:
    """A conversion into a local S3 server against one into a local folder, same plate."""

    facts: str
    seconds: dict[str, float]
    #: Requests per well written into S3, by plate layout, then by kind ("GET", "PUT data", ...).
    per_well: dict[str, dict[str, float]]

    @property
    def ratio(self) -> float:
        return self.seconds["local folder"] / self.seconds["local S3 server"]

    #: The ratio and the counts are reported, not held against a target.
    verdicts: ClassVar[list[str]] = []
    missed: ClassVar[bool] = False

    @property
    def lines(self) -> list[str]:
        rows = [f"{name:<22} {s:>8.2f} s" for name, s in self.seconds.items()]
        head = f"{'requests per well written':<32}" + "".join(f"{k:>14}" for k in _REQUEST_KINDS)
        counts = [
            f"{layout:<32}" + "".join(f"{found.get(k, 0):>14g}" for k in _REQUEST_KINDS)
            for layout, found in self.per_well.items()
        ]
        return [
            self.facts,
            *rows,
            f"S3 output at {self.ratio:.2f}x the throughput of a local folder",
            head,
            *counts,
        ]

    def rst(self) -> str:
        rows = [".. list-table::", "   :header-rows: 1", "", "   * - output", "     - seconds"]
        for name, seconds in self.seconds.items():
            rows += [f"   * - {name}", f"     - {seconds:.2f}"]
        counts = [".. list-table::", "   :header-rows: 1", "", "   * - plate (per well)"]
        counts += [f"     - {kind}" for kind in _REQUEST_KINDS]
        for layout, found in self.per_well.items():
            counts += [f"   * - {layout}"] + [f"     - {found.get(k, 0):g}" for k in _REQUEST_KINDS]
        return "\n".join(
            [
                "",
                "Output to object storage",
                "------------------------",
                "",
                "The same synthetic ImageXpress plate converted with one worker into a local "
                "folder and into a moto S3 server on 127.0.0.1 (a real HTTP server, no mocks), "
                "taking turns; the table gives the medians. No target: the ratio is reported.",
                "",
                self.facts + ".",
                "",
                *rows,
                "",
                f"The S3 output runs at {self.ratio:.2f}x the throughput of the local one.",
                "",
                "Requests per well written, counted where s3fs sends them: those of a plate of "
                "8 wells less those of the same plate of 4, per well (what a run costs once, "
                "the lock and the root, cancels out), 64x64 planes, one chunk each. GET, HEAD "
                "and PUT metadata are Zarr documents; PUT data is chunks. Target: chunks add "
                "one PUT each and nothing else; fields add the same requests per array.",
                "",
                *counts,
                "",
            ]
        )


def _requests_per_well(
    work: Path, options: dict[str, str], layout: dict[str, int]
) -> dict[str, float]:
    """The requests a well adds to a conversion into S3 (see ``ObjectStorageResult.rst``)."""
    import uuid
    from collections import Counter

    import s3fs

    from platekit.microscopes import convert, open_plate
    from platekit.microscopes.testing import write_plate
    from platekit.storage.testing_s3 import counted_requests

    totals = []
    for wells in (_FEWER_WELLS, _MORE_WELLS):
        name = "requests-" + "-".join(f"{k}{v}" for k, v in layout.items()) + f"-{len(wells)}"
        plate = open_plate(write_plate("imagexpress", work / name, wells=wells, **layout))
        bucket = f"requests-{uuid.uuid4().hex[:12]}"
        s3fs.S3FileSystem(**options).mkdir(bucket)
        with counted_requests() as sent:
            convert(plate, f"s3://{bucket}/plate.zarr", storage_options=options, workers=1)
        # Zarr documents and the lock are metadata; of the other requests only PUTs are chunks.
        totals.append(
            Counter(
                {(k if k.startswith("PUT") else k.split()[0]): n for k, n in Counter(sent).items()}
            )
        )
    added = len(_MORE_WELLS) - len(_FEWER_WELLS)
    kinds = set(totals[0]) | set(totals[1])
    return {kind: (totals[1][kind] - totals[0][kind]) / added for kind in kinds}


def bench_object_storage(work: Path, quick: bool, rounds: int) -> ObjectStorageResult | None:
    """Time a conversion into a local S3 server against one into a folder; count requests."""
    try:
        import s3fs

        from platekit.storage.testing_s3 import FAKE_CREDENTIALS, moto_server
    except ImportError as exc:
        print(f"object storage benchmark skipped: {exc}", flush=True)
        return None
    from platekit.microscopes import convert, open_plate
    from platekit.microscopes.testing import write_plate

    wells, sites, channels, size = (8, 2, 2, 256) if quick else (24, 2, 2, 512)
    folder = write_plate(
        "imagexpress",
        work / "s3-plate",
        wells=well_names(wells),
        sites=sites,
        channels=channels,
        shape=(size, size),
    )
    plate = open_plate(folder)
    os.environ.update({k: v for k, v in FAKE_CREDENTIALS.items() if k not in os.environ})
    seconds: dict[str, list[float]] = {"local folder": [], "local S3 server": []}
    with moto_server() as endpoint:
        options = {"endpoint_url": endpoint}
        fs = s3fs.S3FileSystem(**options)
        for round_number in range(rounds):
            bucket = f"bench-{round_number}"
            fs.mkdir(bucket)
            for name in list(seconds) if round_number % 2 else list(seconds)[::-1]:
                out = f"s3://{bucket}/plate.zarr" if "S3" in name else work / "s3-out.zarr"
                started = time.perf_counter()
                convert(plate, out, storage_options=options, workers=1)
                seconds[name].append(time.perf_counter() - started)
                shutil.rmtree(work / "s3-out.zarr", ignore_errors=True)
        per_well = {
            label: _requests_per_well(work, options, layout)
            for label, layout in _REQUEST_LAYOUTS.items()
        }
    facts = (
        f"{wells} wells x {sites} sites x {channels} channels of {size}x{size} uint16, "
        f"median of {rounds} rounds"
    )
    return ObjectStorageResult(
        facts,
        {name: statistics.median(values) for name, values in seconds.items()},
        per_well,
    )


if __name__ == "__main__":
    sys.exit(main())
