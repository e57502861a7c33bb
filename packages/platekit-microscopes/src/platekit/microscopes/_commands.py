"""The commands platekit-microscopes adds: ``platekit convert``, ``inspect`` and ``demo``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TypeVar

from platekit.registry._command import Command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from platekit.microscopes._convert import ConversionResult
    from platekit.microscopes._plate import Plate
    from platekit.microscopes._progress import ProgressPrinter

T = TypeVar("T")


def _fail(error: BaseException | str) -> int:
    """Print ``error`` as one line and return the exit code 1.

    A ``KeyError``'s message is its argument (``str()`` would quote it).
    """
    if isinstance(error, KeyError) and error.args:
        error = str(error.args[0])
    print(f"platekit: {error}", file=sys.stderr)
    return 1


def conversion_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options ``platekit convert`` passes to every conversion, from its parsed arguments."""
    return {
        "ngff": args.ngff,
        "levels": args.levels,
        "workers": args.workers,
        "executor": args.executor,
        "scheduler": args.scheduler,
        "overwrite": args.overwrite,
        "skip_bad_planes": args.skip_bad_planes,
        "storage_options": dict(args.storage_options) or None,
    }


def run_with_progress(
    run: Callable[[ProgressPrinter | None], T],
    *,
    quiet: bool,
    errors: tuple[type[BaseException], ...],
    interrupted: str,
) -> tuple[T | None, int]:
    """Call ``run(printer)`` with a progress display on stderr (none when ``quiet``).

    Returns its result and 0; or None and 1 after one line for an exception in
    ``errors``, or None and 130 after ``interrupted`` on Ctrl-C. The display is
    closed before anything is printed. Other exceptions propagate.
    """
    from platekit.microscopes._progress import ProgressPrinter

    caught: tuple[type[BaseException], ...] = (*errors, KeyboardInterrupt)
    printer = None if quiet else ProgressPrinter(sys.stderr)
    try:
        result = run(printer)
    except caught as exc:
        if printer is not None:
            printer.close()
        if isinstance(exc, KeyboardInterrupt):
            print(f"platekit: {interrupted}", file=sys.stderr)
            return None, 130
        return None, _fail(exc)
    if printer is not None:
        printer.close()
    return result, 0


