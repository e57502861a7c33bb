"""The output store of a conversion: what it holds, how far it got, and its last word.

The root group's ``platekit.conversion`` attribute records what is being
converted; a well is complete once its ``well`` metadata is written; the
plate's metadata is written by :func:`finish`, when every well is complete.
"""

from __future__ import annotations

from pathlib import Path

from platekit.microscopes import __version__
from platekit.microscopes._convert import AbsentPlane
from platekit.microscopes._model import PlaneKey
from platekit.microscopes._ngff import ZARR_FORMAT, plate_attributes, unwrap, well_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from platekit.microscopes._convert import _Plan


def backend_for(ngff: str) -> Any:
    """The zarr backend writing the Zarr format of NGFF ``ngff``."""
    from platekit.storage.backends.zarr import ZarrBackend

    return ZarrBackend(zarr_format=ZARR_FORMAT[ngff])


def read_root(backend: Any, out: Path) -> dict[str, Any] | None:
    try:
        attributes = backend.attributes(str(out))
    except (FileNotFoundError, NotADirectoryError, OSError, ValueError):
        return None
    return attributes if isinstance(attributes, dict) else None


def _is_store(out: Path) -> bool:
    return any((out / name).is_file() for name in ("zarr.json", ".zgroup"))


def prepare_output(backend: Any, out: Path, identity: dict[str, Any], overwrite: bool) -> str:
    """Make ``out`` ready: ``"new"``, ``"resume"`` or ``"complete"``; refuse anything else."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{str(out)!r} is a file; give a folder name ending in .zarr")
    if out.exists() and any(out.iterdir()):
        recorded = (read_root(backend, out) or {}).get("platekit", {}).get("conversion")
        if isinstance(recorded, dict) and not overwrite:
            mine = {k: recorded.get(k) for k in identity}
            if mine == identity:
                return "complete" if recorded.get("state") == "complete" else "resume"
            raise FileExistsError(
                f"{str(out)!r} holds a conversion of {recorded.get('source')!r} "
                f"({recorded.get('microscope')}, NGFF {recorded.get('ngff')}, "
                f"levels: {recorded.get('levels')}), not of this plate with these options; "
                "choose another output, or pass overwrite=True (--overwrite) to replace it"
            )
        if not overwrite:
            raise FileExistsError(
                f"{str(out)!r} already exists and is not a platekit conversion; choose another "
                "output, or pass overwrite=True (--overwrite) to replace it"
            )
        if not _is_store(out):
            raise FileExistsError(
                f"{str(out)!r} is a folder that is not a Zarr store; platekit replaces only Zarr "
                "stores, even with overwrite: remove it yourself or choose another output"
            )
        import shutil

        shutil.rmtree(out)
    backend.ensure_directory(str(out))
    backend.set_attributes(
        str(out),
        {"platekit": {"conversion": {**identity, "state": "running", "version": __version__}}},
    )
    return "new"


def well_group(out: Path, well: str) -> str:
    return str(out / well_path(well))


def well_complete(backend: Any, out: Path, well: str, ngff: str) -> bool:
    try:
        attributes = backend.attributes(well_group(out, well))
    except (FileNotFoundError, NotADirectoryError):
        return False
    return "well" in unwrap(ngff, attributes)


def recorded_absent(
    backend: Any, out: Path, ngff: str, wells: set[str] | None = None
) -> list[AbsentPlane]:
    """The absent planes recorded in complete wells (all of them, or of ``wells``)."""
    found: list[AbsentPlane] = []
    root = read_root(backend, out) or {}
    entries = root.get("platekit", {}).get("absent_planes")
    if entries is None:
        entries = []
        for well in wells or ():
            try:
                attributes = backend.attributes(well_group(out, well))
            except (FileNotFoundError, NotADirectoryError):
                continue
            entries += attributes.get("platekit", {}).get("absent_planes", [])
    for entry in entries:
        if wells is not None and entry["well"] not in wells:
            continue
        key = PlaneKey(
            entry["well"], entry["site"], entry["channel"], entry["z_index"], entry["timepoint"]
        )
        found.append(
            AbsentPlane(key, entry["reason"], entry.get("path"), entry.get("kind", "missing"))
        )
    return found


def finish(
    backend: Any, out: Path, plan: _Plan, identity: dict[str, Any], absent: list[AbsentPlane]
) -> None:
    attributes = plate_attributes(plan.meta, plan.ngff, plan.meta.site_count)
    attributes["platekit"] = {
        "conversion": {**identity, "state": "complete", "version": __version__},
        "absent_planes": [a.as_json() for a in absent],
    }
    backend.set_attributes(str(out), attributes)
