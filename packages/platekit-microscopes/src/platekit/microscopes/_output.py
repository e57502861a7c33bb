"""The output store of a conversion: what it holds, how far it got, and its last word.

The root group's ``platekit.conversion`` attribute records what is being
converted; a well is complete once its ``well`` metadata is written; the
plate's metadata is written by :func:`finish`, when every well is complete.
A run holds the output's lock (:mod:`._lock`) from before it looks inside,
and an output with nothing of a conversion in it yet is taken as new, so
that a run killed at any moment is finished by the same command.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from platekit.microscopes import __version__
from platekit.microscopes._absent import decode
from platekit.microscopes._lock import LOCK_NAME, OutputLock
from platekit.microscopes._ngff import unwrap
from platekit.microscopes._well_writer import well_group
from platekit.microscopes._writer import write_plate_metadata

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from platekit.microscopes._plan import AbsentPlane, _Plan


def read_root(backend: Any, out: Path) -> dict[str, Any] | None:
    try:
        attributes = backend.attributes(str(out))
    except (FileNotFoundError, NotADirectoryError, OSError, ValueError):
        return None
    return attributes if isinstance(attributes, dict) else None


def _is_store(out: Path) -> bool:
    return any((out / name).is_file() for name in ("zarr.json", ".zgroup"))


# The zarr backend's prefix for what it stages; a killed writer may leave such entries.
_STAGING = ".platekit-tmp-"


def _contents(out: Path) -> list[Path]:
    """What ``out`` holds besides platekit's own lock and staging entries."""
    return [
        entry
        for entry in out.iterdir()
        if entry.name != LOCK_NAME and not entry.name.startswith(_STAGING)
    ]


def _blank(out: Path, contents: list[Path]) -> bool:
    """Whether ``out`` holds nothing but, at most, a group without attributes or children.

    That is what a conversion killed before it recorded what it converts
    leaves, and also an empty folder: either is taken as a new output.
    """
    names = {entry.name for entry in contents}
    if not names:
        return True
    if names not in ({"zarr.json"}, {".zgroup"}, {".zgroup", ".zattrs"}):
        return False
    try:
        if (out / "zarr.json").is_file():
            document = json.loads((out / "zarr.json").read_text(encoding="utf-8"))
            return document.get("node_type") == "group" and not document.get("attributes")
        if (out / ".zattrs").is_file():
            return not json.loads((out / ".zattrs").read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError):
        return False
    return True