def _option_pair(text: str) -> tuple[str, object]:
    """``key=value`` of ``--storage-option``; ``true``/``false`` become booleans."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(
            f"{text.split('=')[0]!r} is not KEY=VALUE; give a storage option such as "
            "endpoint_url=http://host:9000 or anon=true"
        )
    lowered = value.strip().lower()
    return key.strip(), {"true": True, "false": False}.get(lowered, value)


def _add_storage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-option",
        dest="storage_options",
        type=_option_pair,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an fsspec option for a plate at a URL (s3://...), e.g. endpoint_url=..., "
        "anon=true, profile=...; repeatable. Credentials otherwise come from the environment "
        "and ~/.aws",
    )


class ConvertCommand(Command):
    name = "convert"
    help = "convert a plate (ImageXpress, Opera Phenix, CellVoyager, OME-Zarr) to OME-Zarr"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.usage = (
            "platekit convert [options] PLATE OUT.zarr\n"
            "       platekit convert [options] PLATE PLATE... OUT_FOLDER\n"
            "       platekit convert [options] --example KIND OUT.zarr"
        )
        parser.description = (
            "Convert the plate in folder PLATE to the OME-Zarr HCS plate OUT.zarr (NGFF 0.5 on "
            "Zarr v3 by default); given several plates, convert each into OUT_FOLDER/NAME.zarr, "
            "NAME being its folder's name, in one run. An interrupted conversion resumes when run "
            "again with the same arguments; the source plates are only read."
        )
        parser.add_argument("paths", nargs="+", metavar="PLATE OUT.zarr", help=argparse.SUPPRESS)
        parser.add_argument(
            "--microscope",
            default="auto",
            metavar="KIND",
            help="the plate's format (default: detected from its files; see 'platekit registries')",
        )
        parser.add_argument(
            "--ngff",
            choices=["0.5", "0.4"],
            default="0.5",
            help="OME-NGFF version: 0.5 on Zarr v3 (default) or 0.4 on Zarr v2",
        )
        parser.add_argument(
            "--levels",
            type=int,
            default=1,
            metavar="N",
            help="resolution levels, each 2x smaller in y and x (default 1)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            metavar="N",
            help=(
                "processes converting wells in parallel (default 1); with --executor dask, the "
                "workers of the LocalCluster it starts"
            ),
        )
        parser.add_argument(
            "--executor",
            default="processes",
            metavar="NAME",
            help=(
                "what converts the wells: processes (default) or dask (Dask distributed, the "
                "dask extra); see 'platekit registries'"
            ),
        )
        parser.add_argument(
            "--scheduler",
            metavar="ADDRESS",
            help=(
                "with --executor dask: the scheduler of an existing cluster, tcp://HOST:8786 "
                "(default: a LocalCluster started and stopped for the run)"
            ),
        )
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help=(
                "replace the Zarr store at OUT.zarr, whatever it holds, and convert from scratch; "
                "a folder that is not a Zarr store is never removed"
            ),
        )
        parser.add_argument(
            "--skip-bad-planes",
            action="store_true",
            help="write unreadable or mismatched planes as absent and list them at the end",
        )
        parser.add_argument(
            "--projections",
            action="store_true",
            help="convert the Z series' projections (MetaXpress ZStep_0) instead of the Z stack",
        )
        parser.add_argument(
            "--stream-to",
            metavar="ADDRESS",
            help="show each well, as it is written, in the viewer at this data address (the one "
            "'platekit view' prints; needs platekit-zmq); one plate only",
        )
        parser.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
        _add_storage_option(parser)
        parser.add_argument(
            "--example",
            metavar="KIND",
            help="convert a small synthetic plate of format KIND instead of PLATE",
        )

    def run(self, args: argparse.Namespace) -> int:
        if len(args.paths) != 1 if args.example else len(args.paths) < 2:
            shown = "OUT.zarr" if args.example else "PLATE and OUT.zarr, or PLATE... OUT_FOLDER"
            return _fail(f"convert takes {shown}, got {' '.join(args.paths)}")
        if not args.example and len(args.paths) > 2:
            if args.stream_to:
                return _fail("--stream-to shows the conversion of one plate; give one PLATE")
            from platekit.microscopes._screen_report import convert_screen_and_report

            return convert_screen_and_report(args.paths[:-1], args.paths[-1], args)
        if not args.example:
            return _open_and_convert(args.paths[0], args)
        from platekit.microscopes.testing import writers

        if args.example not in writers():
            return _fail(
                f"--example {args.example!r} is not a kind of synthetic plate; choose one of "
                f"{', '.join(writers())}"
            )
        folder = _temporary_folder("platekit-example-")
        code = 1
        try:
            source = _example(args.example, folder)
            if not args.quiet:
                print(f"wrote a synthetic {args.example} plate to {source}")
            code = _open_and_convert(str(source), args)
        except KeyboardInterrupt:
            return _interrupted()
        finally:
            # A failed run leaves nothing behind; a finished one keeps its plate and says where.
            if code != 0:
                _remove(folder)
        if code == 0 and not args.quiet:
            print(_stays(folder))
        return code


def _open_and_convert(source: str, args: argparse.Namespace) -> int:
    """Open the plate, print its notices, and convert it with the command's options."""
    from platekit.microscopes._errors import PlateError
    from platekit.microscopes._plate import open_plate

    try:
        plate = open_plate(
            source,
            args.microscope,
            projections=args.projections,
            storage_options=dict(getattr(args, "storage_options", None) or []),
        )
    except (PlateError, OSError, KeyError, ValueError, ImportError) as exc:
        return _fail(exc)
    if not args.quiet:
        for notice in plate.metadata.notices:
            print(f"note: {notice}")
    return convert_and_report(
        plate,
        args.paths[-1],
        **conversion_options(args),
        quiet=args.quiet,
        stream_to=args.stream_to,
    )


