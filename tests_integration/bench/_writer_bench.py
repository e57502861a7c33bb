"""The PlateWriter part of the microscopes benchmark: against zarr-python writing the same arrays.

A plate of one z plane and one time point is written field by field by
``PlateWriter`` (``write_field`` then ``finish``) and, as the baseline, by
zarr-python directly: a group per plate, row, well and field and one array
per field, with the same chunks (one per plane) and codec, in the same run,
taking turns; the medians are compared. The writer's extra work (each
array built aside and moved into place, the channels' display windows, the
NGFF metadata) is what the ratio measures.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from _rst import rst_section
from _turns import take_turns

WRITER_TARGET = 0.9


@dataclass
class WriterResult:
    facts: str
    #: Median seconds of each run.
    seconds: dict[str, float]
    megabytes: float

    @property
    def ratio(self) -> float:
        return self.seconds["zarr-python"] / self.seconds["PlateWriter"]

    @property
    def missed(self) -> bool:
        return self.ratio < WRITER_TARGET

    @property
    def verdict(self) -> str:
        return (
            f"{'PASS' if not self.missed else 'FAIL'}  PlateWriter at least {WRITER_TARGET}x "
            f"the throughput of zarr-python writing the same arrays: {self.ratio:.2f}x"
        )

    @property
    def verdicts(self) -> list[str]:
        return [self.verdict]

    @property
    def lines(self) -> list[str]:
        rows = [f"{'run':<14} {'seconds':>8} {'MB/s':>8}"]
        rows += [f"{n:<14} {s:>8.2f} {self.megabytes / s:>8.0f}" for n, s in self.seconds.items()]
        return ["PlateWriter: " + self.facts, "", *rows]

    def rst(self) -> str:
        table = [
            "=============  ========  ========",
            "run             seconds      MB/s",
            "=============  ========  ========",
            *(f"{n:<13}  {s:>8.2f}  {self.megabytes / s:>8.0f}" for n, s in self.seconds.items()),
            "=============  ========  ========",
        ]
        return rst_section(
            "Writing plates",
            "A plate written field by field by ``PlateWriter`` (``write_field``, then "
            "``finish``) against zarr-python writing the same arrays directly (same groups, "
            "chunks and codec), in the same run, taking turns; the table gives the medians.",
            self.facts,
            table,
            [self.verdict],
        )


def bench_writer(work: Path, quick: bool, rounds: int) -> WriterResult:
    """Time PlateWriter against zarr-python writing the same fields, taking turns."""
    import numpy as np

    from platekit.microscopes import PlateLayout, PlateWriter
    from platekit.storage import ZarrConfig

    wells, fields, channels, size = (24, 2, 2, 512) if quick else (96, 2, 2, 1024)
    names = [f"{'ABCDEFGH'[i // 12]}{i % 12 + 1:02d}" for i in range(wells)]
    layout = PlateLayout(
        wells=tuple(names),
        fields=fields,
        channels=tuple(f"ch{c}" for c in range(1, channels + 1)),
        image_shape=(size, size),
        dtype="uint16",
    )
    # Four images taken in turn: microscope-like (a smooth background, noise), not all alike.
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    background = (1000 + 400 * np.sin(yy / 37.0) * np.cos(xx / 53.0)).astype("uint16")
    images = [
        (background + rng.integers(0, 200, size=(1, channels, 1, size, size))).astype("uint16")
        for _ in range(4)
    ]
    jobs = [(well, field) for well in names for field in range(fields)]

    def platewriter(out: Path) -> None:
        writer = PlateWriter(out, layout)
        for number, (well, field) in enumerate(jobs):
            writer.write_field(well, field, images[number % 4])
        writer.finish()

    def zarr_python(out: Path) -> None:
        import zarr

        compressors = ZarrConfig().compressors(3)
        root = zarr.open_group(str(out), mode="w", zarr_format=3)
        for number, (well, field) in enumerate(jobs):
            group = root.require_group(f"{well[0]}/{int(well[1:])}/{field}")
            array = group.create_array(
                "0",
                shape=(channels, size, size),
                chunks=(1, size, size),
                dtype="uint16",
                compressors=compressors,
                dimension_names=["c", "y", "x"],
            )
            array[:] = images[number % 4][0, :, 0]

    def written(name: str) -> Path:
        return work / f"written-{name}.zarr"

    runs = {
        "PlateWriter": lambda: platewriter(written("PlateWriter")),
        "zarr-python": lambda: zarr_python(written("zarr-python")),
    }
    seconds = take_turns(runs, rounds, tidy=lambda name: shutil.rmtree(written(name)))
    megabytes = len(jobs) * channels * size * size * 2 / 1e6
    facts = (
        f"{wells} wells x {fields} fields x {channels} channels of {size}x{size} uint16 "
        f"({len(jobs) * channels} planes, {megabytes:.0f} MB), NGFF 0.5, median of {rounds} rounds"
    )
    return WriterResult(
        facts=facts,
        seconds=seconds,
        megabytes=megabytes,
    )
