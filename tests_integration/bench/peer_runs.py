"""One conversion, run in a process of its own: by platekit, or by a peer in its own environment.

    python peer_runs.py CONVERTER PLATE OUT [OPTION]

CONVERTER is ``platekit`` (OPTION: workers), ``fractal-operetta``,
``fractal-cellvoyager`` or ``faim-metaxpress`` (OPTION: ``default`` or
``matched``, the peer's codec or platekit's). Prints one JSON line: wall
seconds of the conversion (imports excluded) and the peak resident memory
of the largest process (this one or any of its workers), in MB.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

#: platekit's default codec, as numcodecs' Blosc takes it.
MATCHED = {"cname": "lz4", "clevel": 5, "shuffle": 1}


def platekit(plate: str, out: str, option: str) -> float:
    from platekit.microscopes import convert

    started = time.perf_counter()
    convert(plate, out, workers=int(option))
    return time.perf_counter() - started


def fractal(kind: str, plate: str, out: str, option: str) -> float:
    # fractal-uzh-converters writes Blosc LZ4 at level 5 with byte shuffle, platekit's
    # default, so its default is already the matched codec.
    Path(out).mkdir(parents=True)
    if kind == "operetta":
        from fractal_uzh_converters.operetta._utils import OperettaAcquisitionModel as Model
        from fractal_uzh_converters.operetta.api import convert_operetta as run
    else:
        from fractal_uzh_converters.cellvoyager._utils import (
            CellVoyagerAcquisitionModel as Model,
        )
        from fractal_uzh_converters.cellvoyager.api import convert_cellvoyager as run
    started = time.perf_counter()
    run(zarr_dir=out, acquisitions=[Model(path=plate)])
    return time.perf_counter() - started


def faim(plate: str, out: str, option: str) -> float:
    from distributed import Client, LocalCluster
    from faim_ipa.hcs.acquisition import TileAlignmentOptions
    from faim_ipa.hcs.converter import ConvertToNGFFPlate, NGFFPlate
    from faim_ipa.hcs.imagexpress import SinglePlaneAcquisition
    from faim_ipa.hcs.plate import PlateLayout
    from numcodecs import Blosc

    if option == "matched":
        defaults = ConvertToNGFFPlate._get_storage_options

        def matched(storage_options, output_shape, chunks):  # type: ignore[no-untyped-def]
            options = defaults(storage_options, output_shape, chunks)
            return {**options, "compressor": Blosc(**MATCHED)}

        ConvertToNGFFPlate._get_storage_options = staticmethod(matched)
    Path(out).mkdir(parents=True)
    # faim-ipa's converter needs a Dask client; one worker thread, in this process.
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with Client(cluster) as client:
        started = time.perf_counter()
        acquisition = SinglePlaneAcquisition(plate, alignment=TileAlignmentOptions.GRID)
        converter = ConvertToNGFFPlate(
            NGFFPlate(
                root_dir=out, name="plate", layout=PlateLayout.I96, order_name="o", barcode="b"
            ),
            client=client,
        )
        converter.run(plate=converter.create_zarr_plate(acquisition), plate_acquisition=acquisition)
        return time.perf_counter() - started


def main() -> None:
    converter, plate, out, option = sys.argv[1:5]
    if converter == "platekit":
        wall = platekit(plate, out, option)
    elif converter.startswith("fractal-"):
        wall = fractal(converter.removeprefix("fractal-"), plate, out, option)
    else:
        wall = faim(plate, out, option)
    peak_kb = max(own_peak_kb(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"wall": wall, "peak_mb": peak_kb / 1024}))


def own_peak_kb() -> int:
    """This process's peak resident memory since it started.

    Read from /proc (VmHWM), since Linux carries ``ru_maxrss`` across exec:
    it would count the benchmark's own memory, which forked this process.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    main()