def _interrupted() -> int:
    """Ctrl-C before or after the conversion itself: nothing to resume, so only say it."""
    print("platekit: interrupted", file=sys.stderr)
    return 130


def _temporary_folder(prefix: str) -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix=prefix))


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _stays(folder: Path) -> str:
    """The sentence saying that ``folder``, made in the temporary directory, is kept."""
    import shlex

    return (
        f"the temporary folder {folder} stays; when you are done with it, remove it with: "
        f"rm -r {shlex.quote(str(folder))}"
    )


#: What the demo writes in its folder: the synthetic plate and its conversion.
DEMO_NAMES = ("ExamplePlate", "ExamplePlate.zarr")


def _example(kind: str, folder: Path) -> Path:
    from platekit.microscopes.testing import write_plate

    return write_plate(
        kind,
        folder / DEMO_NAMES[0],
        wells=["A01", "A02", "B01", "B02"],
        sites=4,
        channels=2,
        shape=(256, 256),
    )


def convert_and_report(source: str | Plate, out: str, *, quiet: bool, **options: object) -> int:
    """Run a conversion with a progress display and print what it did; the exit code."""
    from platekit.microscopes._convert import ConversionCancelled, OutputNotWritableError, convert
    from platekit.microscopes._errors import PlateError
    from platekit.microscopes._plan import WorkerLostError
    from platekit.microscopes._progress import duration

    result, code = run_with_progress(
        lambda printer: convert(source, out, progress=printer, **options),  # type: ignore[arg-type]
        quiet=quiet,
        errors=(
            PlateError,
            FileExistsError,
            FileNotFoundError,
            NotADirectoryError,
            ValueError,
            KeyError,
            ImportError,
            ConnectionError,
            ConversionCancelled,
            OutputNotWritableError,
            WorkerLostError,
            OSError,  # an object store that does not answer, and other I/O the message names
        ),
        interrupted="interrupted; run the same command again to finish the conversion",
    )
    if result is None:
        return code
    if not quiet:
        _print_result(result, duration)
    return 0


def _print_result(result: ConversionResult, duration: object) -> None:
    if result.already_complete:
        print(f"{result.out} is already a complete conversion of this plate; nothing to do")
    else:
        resumed = result.wells_total - result.wells_converted
        note = f" ({resumed} wells were already done)" if resumed else ""
        print(
            f"converted {result.wells_converted} wells, {result.planes_written} planes, "
            f"to {result.out} (OME-NGFF {result.ngff}) in {duration(result.seconds)}{note}"  # type: ignore[operator]
        )
    if result.missing:
        print(
            f"{len(result.missing)} planes listed by the plate's metadata are missing from it "
            "and were written as absent (zeros):"
        )
        for absent in result.missing[:20]:
            print(f"  {absent.plane}")
        if len(result.missing) > 20:
            print(
                f"  ... and {len(result.missing) - 20} more (see the output's platekit attributes)"
            )
    if result.not_acquired:
        print(
            f"{len(result.not_acquired)} places in the arrays have no plane in the plate (a 2-D "
            "channel in a z-stack, a well with fewer fields) and hold zeros"
        )
    if result.bad:
        print(f"{len(result.bad)} planes could not be used and were written as absent (zeros):")
        for absent in result.bad:
            print(f"  {absent.plane}: {absent.reason}")


