"""``platekit convert PLATE PLATE... OUT_FOLDER``: many plates in one run, and its summary."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from platekit.microscopes._plan import ScreenResult


def convert_screen_and_report(plates: list[str], out: str, args: argparse.Namespace) -> int:
    """Convert ``plates`` into the folder ``out`` with a progress display; the exit code.

    Exits 1 when a plate failed (each is named with why, the others were
    converted), 130 on Ctrl-C, and 1 with one line for what stops the whole run.
    """
    from platekit.microscopes._commands import conversion_options, run_with_progress
    from platekit.microscopes._convert import convert_screen
    from platekit.microscopes._plan import ConversionCancelled, WorkerLostError

    result, code = run_with_progress(
        lambda printer: convert_screen(
            plates,
            out,
            microscope=args.microscope,
            **conversion_options(args),
            projections=args.projections,
            progress=printer,
        ),
        quiet=args.quiet,
        errors=(OSError, ValueError, KeyError, ImportError, ConversionCancelled, WorkerLostError),
        interrupted="interrupted; run the same command again to finish the conversions",
    )
    if result is None:
        return code
    if not args.quiet:
        print(summary(result))
    for plate, why in result.failed.items():
        print(f"platekit: {plate} failed: {why}", file=sys.stderr)
    if result.failed:
        print(
            f"platekit: {len(result.failed)} of {len(result.failed) + len(result.converted)} "
            "plates failed; the others are converted. Run the same command again to retry the "
            "failed ones (nothing done is redone)",
            file=sys.stderr,
        )
    return 1 if result.failed else 0


def summary(result: ScreenResult) -> str:
    """``"converted 3 plates (24 wells, 96 planes, 0.8 MB) into out/ in 0:04; ..."``."""
    from platekit.microscopes._progress import duration

    done = [r for r in result.converted if not r.already_complete]
    complete = len(result.converted) - len(done)
    wells = sum(r.wells_converted for r in done)
    text = (
        f"converted {len(done)} plates ({wells} wells, {result.planes_written} planes, "
        f"{result.bytes_written / 1e6:.1f} MB) into {result.out} in {duration(result.seconds)}"
    )
    if complete:
        text += f"; {complete} were complete already"
    absent = sum(len(r.absent) for r in result.converted)
    if absent:
        text += f"; {absent} planes written as absent (see each plate's platekit attributes)"
    return text
