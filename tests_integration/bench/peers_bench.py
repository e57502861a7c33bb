"""Peers benchmark: platekit's conversion side by side with other converters, same plates.

``python -m nox -s bench`` runs it and writes docs/benchmarks/peers.inc. By
hand, in an environment with platekit-microscopes and uv::

    python tests_integration/bench/peers_bench.py [--quick] [--rst FILE]

fractal-uzh-converters (its Operetta and CellVoyager converters, called as
plain Python functions) and faim-ipa (its MetaXpress converter, with the Dask
client it needs, one thread) are installed with uv into virtual environments
of their own (``--peers-dir``, kept between runs). The same synthetic plates
(``platekit.microscopes.testing.write_plate``: Opera Phenix, CellVoyager,
ImageXpress) are converted by platekit with one worker and with two, and by
each peer at its default codec and at platekit's (Blosc LZ4 level 5, byte
shuffle; fractal-uzh-converters' default already), each run a process of its
own (``peer_runs.py``). For each run: wall time of the conversion (imports
excluded), peak resident memory of its largest process, output bytes and
files, the ratio of its time to platekit's with one worker, and a check that
every source plane is in the output, pixel for pixel (as a 2-D plane, or as
an aligned tile of a stitched well image).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _rst import list_table

HERE = Path(__file__).resolve().parent
#: Environment name -> what is installed into it.
ENVIRONMENTS = {
    "fractal": ["fractal-uzh-converters==0.7.1"],
    # MetaXpress writes LZW TIFFs, which tifffile decodes only with imagecodecs.
    "faim": ["faim-ipa==0.14.0", "imagecodecs"],
}
#: (plate kind, write_plate options, [(converter, environment, options)]).
PLATES = [
    ("opera_phenix", {}, [("fractal-operetta", "fractal", ["default"])]),
    ("cellvoyager", {}, [("fractal-cellvoyager", "fractal", ["default"])]),
    # faim-ipa reads the plate's name and id from "<name>_Plate_<id>", and fails on a
    # plate without a TimePoint_1 folder, which its documentation calls optional.
    (
        "imagexpress",
        {"layout": "timepoint"},
        [("faim-metaxpress", "faim", ["default", "matched"])],
    ),
]


@dataclass
class Run:
    plate: str
    converter: str
    option: str
    wall: float
    peak_mb: float
    size_mb: float
    files: int
    pixels: str


def uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(found).exists():
        raise SystemExit("the peers benchmark needs uv: pip install uv")
    return found


def environment(root: Path, name: str) -> Path:
    """The Python of the peer environment ``name``, made and filled the first time."""
    folder = root / name
    python = folder / "bin" / "python"
    done = folder / ".platekit-bench-complete"
    if not done.exists():
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([uv(), "venv", "-q", "-p", sys.executable, str(folder)], check=True, env=env)
        subprocess.run(
            [uv(), "pip", "install", "-q", "--python", str(python), *ENVIRONMENTS[name]],
            check=True,
            env=env,
            timeout=900,
        )
        done.write_text("installed\n")
    return python


def convert(python: Path, converter: str, plate: Path, out: Path, option: str) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run(
        [str(python), str(HERE / "peer_runs.py"), converter, str(plate), str(out), option],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{converter} {option} failed: {last}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def source_planes(plate: Path) -> tuple[list[str], tuple[int, int], np.dtype]:
    """The hash of every plane of the plate as platekit reads it, the plane shape and dtype."""
    from platekit.microscopes import open_plate

    opened = open_plate(plate)
    hashes, shape, dtype = [], (0, 0), np.dtype("uint16")
    for key, _ in opened.planes():
        pixels = opened.read_plane(key)
        shape, dtype = pixels.shape, pixels.dtype
        hashes.append(hashlib.sha1(np.ascontiguousarray(pixels).tobytes()).hexdigest())
    return hashes, shape, dtype


def output_tiles(out: Path, shape: tuple[int, int], dtype: np.dtype) -> set[str]:
    """Hashes of every 2-D plane, and of every aligned ``shape`` tile, of level 0 arrays."""
    import zarr

    found: set[str] = set()
    for meta in [*out.rglob(".zarray"), *out.rglob("zarr.json")]:
        if meta.parent.name != "0":
            continue
        try:
            array = zarr.open_array(str(meta.parent), mode="r")
        except Exception:  # a group's zarr.json, or not an array
            continue
        if array.ndim < 2 or array.dtype.kind not in "ui":
            continue
        data = array[...]
        height, width = shape
        for plane in data.reshape(-1, *data.shape[-2:]):
            if plane.max(initial=0) > np.iinfo(dtype).max:
                continue
            plane = plane.astype(dtype)
            if plane.shape[0] % height or plane.shape[1] % width:
                continue
            for y in range(0, plane.shape[0], height):
                for x in range(0, plane.shape[1], width):
                    tile = np.ascontiguousarray(plane[y : y + height, x : x + width])
                    found.add(hashlib.sha1(tile.tobytes()).hexdigest())
    return found


def measure(kind: str, plate: Path, converter: str, python: Path, option: str, work: Path) -> Run:
    out = work / f"{converter}-{option}.zarr"
    result = convert(python, converter, plate, out, option)
    files = [p for p in out.rglob("*") if p.is_file()]
    hashes, shape, dtype = source_planes(plate)
    tiles = output_tiles(out, shape, dtype)
    missing = sum(h not in tiles for h in hashes)
    pixels = "all planes equal" if not missing else f"{missing} of {len(hashes)} planes not found"
    run = Run(
        kind,
        converter,
        option,
        result["wall"],
        result["peak_mb"],
        sum(p.stat().st_size for p in files) / 1e6,
        len(files),
        pixels,
    )
    shutil.rmtree(out, ignore_errors=True)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wells", type=int, default=24, help="wells per plate (24)")
    parser.add_argument("--sites", type=int, default=4, help="sites per well (4)")
    parser.add_argument("--channels", type=int, default=2, help="channels (2)")
    parser.add_argument("--size", type=int, default=1024, help="image side (1024)")
    parser.add_argument("--quick", action="store_true", help="4 wells x 2 sites of 512x512")
    parser.add_argument(
        "--peers-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "platekit-bench-peers",
        help="where the peers' environments are kept",
    )
    parser.add_argument("--rst", type=Path, help="write the results as reST to this file")
    parser.add_argument("--fail-on-miss", action="store_true", help="exit 1 when a target misses")
    args, _ = parser.parse_known_args(argv)
    if args.quick:
        args.wells, args.sites, args.size = 4, 2, 512

    from platekit.microscopes.testing import write_plate

    wells = [f"{chr(ord('A') + n // 12)}{n % 12 + 1:02d}" for n in range(args.wells)]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="platekit-peers-bench-") as tmp:
        work = Path(tmp)
        for kind, options, peers in PLATES:
            plate = write_plate(
                kind,
                work / "bench_Plate_1",
                wells=wells,
                sites=args.sites,
                channels=args.channels,
                shape=(args.size, args.size),
                **options,
            )
            for workers in ("1", "2"):
                runs.append(measure(kind, plate, "platekit", Path(sys.executable), workers, work))
                print(runs[-1], flush=True)
            for converter, env, choices in peers:
                python = environment(args.peers_dir, env)
                for option in choices:
                    try:
                        runs.append(measure(kind, plate, converter, python, option, work))
                    except RuntimeError as exc:
                        runs.append(Run(kind, converter, option, 0, 0, 0, 0, f"refused: {exc}"))
                    print(runs[-1], flush=True)
            shutil.rmtree(work / "bench_Plate_1")

    lines, verdicts = report(runs, kind_of=[kind for kind, _, _ in PLATES])
    print("\n".join([*lines, "", *verdicts]))
    if args.rst is not None:
        write_rst(args, runs, verdicts)
    return 1 if args.fail_on_miss and any(v.startswith("FAIL") for v in verdicts) else 0


def report(runs: list[Run], kind_of: list[str]) -> tuple[list[str], list[str]]:
    lines, verdicts = [], []
    for n in range(0, len(runs)):
        run = runs[n]
        base = next(r for r in runs[: n + 1][::-1] if r.converter == "platekit" and r.option == "1")
        ratio = run.wall / base.wall if base.wall and run.wall else float("nan")
        lines.append(
            f"{run.converter:<20} {run.option:<8} {run.wall:7.2f} s {run.peak_mb:7.0f} MB "
            f"{run.size_mb:8.1f} MB {run.files:6d} files {ratio:5.2f}x  {run.pixels}"
        )
    groups: list[list[Run]] = []
    for run in runs:
        if run.converter == "platekit" and run.option == "1":
            groups.append([])
        groups[-1].append(run)
    for kind, group in zip(kind_of, groups, strict=False):
        ours = [r for r in group if r.converter == "platekit"]
        peers = [r for r in group if r.converter != "platekit" and r.wall]
        if not peers:
            continue
        for mine in ours:
            met = all(mine.wall < p.wall and mine.size_mb <= p.size_mb for p in peers)
            verdicts.append(
                f"{'PASS' if met else 'FAIL'}  {kind}: platekit with "
                f"{mine.option} worker(s) faster than every peer at equal or smaller output"
            )
        lowest = min(p.peak_mb for p in peers)
        peak = max(r.peak_mb for r in ours)
        verdicts.append(
            f"{'PASS' if peak <= lowest / 2 else 'FAIL'}  {kind}: platekit's peak memory "
            f"{peak:.0f} MB at most half the lowest peer's ({lowest:.0f} MB)"
        )
    return lines, verdicts


def write_rst(args: argparse.Namespace, runs: list[Run], verdicts: list[str]) -> None:
    headers = ["plate", "converter", "option", "wall s", "peak MB", "output MB", "files", "pixels"]
    table = list_table(
        headers,
        (
            [
                run.plate,
                run.converter,
                run.option,
                f"{run.wall:.2f}",
                f"{run.peak_mb:.0f}",
                f"{run.size_mb:.1f}",
                run.files,
                run.pixels,
            ]
            for run in runs
        ),
    )
    text = [
        "Peers",
        "-----",
        "",
        ".. Written by tests_integration/bench/peers_bench.py; run the bench session again",
        "   rather than editing this file.",
        "",
        (__doc__ or "").split("\n\n")[3].replace("\n", " "),
        "",
        f"{args.wells} wells x {args.sites} sites x {args.channels} channels of "
        f"{args.size}x{args.size} uint16 per plate; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {datetime.date.today().isoformat()}. For platekit the "
        "option is the number of workers; for a peer, its codec.",
        "",
        *table,
        "",
        *(f"* {line}" for line in verdicts),
        "",
    ]
    args.rst.parent.mkdir(parents=True, exist_ok=True)
    args.rst.write_text("\n".join(text), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