class InspectCommand(Command):
    name = "inspect"
    help = "say what a plate folder is: its format, wells, sites, channels and what is missing"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.description = (
            "Detect the plate's format and print its metadata: plate format, wells, sites, "
            "channels, z planes, time points, pixel size, planes missing from the folder, and "
            "whether the compression of its image files can be decoded (exit 1 when not)."
        )
        parser.add_argument(
            "plate", metavar="PLATE", help="the plate's folder, or its URL (s3://bucket/plate)"
        )
        _add_storage_option(parser)
        parser.add_argument(
            "--microscope",
            default="auto",
            metavar="KIND",
            help="the plate's format (default: detected)",
        )
        parser.add_argument(
            "--projections",
            action="store_true",
            help="read the Z series' projections (MetaXpress ZStep_0) instead of the Z stack",
        )
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")
        parser.add_argument(
            "--overview",
            metavar="PNG",
            help="also write a picture of the whole plate, a thumbnail per well, to the file PNG "
            "(needs platekit-microscopes[overview])",
        )
        parser.add_argument("--field", type=int, metavar="N", help="the overview's field (first)")
        parser.add_argument(
            "--channel",
            type=int,
            action="append",
            metavar="N",
            help="a channel in the overview; repeat for more (default: all, in their colours)",
        )
        parser.add_argument(
            "--contrast",
            type=_percentiles,
            metavar="LOW,HIGH",
            help="the overview's contrast: percentiles of each channel over the plate (1,99.5)",
        )

    def run(self, args: argparse.Namespace) -> int:
        from platekit.microscopes._codecs import check_compressions
        from platekit.microscopes._errors import PlateError
        from platekit.microscopes._plate import open_plate

        if not args.overview and (args.field is not None or args.channel or args.contrast):
            return _fail("--field, --channel and --contrast shape the overview; add --overview PNG")
        try:
            plate = open_plate(
                args.plate,
                args.microscope,
                projections=args.projections,
                storage_options=dict(args.storage_options),
            )
        except (PlateError, OSError, KeyError, ValueError, ImportError) as exc:
            return _fail(exc)
        checks = check_compressions(plate)
        if args.json:
            import json

            summary = plate_summary(plate)
            summary["compressions"] = [
                {"compression": c.compression, "file": c.path, "error": c.error} for c in checks
            ]
            print(json.dumps(summary, indent=2))
        else:
            print_plate(plate)
            for check in checks:
                state = "decodable" if check.decodable else "cannot be decoded here"
                print(f"  compression    {check.compression} ({state})")
        if args.overview:
            code = _write_overview(plate, args)
            if code:
                return code
        # A plate whose files cannot be decoded here is not fine, whatever its metadata says.
        errors = [check.error for check in checks if check.error is not None]
        for error in errors:
            _fail(error)
        return 1 if errors else 0


def _percentiles(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not two percentiles; give LOW,HIGH such as 1,99.5"
        ) from None
    return low, high


def _write_overview(plate: Plate, args: argparse.Namespace) -> int:
    """Write the overview ``inspect --overview`` asks for and say how long it took."""
    from platekit.microscopes._overview import DEFAULT_PERCENTILES, write_overview

    try:
        said = write_overview(
            plate,
            args.overview,
            field=args.field,
            channels=args.channel,
            percentiles=args.contrast or DEFAULT_PERCENTILES,
        )
    except (ImportError, ValueError, OSError) as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        return _interrupted()
    print(said, file=sys.stderr if args.json else sys.stdout)
    return 0


def plate_summary(plate: Plate) -> dict[str, object]:
    """A plate's metadata as JSON data, for ``platekit inspect --json``."""
    meta = plate.metadata
    return {
        "path": str(plate.path),
        "microscope": plate.microscope,
        "name": meta.name,
        "plate_format": [meta.rows, meta.columns],
        "wells": meta.wells,
        "sites": meta.sites,
        "grid": list(meta.grid) if meta.grid else None,
        "channels": [
            {
                "id": c.id,
                "name": c.name,
                "excitation_nm": c.excitation_nm,
                "emission_nm": c.emission_nm,
            }
            for c in meta.channels.values()
        ],
        "z_count": meta.z_count,
        "t_count": meta.t_count,
        "pixel_size_um": meta.pixel_size_um,
        "z_step_um": meta.z_step_um,
        "image_shape": list(meta.image_shape) if meta.image_shape else None,
        "dtype": meta.dtype,
        "planes": sum(1 for _ in plate.planes()),
        "missing": [str(key) for key in plate.missing()],
        "notices": list(meta.notices),
    }


