"""The built-in jobs: ``convert`` (a plate to OME-Zarr); ``sleep`` and ``echo`` to try a server."""

from __future__ import annotations

import importlib.util
import os
import time

from platekit.zmq._jobs import Job, JobCancelled
from platekit.zmq._protocol import Field, ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

    from platekit.zmq._jobs import Flag, ProgressCallback

#: The longest ``sleep`` accepted, in seconds, and the most steps.
MAX_SLEEP_SECONDS = 24 * 3600.0
MAX_SLEEP_STEPS = 100_000
#: How often ``sleep`` looks at its cancel flag, in seconds.
_CANCEL_CHECK_SECONDS = 0.05
#: The executors a submitted conversion may use: they need no address of their own, so
#: every write stays on this machine. Both are built in, so no plugin is looked up to check.
_LOCAL_EXECUTORS = ("dask", "processes")


class ConvertJob(Job):
    """``platekit convert`` in a worker: a plate folder to an OME-Zarr HCS plate, resumable.

    ``plate`` and ``out`` must be absolute paths: they are read and written
    by the server's processes, whose working directory is not the client's.
    A cancelled conversion leaves ``out`` resumable: submitting the same
    parameters again converts only the wells not yet complete.

    ``executor`` is ``"processes"`` (the default) or ``"dask"`` (a Dask
    LocalCluster on the server's machine), with ``workers`` processes, at
    most the machine's CPUs. No scheduler can be named: a job's wells are
    written on the server's machine only, where its roots are checked.
    """

    _job_name = "convert"
    help = "convert a plate folder to an OME-Zarr HCS plate (as 'platekit convert' does)"
    params: ClassVar[dict[str, Field]] = {
        "plate": Field("str"),
        "out": Field("str"),
        "microscope": Field("str", required=False),
        "ngff": Field("str", required=False),
        "levels": Field("int", required=False),
        "overwrite": Field("bool", required=False),
        "skip_bad_planes": Field("bool", required=False),
        "executor": Field("str", required=False),
        "workers": Field("int", required=False),
    }
    reads: ClassVar[tuple[str, ...]] = ("plate",)
    writes: ClassVar[tuple[str, ...]] = ("out",)
    overwrite: ClassVar[str | None] = "overwrite"
    defaults: ClassVar[dict[str, Any]] = {
        "microscope": "auto",
        "ngff": "0.5",
        "levels": 1,
        "overwrite": False,
        "skip_bad_planes": False,
        "executor": "processes",
        "workers": 1,
    }

    def check(self, params: object) -> dict[str, Any]:
        checked = super().check(params)
        for key in ("plate", "out"):
            if not os.path.isabs(checked[key]):
                raise ProtocolError(
                    "invalid",
                    f"parameter {key!r} of the 'convert' job must be an absolute path, got "
                    f"{checked[key]!r}: the server does not share your working directory",
                )
        if checked["ngff"] not in ("0.4", "0.5"):
            raise ProtocolError(
                "invalid",
                f"parameter 'ngff' of the 'convert' job must be '0.5' or '0.4', "
                f"got {checked['ngff']!r}",
            )
        if checked["levels"] < 1:
            raise ProtocolError(
                "invalid",
                f"parameter 'levels' of the 'convert' job must be at least 1, "
                f"got {checked['levels']}",
            )
        _check_executor(checked["executor"], checked["workers"])
        return checked

    def run(
        self, params: dict[str, Any], progress: ProgressCallback, cancel: Flag
    ) -> dict[str, Any]:
        from platekit.microscopes import convert
        from platekit.microscopes._convert import ConversionCancelled

        try:
            result = convert(
                params["plate"],
                params["out"],
                microscope=params["microscope"],
                ngff=params["ngff"],
                levels=params["levels"],
                overwrite=params["overwrite"],
                skip_bad_planes=params["skip_bad_planes"],
                executor=params["executor"],
                workers=params["workers"],
                progress=lambda state: progress(state.done, state.total),
                cancel=cancel,
            )
        except ConversionCancelled as exc:
            raise JobCancelled(str(exc)) from None
        return {
            "out": str(result.out),
            "ngff": result.ngff,
            "microscope": result.microscope,
            "wells_total": result.wells_total,
            "wells_converted": result.wells_converted,
            "planes_total": result.planes_total,
            "planes_written": result.planes_written,
            "absent": len(result.absent),
            "missing": len(result.missing),
            "bad": len(result.bad),
            "seconds": round(result.seconds, 3),
            "already_complete": result.already_complete,
        }


def _check_executor(executor: str, workers: int) -> None:
    """``ProtocolError`` ("invalid") for an executor this server lacks, or workers out of range."""
    if executor not in _LOCAL_EXECUTORS:
        raise ProtocolError(
            "invalid",
            f"parameter 'executor' of the 'convert' job must be one of "
            f"{', '.join(_LOCAL_EXECUTORS)}, got {executor!r}",
        )
    if executor == "dask" and importlib.util.find_spec("distributed") is None:
        from platekit.registry._install import install_command

        raise ProtocolError(
            "invalid",
            "parameter 'executor' of the 'convert' job is 'dask', but this server has no Dask "
            f"distributed: run {install_command('platekit-microscopes', 'dask')} where the "
            "server runs",
        )
    most = os.cpu_count() or 1
    if not 1 <= workers <= most:
        raise ProtocolError(
            "invalid",
            f"parameter 'workers' of the 'convert' job must be between 1 and {most} (the "
            f"server's CPUs), got {workers}",
        )


class SleepJob(Job):
    """Waits ``seconds`` in ``steps`` equal steps, reporting each; stops at once when cancelled."""

    _job_name = "sleep"
    help = "wait SECONDS in STEPS steps, reporting progress (for trying a server)"
    params: ClassVar[dict[str, Field]] = {
        "seconds": Field("number"),
        "steps": Field("int", required=False),
    }
    defaults: ClassVar[dict[str, Any]] = {"steps": 10}

    def check(self, params: object) -> dict[str, Any]:
        checked = super().check(params)
        if not 0 <= checked["seconds"] <= MAX_SLEEP_SECONDS:
            raise ProtocolError(
                "invalid",
                f"parameter 'seconds' of the 'sleep' job must be between 0 and "
                f"{MAX_SLEEP_SECONDS:g}, got {checked['seconds']}",
            )
        if not 1 <= checked["steps"] <= MAX_SLEEP_STEPS:
            raise ProtocolError(
                "invalid",
                f"parameter 'steps' of the 'sleep' job must be between 1 and {MAX_SLEEP_STEPS}, "
                f"got {checked['steps']}",
            )
        return checked

    def run(
        self, params: dict[str, Any], progress: ProgressCallback, cancel: Flag
    ) -> dict[str, Any]:
        seconds, steps = float(params["seconds"]), int(params["steps"])
        started = time.monotonic()
        progress(0, steps)
        for step in range(1, steps + 1):
            until = started + seconds * step / steps
            while True:
                if cancel.is_set():
                    raise JobCancelled(f"the sleep was cancelled after {step - 1} of {steps} steps")
                left = until - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(left, _CANCEL_CHECK_SECONDS))
            progress(step, steps)
        return {"seconds": seconds, "steps": steps}


class EchoJob(Job):
    """Returns its ``value``: the smallest round trip through a worker."""

    _job_name = "echo"
    help = "return VALUE as the result (for trying a server)"
    params: ClassVar[dict[str, Field]] = {"value": Field("any")}

    def run(
        self, params: dict[str, Any], progress: ProgressCallback, cancel: Flag
    ) -> dict[str, Any]:
        progress(1, 1)
        return {"value": params["value"]}
