"""Converting plates to OME-Zarr HCS plates: one, or a screen of many in one run; resumable.

The output is written through platekit-storage's zarr backend, which
publishes every array atomically. A well is complete once its ``well``
metadata is written, and that is written last, after all its fields; the
plate's own metadata is written when every well is complete. So a
conversion killed at any moment leaves complete wells, at most one
half-written well per worker, and no plate metadata; run again with the
same arguments, it redoes the half-written wells and converts the rest.

The root group's ``platekit.conversion`` attribute records what is being
converted (the source plate, its structure, the options); a different
plate or other options into the same output are refused unless
``overwrite=True``. The wells are written by an executor (see
:mod:`._executor`): ``processes`` by default, ``dask`` on request.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path

# The outcome types and errors are importable from here, as they always were.
from platekit.microscopes._plan import (
    AbsentPlane,
    ConversionCancelled,
    ConversionResult,
    OutputNotWritableError,
    Progress,
    ScreenResult,
    WorkerLostError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from platekit.microscopes._executor import Executor
    from platekit.microscopes._object_output import StoreURL
    from platekit.microscopes._plan import Flag
    from platekit.microscopes._plate import Plate
    from platekit.microscopes._run import _Job

__all__ = [
    "AbsentPlane",
    "ConversionCancelled",
    "ConversionResult",
    "OutputNotWritableError",
    "Progress",
    "ScreenResult",
    "WorkerLostError",
    "convert",
    "convert_screen",
]


def convert(
    plate: str | os.PathLike[str] | Plate,
    out: str | os.PathLike[str],
    *,
    microscope: str = "auto",
    ngff: str = "0.5",
    levels: int = 1,
    workers: int | None = None,
    executor: str = "processes",
    scheduler: str | None = None,
    overwrite: bool = False,
    skip_bad_planes: bool = False,
    progress: Callable[[Progress], None] | None = None,
    cancel: Flag | None = None,
    stream_to: str | None = None,
    storage_options: dict[str, object] | None = None,
) -> ConversionResult:
    """Convert the plate in folder ``plate`` to the OME-Zarr HCS plate ``out`` (a ``.zarr`` path).

    ``plate`` and ``out`` may be URLs (``s3://bucket/out.zarr``), read and
    written with fsspec's ``storage_options`` (credentials otherwise from the
    environment and ``~/.aws``); they never appear in errors, logs or the output.

    ``ngff`` is ``"0.5"`` (Zarr v3) or ``"0.4"`` (Zarr v2); ``levels`` the
    number of resolution levels, each 2x smaller in y and x. ``executor``
    names what writes the wells (``"processes"``, the default, or
    ``"dask"``, or a third party's); ``workers`` the number of its processes,
    each converting whole wells (default 1; for ``dask``, the workers of the
    ``LocalCluster`` it starts); ``scheduler`` the address of an existing
    Dask scheduler (``"tcp://host:8786"``, for ``dask`` only). ``progress``
    is called with a :class:`Progress` as planes are written; ``cancel``
    (anything with ``is_set()``, e.g. a ``threading.Event``) stops the
    conversion between planes, raising :class:`ConversionCancelled` and
    leaving the output resumable. ``stream_to`` is the data address of a
    viewer (``platekit view``) to show each well in as it is written, on a
    thread that drops wells rather than hold the conversion back.

    Running again with the same arguments after an interruption converts
    only the wells not yet complete; running it on a complete output does
    nothing (``already_complete``). The source plate is only read. Every
    executor writes the same output, byte for byte.

    Raises ``FileExistsError`` when ``out`` holds another conversion or
    something else, unless ``overwrite=True`` (which replaces a Zarr store,
    never another kind of folder), and when another conversion is writing
    into ``out``; ``PermissionError`` when ``out`` cannot be written;
    :class:`~platekit.microscopes.BadPlaneError` naming the file for an
    unreadable, truncated or mismatched plane, unless ``skip_bad_planes=True``
    (then such planes are written as absent and listed in the result);
    ``ValueError`` for bad options, among them an output inside the source
    or holding it; ``KeyError`` for an unknown executor, ``ImportError``
    for one whose extra is not installed and ``ConnectionError`` for a
    scheduler that does not answer, before anything is written;
    :class:`~platekit.microscopes.PlateError` for a plate without planes;
    and what :func:`~platekit.microscopes.open_plate` raises for the source.
    """
    from platekit.microscopes._object_output import out_location
    from platekit.microscopes._plan import check_out, identity, make_plan
    from platekit.microscopes._plate import Plate, open_plate
    from platekit.microscopes._run import _Job, run_jobs
    from platekit.microscopes._stream_wells import WellStream
    from platekit.microscopes.executors.processes import end_if_starting_worker

    end_if_starting_worker()
    started = time.perf_counter()
    _check_options(ngff, levels)
    runner = _executor(executor, workers, scheduler)
    # Entered first: a cluster the executor starts comes up while the plate is opened and planned.
    with runner:
        source = (
            plate
            if isinstance(plate, Plate)
            else open_plate(plate, microscope, storage_options=storage_options)
        )
        out_path = check_out(out_location(out), source.path)
        plan = make_plan(source, out_path, ngff, levels, skip_bad_planes)
        plan.out_options = storage_options
        job = _Job(source, plan, identity(source, plan))
        stream = WellStream(stream_to) if stream_to else None
        try:
            job.prepare(overwrite)
            try:
                if job.state == "complete":
                    job.finish(started)
                else:
                    if stream is not None:
                        stream.start(job)
                        progress = stream.watch(progress)
                    run_jobs(
                        [job],
                        runner,
                        stop_on_error=True,
                        progress=progress,
                        cancel=cancel,
                        started=started,
                    )
            finally:
                if stream is not None:
                    stream.close()
                job.release()
        except PermissionError as exc:
            raise _not_writable(out_path, exc) from exc
    assert job.result is not None
    return job.result


def convert_screen(
    plates: Iterable[str | os.PathLike[str] | Plate],
    out: str | os.PathLike[str],
    *,
    microscope: str = "auto",
    ngff: str = "0.5",
    levels: int = 1,
    workers: int | None = None,
    executor: str = "processes",
    scheduler: str | None = None,
    overwrite: bool = False,
    skip_bad_planes: bool = False,
    projections: bool = False,
    progress: Callable[[Progress], None] | None = None,
    cancel: Flag | None = None,
    storage_options: dict[str, object] | None = None,
) -> ScreenResult:
    """Convert many plates in one run, into the folder ``out``: one ``NAME.zarr`` per plate.

    ``NAME`` is the plate folder's name (without a ``.zarr`` it may end in).
    The wells of every plate are one set of tasks on one executor; each
    plate's metadata is written when its last well is. A plate that cannot
    be opened, whose output is refused, or whose well fails is listed in
    :attr:`ScreenResult.failed` with why, and the others are converted all
    the same. Running again with the same arguments resumes every plate;
    complete plates are not touched. The options are :func:`convert`'s,
    applied to every plate; ``projections`` is
    :func:`~platekit.microscopes.open_plate`'s. Plates and ``out`` may be
    URLs (``s3://bucket/screen``), read and written with fsspec's
    ``storage_options``, as :func:`convert` does.

    Raises ``TypeError`` when ``plates`` is one path rather than a list of
    them; ``ValueError`` before anything is done when two plates would have
    the same output name (rename one plate folder, or convert it on its
    own), when ``out`` ends in ``.zarr``, names a file or lies in one of the
    plates, and for bad options; ``FileNotFoundError`` when the bucket of an ``out`` URL does
    not exist and ``PermissionError`` without credentials for it;
    ``KeyError``, ``ImportError`` and ``ConnectionError`` for the executor
    as :func:`convert` does; :class:`ConversionCancelled` on a
    cancel, leaving every output resumable.
    """
    from platekit.microscopes._output import make_output_folder
    from platekit.microscopes._run import run_jobs
    from platekit.microscopes.executors.processes import end_if_starting_worker

    end_if_starting_worker()
    started = time.perf_counter()
    _check_options(ngff, levels)
    from platekit.microscopes._object_output import out_location

    if isinstance(plates, (str, bytes, os.PathLike)):
        # A string is iterable too, and would be taken for a plate per character.
        raise TypeError(
            f"convert_screen takes a list of plates, not the one plate {os.fsdecode(plates)!r}; "
            "pass [plate], or convert it with convert(plate, out)"
        )
    given = list(plates)
    folder = out_location(out)
    if not given:
        raise ValueError("convert_screen needs at least one plate")
    if folder.name.lower().endswith(".zarr") or (
        isinstance(folder, Path) and folder.exists() and not folder.is_dir()
    ):
        raise ValueError(
            f"the output {str(folder)!r} of many plates must be a folder (not one ending in "
            ".zarr): it receives one NAME.zarr per plate"
        )
    names = output_names(given)
    if isinstance(folder, Path):
        _refuse_folder_in_a_source(folder, given)
    else:
        from platekit.microscopes._object_output import check_bucket
        from platekit.microscopes._well_writer import backend_for

        # Every plate's output is in this bucket: a wrong one stops the run, not each plate.
        check_bucket(backend_for(ngff, str(folder), storage_options), folder)
    runner = _executor(executor, workers, scheduler)
    failed: dict[str, str] = {}
    ready: list[tuple[str, _Job]] = []
    # Entered first: a cluster the executor starts comes up while the plates are opened and
    # planned.
    with runner:
        jobs = _plan_jobs(
            given,
            names,
            folder,
            microscope,
            ngff,
            levels,
            skip_bad_planes,
            projections,
            storage_options,
            failed,
        )
        try:
            if jobs and isinstance(folder, Path):
                make_output_folder(folder)
            for label, job in jobs:
                try:
                    job.prepare(overwrite)
                except PermissionError as exc:
                    failed[label] = str(_not_writable(job.out, exc))
                except (OSError, ValueError) as exc:
                    failed[label] = str(exc)
                else:
                    ready.append((label, job))
            run_jobs(
                [job for _, job in ready],
                runner,
                stop_on_error=False,
                progress=progress,
                cancel=cancel,
                started=started,
            )
        finally:
            # Every plate's lock is let go, even when letting go of one fails.
            with ExitStack() as releases:
                for _, job in jobs:
                    releases.callback(job.release)
    converted = []
    for label, job in ready:
        if job.result is not None:
            converted.append(job.result)
        else:
            failed[label] = str(job.error or "its conversion did not finish")
    order = {label: index for index, label in enumerate(names)}
    return ScreenResult(
        out=folder,
        converted=converted,
        failed=dict(sorted(failed.items(), key=lambda item: order.get(item[0], 0))),
        seconds=time.perf_counter() - started,
        bytes_written=sum(
            job.result.planes_written * job.plane_bytes for _, job in ready if job.result
        ),
    )


def output_names(plates: list[str | os.PathLike[str] | Plate]) -> dict[str, str]:
    """Each plate (as given, in order) → the name of its output, ``NAME.zarr``.

    ``ValueError`` naming both plates when two would share a name (compared
    without case, as some file systems do).
    """
    names: dict[str, str] = {}
    seen: dict[str, str] = {}
    for plate in plates:
        label = _label(plate)
        name = Path(label).name
        if name.lower().endswith(".zarr"):
            name = name[: -len(".zarr")]
        name += ".zarr"
        other = seen.get(name.casefold())
        if other is not None or label in names:
            raise ValueError(
                f"the plates {other or label!r} and {label!r} would both be converted to "
                f"{name!r}; rename one plate folder, or convert it on its own"
            )
        seen[name.casefold()] = label
        names[label] = name
    return names


def _label(plate: str | os.PathLike[str] | Plate) -> str:
    from platekit.microscopes._plate import Plate

    return str(plate.path if isinstance(plate, Plate) else os.fspath(plate))


def _plan_jobs(
    plates: list[str | os.PathLike[str] | Plate],
    names: dict[str, str],
    folder: Path | StoreURL,
    microscope: str,
    ngff: str,
    levels: int,
    skip_bad_planes: bool,
    projections: bool,
    storage_options: dict[str, object] | None,
    failed: dict[str, str],
) -> list[tuple[str, _Job]]:
    """Open and plan every plate; one that cannot be goes to ``failed`` with why."""
    from platekit.microscopes._errors import PlateError
    from platekit.microscopes._plan import check_out, identity, make_plan
    from platekit.microscopes._plate import Plate, open_plate
    from platekit.microscopes._run import _Job

    jobs = []
    for plate in plates:
        label = _label(plate)
        try:
            source = (
                plate
                if isinstance(plate, Plate)
                else open_plate(
                    plate, microscope, projections=projections, storage_options=storage_options
                )
            )
            out = check_out(folder / names[label], source.path)
            plan = make_plan(source, out, ngff, levels, skip_bad_planes)
            plan.out_options = storage_options
        except (PlateError, OSError, KeyError, ValueError, ImportError) as exc:
            failed[label] = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            continue
        jobs.append((label, _Job(source, plan, identity(source, plan))))
    return jobs


def _refuse_folder_in_a_source(folder: Path, plates: list[str | os.PathLike[str] | Plate]) -> None:
    """``ValueError`` when ``folder`` is in a local source plate: each plate's output would be."""
    from platekit.microscopes._overlap import refuse_inside
    from platekit.microscopes._plate import Plate
    from platekit.storage.backends.fsspec import is_url, local_path

    for plate in plates:
        source = plate.path if isinstance(plate, Plate) else os.fspath(plate)
        if isinstance(source, (str, Path)) and not is_url(str(source)):
            refuse_inside(Path(local_path(source)), folder)


def _check_options(ngff: str, levels: int) -> None:
    from platekit.microscopes._ngff import check_version

    check_version(ngff)
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be a whole number of at least 1, got {levels!r}")


def _executor(name: str, workers: int | None, scheduler: str | None) -> Executor:
    from platekit.microscopes._executor import executor_for

    options: dict[str, object] = {}
    if workers is not None:
        options["workers"] = workers
    if scheduler is not None:
        options["scheduler"] = scheduler
    return executor_for(name, **options)


def _not_writable(out: Path | StoreURL, exc: PermissionError) -> OutputNotWritableError:
    from platekit.storage.backends.fsspec import is_url

    if is_url(str(out)):
        # Missing credentials already name the URL and what to do; a refusal does not.
        if str(out) in str(exc):
            return OutputNotWritableError(str(exc))
        return OutputNotWritableError(
            f"cannot write into the output {str(out)!r}: {exc.strerror or exc}; check that "
            "the credentials may write into that bucket, or choose another output"
        )
    where = f" ({exc.filename})" if exc.filename not in (None, str(out)) else ""
    return OutputNotWritableError(
        f"cannot write into the output {str(out)!r}: {exc.strerror or exc}{where}; "
        "make that folder writable, or choose another output"
    )