def print_plate(plate: Plate) -> None:
    meta = plate.metadata
    summary = plate_summary(plate)
    print(f"{plate.path}: {plate.handler.display_name or plate.microscope} plate {meta.name!r}")
    print(f"  plate format   {meta.rows} x {meta.columns} ({meta.rows * meta.columns} wells)")
    shown = ", ".join(meta.wells[:12]) + (", ..." if len(meta.wells) > 12 else "")
    print(f"  wells          {len(meta.wells)}: {shown}")
    grid = f" on a {meta.grid[0]} x {meta.grid[1]} grid" if meta.grid else ""
    print(f"  sites          {meta.site_count}{grid}")
    for channel in meta.channels.values():
        waves = ""
        if channel.excitation_nm or channel.emission_nm:
            waves = f" (ex {channel.excitation_nm or '?'} nm, em {channel.emission_nm or '?'} nm)"
        print(f"  channel {channel.id:<6} {channel.name}{waves}")
    print(
        f"  z planes       {meta.z_count}"
        + (f", {meta.z_step_um} µm apart" if meta.z_step_um else "")
    )
    print(f"  time points    {meta.t_count}")
    size = f"{meta.pixel_size_um} µm" if meta.pixel_size_um else "not recorded"
    print(f"  pixel size     {size}")
    if meta.image_shape:
        print(f"  images         {meta.image_shape[0]} x {meta.image_shape[1]} {meta.dtype}")
    print(f"  planes         {summary['planes']} present, {len(plate.missing())} missing")
    for key in plate.missing()[:10]:
        print(f"    missing: {key}")
    for notice in meta.notices:
        print(f"  note: {notice}")


class DemoCommand(Command):
    name = "demo"
    help = "write a small synthetic plate and convert it to OME-Zarr, saying what it does"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.description = (
            "Write a small synthetic plate (real vendor file names, metadata and TIFFs) into a "
            "new folder, show what platekit reads in it, and convert it to OME-Zarr."
        )
        parser.add_argument(
            "folder",
            nargs="?",
            metavar="FOLDER",
            help="where to write the plate and its conversion (default: a new temporary folder)",
        )
        parser.add_argument(
            "--microscope",
            default="imagexpress",
            metavar="KIND",
            help="the format of the synthetic plate (default: imagexpress)",
        )

    def run(self, args: argparse.Namespace) -> int:
        from platekit.microscopes.testing import writers

        if args.microscope not in writers():
            return _fail(
                f"no synthetic plate writer for {args.microscope!r}; choose one of "
                f"{', '.join(writers())}"
            )
        if args.folder:
            folder = Path(args.folder)
            made = not folder.exists()
            # What a demo writes never replaces what is there: an earlier demo's or the user's.
            taken = [name for name in DEMO_NAMES if os.path.lexists(folder / name)]
            if taken:
                return _fail(
                    f"{str(folder / taken[0])!r} exists already, and the demo writes "
                    f"{' and '.join(DEMO_NAMES)} in {args.folder!r}; give another folder, or "
                    "remove it first"
                )
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                return _fail(f"cannot make the demo folder {args.folder!r} ({exc}); choose another")
        else:
            folder, made = _temporary_folder("platekit-demo-"), True
        code = 1
        try:
            code = _demo(args.microscope, folder)
        except KeyboardInterrupt:
            return _interrupted()
        finally:
            # A failed demo leaves nothing behind that it made.
            if code != 0 and made:
                _remove(folder)
            elif code != 0:
                for name in DEMO_NAMES:  # none was there before
                    _remove(folder / name)
        if code == 0 and not args.folder:
            print(_stays(folder))
        return code


def _demo(kind: str, folder: Path) -> int:
    from platekit.microscopes._plate import open_plate

    source = _example(kind, folder)
    print(f"1. wrote a synthetic {kind} plate to {source}")
    plate = open_plate(source)
    print(f"2. platekit detected it as {plate.microscope!r} and read:")
    print_plate(plate)
    out = folder / DEMO_NAMES[1]
    print(f"3. converting it to {out}")
    code = convert_and_report(plate, str(out), quiet=False, overwrite=True)
    if code == 0:
        print(
            "4. open it with any OME-Zarr reader, e.g.\n"
            '     python -c "import zarr; '
            f"print(zarr.open_group('{out}').attrs['ome']['plate']['wells'])\""
        )
    return code
