"""The conversion-throughput part of the microscopes benchmark: input MB/s per core.

For each compression real exports use (LZW, as MetaXpress and Harmony write
it, and none), a synthetic ImageXpress plate is converted by
``platekit.microscopes.convert`` with one worker on one core and with two
workers on two cores, and its planes are decoded alone on one core (the
codec's own ceiling: a conversion cannot take input faster than it decodes
it). Each run is a child process pinned to its cores before anything starts,
so every thread of the run (the plane reads, zarr's) shares them; the runs
take turns and the medians are compared. Input is the plates' pixels
(planes x height x width x 2 bytes); "per core" divides by the cores the run
was given, so it counts a core left idle by a run as a loss.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from _pinned import machine_cpus, pin, run_pinned
from _rst import list_table, rst_section

#: Input MB/s per core that a conversion should reach.
PER_CORE_TARGET = 250.0
COMPRESSIONS = {"LZW": "lzw", "none": None}


@dataclass
class Run:
    """One measured run: the medians of its rounds."""

    name: str
    cores: int
    seconds: float
    cpu_seconds: float
    output_bytes: int


@dataclass
class ThroughputResult:
    facts: str
    #: Input MB of each plate (its pixels), and its TIFF files' MB, by compression.
    megabytes: float
    file_megabytes: dict[str, float]
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def rate(self, run: Run) -> float:
        return self.megabytes / run.seconds

    def per_core(self, run: Run) -> float:
        return self.rate(run) / run.cores

    @property
    def judged(self) -> list[tuple[str, Run]]:
        return [
            (compression, run)
            for compression, runs in self.runs.items()
            for run in runs
            if "worker" in run.name
        ]

    @property
    def missed(self) -> bool:
        return any(self.per_core(run) < PER_CORE_TARGET for _, run in self.judged)

    @property
    def verdicts(self) -> list[str]:
        lines = []
        for compression, run in self.judged:
            value = self.per_core(run)
            lines.append(
                f"{'PASS' if value >= PER_CORE_TARGET else 'FAIL'}  {compression} input, "
                f"{run.name}: at least {PER_CORE_TARGET:.0f} MB/s per core: {value:.0f}"
            )
        return lines

    @property
    def notes(self) -> list[str]:
        """Which ceiling is the codec's own: decoding alone against the target."""
        lines = []
        for compression, runs in self.runs.items():
            decode = next(run for run in runs if run.name.startswith("decode"))
            rate = self.rate(decode)
            if rate < PER_CORE_TARGET:
                lines.append(
                    f"{compression} input decodes alone at {rate:.0f} MB/s on one core: the "
                    f"codec alone keeps a core under {PER_CORE_TARGET:.0f} MB/s of that input"
                )
            else:
                lines.append(
                    f"{compression} input decodes alone at {rate:.0f} MB/s on one core: "
                    "decoding leaves room for the target; the rest is compressing and writing"
                )
        return lines

    def rows(self) -> list[tuple[str, ...]]:
        rows = []
        for compression, runs in self.runs.items():
            for run in runs:
                output = f"{run.output_bytes / 1e6:.0f}" if run.output_bytes else "-"
                rows.append(
                    (
                        compression,
                        run.name,
                        f"{run.seconds:.2f}",
                        f"{self.rate(run):.0f}",
                        str(run.cores),
                        f"{self.per_core(run):.0f}",
                        f"{self.megabytes / run.cpu_seconds:.0f}",
                        output,
                    )
                )
        return rows

    HEADER = (
        "input",
        "run",
        "seconds",
        "MB/s",
        "cores",
        "MB/s per core",
        "MB per CPU-second",
        "output MB",
    )

    @property
    def lines(self) -> list[str]:
        widths = [max(len(row[i]) for row in [self.HEADER, *self.rows()]) for i in range(8)]
        table = [
            "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
            for row in [self.HEADER, *self.rows()]
        ]
        return ["Conversion throughput: " + self.facts, "", *table, "", *self.notes]

    def rst(self) -> str:
        table = list_table(self.HEADER, self.rows())
        return rst_section(
            "Conversion throughput per core",
            "Synthetic ImageXpress plates, one with LZW-compressed TIFFs (as MetaXpress and "
            "Harmony write them) and one uncompressed, converted to OME-Zarr 0.5 by "
            "``platekit convert`` with one worker on one core and two workers on two cores, "
            "each run a process pinned to its cores; and the same planes decoded alone on one "
            "core, the codec's own ceiling. Input is the plates' pixels; MB/s per core divides "
            "by the cores given, MB per CPU-second by the CPU time the run took. The runs take "
            "turns; the table gives the medians.",
            self.facts,
            [*table, "", *(f"- {note}" for note in self.notes)],
            self.verdicts,
        )