def make_output_folder(out: Path) -> None:
    """Make the folder ``out`` and its parents; an ``OSError`` that says so in one sentence."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        refused = type(exc)(
            f"cannot make the output folder {str(out)!r} ({exc.strerror}); choose a folder you "
            "can write to"
        )
        refused.errno = exc.errno
        raise refused from None


def prepare_output(
    backend: Any, out: Path, identity: dict[str, Any], overwrite: bool
) -> tuple[str, OutputLock]:
    """Make ``out`` ready and lock it: ``"new"``, ``"resume"`` or ``"complete"``, and the lock.

    Refuses, before touching anything, a file, a folder that is no Zarr store,
    and another conversion or Zarr store unless ``overwrite``; refuses an
    output another conversion is writing into. The caller releases the lock.
    An output in object storage (a URL) is prepared by
    :func:`~platekit.microscopes._object_output.prepare_object_output`.
    """
    from platekit.microscopes._object_output import StoreURL, prepare_object_output

    if isinstance(out, StoreURL):
        return prepare_object_output(backend, out, identity, overwrite)  # type: ignore[return-value]
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{str(out)!r} is a file; give a folder name ending in .zarr")
    if out.is_dir() and _contents(out) and not _is_store(out):
        raise FileExistsError(
            f"{str(out)!r} is a folder that is not a Zarr store; platekit converts into a new "
            "or empty folder and replaces only Zarr stores, even with overwrite: choose "
            "another output, or empty that folder yourself"
        )
    make_output_folder(out)
    lock = OutputLock(out)
    lock.acquire()
    try:
        return _prepare_locked(backend, out, identity, overwrite), lock
    except BaseException:
        lock.release()
        raise


def _prepare_locked(backend: Any, out: Path, identity: dict[str, Any], overwrite: bool) -> str:
    contents = _contents(out)
    recorded = (read_root(backend, out) or {}).get("platekit", {}).get("conversion")
    if isinstance(recorded, dict) and not overwrite:
        mine = {k: recorded.get(k) for k in identity}
        if mine == identity:
            if recorded.get("state") == "complete":
                return "complete"
            _check_writable(out)
            return "resume"
        raise FileExistsError(
            f"{str(out)!r} holds a conversion of {recorded.get('source')!r} that differs from "
            f"this one in {differences(recorded, identity)}; choose another output, or pass "
            "overwrite=True (--overwrite) to replace it"
        )
    if not isinstance(recorded, dict) and not _blank(out, contents) and not overwrite:
        raise FileExistsError(
            f"{str(out)!r} holds a Zarr store that is not a platekit conversion; choose another "
            "output, or pass overwrite=True (--overwrite) to replace it"
        )
    # What killed writers staged is of no use to a conversion from scratch.
    backend.remove_leftovers(str(out))
    if overwrite:
        import shutil

        # The store's own metadata goes last: killed midway, the folder is still a
        # store, which the same command replaces again.
        metadata = ("zarr.json", ".zgroup", ".zattrs")
        for entry in sorted(_contents(out), key=lambda e: e.name in metadata):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    backend.ensure_directory(str(out))
    backend.set_attributes(
        str(out),
        {"platekit": {"conversion": {**identity, "state": "running", "version": __version__}}},
    )
    return "new"


def _check_writable(out: Path) -> None:
    """``PermissionError`` naming ``out`` unless a file can be made in it: before any work."""
    import tempfile

    try:
        handle, name = tempfile.mkstemp(prefix=_STAGING, dir=out)
    except PermissionError as exc:
        raise PermissionError(exc.errno, exc.strerror, str(out)) from None
    os.close(handle)
    os.unlink(name)


#: How each part of a conversion's identity is named to a user.
_NAMES = {
    "source": "source",
    "microscope": "microscope",
    "ngff": "NGFF version",
    "levels": "levels",
}


def differences(recorded: dict[str, Any], identity: dict[str, Any]) -> str:
    """``"its NGFF version (0.4 there, 0.5 here)"``: what differs between two conversions."""
    parts = []
    for key, name in _NAMES.items():
        if recorded.get(key) != identity.get(key):
            parts.append(f"{name} ({recorded.get(key)!r} there, {identity.get(key)!r} here)")
    if recorded.get("fingerprint") != identity.get("fingerprint"):
        parts.append(
            "the plate's structure (its wells, sites, channels, z planes, time points, image "
            "shape and type, or the planes present)"
        )
    return ", ".join(parts)


def well_complete(backend: Any, out: Path, well: str, ngff: str) -> bool:
    try:
        attributes = backend.attributes(well_group(out, well))
    except (FileNotFoundError, NotADirectoryError):
        return False
    return "well" in unwrap(ngff, attributes)


def recorded_absent(backend: Any, out: Path, wells: list[str] | set[str]) -> list[AbsentPlane]:
    """The absent planes recorded in the complete wells ``wells``, in plane order."""
    found: list[AbsentPlane] = []
    for well in wells:
        try:
            attributes = backend.attributes(well_group(out, well))
        except (FileNotFoundError, NotADirectoryError):
            continue
        found += decode(well, attributes.get("platekit", {}).get("absent_planes"))
    found.sort(key=lambda a: a.plane)
    return found


def finish(
    backend: Any, out: Path, plan: _Plan, identity: dict[str, Any], absent: list[AbsentPlane]
) -> None:
    extra = {
        "conversion": {**identity, "state": "complete", "version": __version__},
        # Only how many: each well records its own, compactly (see _absent).
        "absent_planes": {
            kind: sum(1 for a in absent if a.kind == kind)
            for kind in ("missing", "not_acquired", "bad")
        },
    }
    write_plate_metadata(
        backend, str(out), plan.meta, plan.ngff, plan.meta.site_count, {"platekit": extra}
    )