def bench_throughput(work: Path, quick: bool, rounds: int) -> ThroughputResult:
    """Convert an LZW and an uncompressed plate on 1 and 2 cores; decode each alone."""
    from platekit.microscopes.testing import write_plate

    wells, sites, channels, size = (8, 2, 2, 512) if quick else (96, 2, 3, 1024)
    names = [f"{'ABCDEFGH'[i // 12]}{i % 12 + 1:02d}" for i in range(wells)]
    cpus = machine_cpus()
    planes = wells * sites * channels
    megabytes = planes * size * size * 2 / 1e6
    result = ThroughputResult(
        facts=(
            f"{wells} wells x {sites} sites x {channels} channels of {size}x{size} uint16 "
            f"({planes} planes, {megabytes:.0f} MB of pixels), median of {rounds} rounds; "
            f"{len(cpus)} CPUs, load average {_load()} as the runs began"
        ),
        megabytes=megabytes,
        file_megabytes={},
    )
    for compression, option in COMPRESSIONS.items():
        print(f"writing a {wells}-well plate, {compression} TIFFs, for throughput...", flush=True)
        plate = write_plate(
            "imagexpress",
            work / f"throughput-{option}",
            wells=names,
            sites=sites,
            channels=channels,
            shape=(size, size),
            compression=option,
        )
        result.file_megabytes[compression] = (
            sum(path.stat().st_size for path in plate.iterdir() if path.suffix == ".tif") / 1e6
        )
        runs = {"decode alone": (0, cpus[:1]), "1 worker": (1, cpus[:1])}
        if len(cpus) >= 2:
            runs["2 workers"] = (2, cpus[:2])
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
        names_in_turn = list(runs)
        for round_number in range(rounds):
            shift = round_number % len(names_in_turn)
            for name in names_in_turn[shift:] + names_in_turn[:shift]:
                workers, given = runs[name]
                out = work / "throughput-out.zarr"
                samples[name].append(in_child(plate, out, workers, given))
                shutil.rmtree(out, ignore_errors=True)
                print(
                    f"  {compression}, round {round_number + 1}: {name}: "
                    f"{samples[name][-1]['seconds']:.2f} s",
                    flush=True,
                )
        result.runs[compression] = [
            Run(
                name=f"{name}, {len(runs[name][1])} core{'s' if len(runs[name][1]) > 1 else ''}",
                cores=len(runs[name][1]),
                seconds=statistics.median(s["seconds"] for s in samples[name]),
                cpu_seconds=statistics.median(s["cpu"] for s in samples[name]),
                output_bytes=int(statistics.median(s["output"] for s in samples[name])),
            )
            for name in runs
        ]
        shutil.rmtree(plate)
    return result


def _load() -> str:
    """The one-minute load average: other work on the cores slows the runs given them."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


def in_child(plate: Path, out: Path, workers: int, cpus: list[int]) -> dict[str, float]:
    """Run one measurement in a child process pinned to ``cpus``; its figures."""
    args = [str(plate), str(out), str(workers)]
    figures: dict[str, float] = json.loads(run_pinned(__file__, args, cpus, "throughput"))
    return figures


def _child(plate: Path, out: Path, workers: int) -> dict[str, float]:
    """Convert (``workers`` > 0) or decode every plane (0); seconds, CPU, output."""
    import time

    import imagecodecs  # noqa: F401  imported before the clock starts, as in a warm process
    import tifffile  # noqa: F401
    import zarr  # noqa: F401

    from platekit.microscopes import convert, open_plate
    from platekit.microscopes._tiff import read_tiff_plane

    opened = open_plate(plate)
    files = [plate / address for _, address in opened.planes()]
    before, started = os.times(), time.perf_counter()
    if workers:
        convert(opened, out, workers=workers)
    else:
        for path in files:
            read_tiff_plane(path)
    seconds = time.perf_counter() - started
    after = os.times()
    cpu = sum(
        getattr(after, name) - getattr(before, name)
        for name in ("user", "system", "children_user", "children_system")
    )
    output = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) if workers else 0
    return {"seconds": seconds, "cpu": cpu, "output": output}


if __name__ == "__main__":
    plate_arg, out_arg, workers_arg, cpus_arg = sys.argv[1:5]
    pin(cpus_arg)  # before any thread starts, so that every thread of the run has it
    figures = _child(Path(plate_arg), Path(out_arg), int(workers_arg))
    print(json.dumps(figures))
