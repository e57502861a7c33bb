"""What to tell someone whose folder is no plate but is close to one.

Three mistakes are common: giving the folder that holds a plate (an export's
parent, a folder of plates), giving a folder inside a plate (ImageXpress's
TimePoint_1, an OME-Zarr well), and giving a conversion that never finished,
which has no plate metadata yet.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: How deep below the folder plates are looked for, and how many folders are looked at in all.
_DEPTH = 2
_MOST_FOLDERS = 200
#: How far above the folder a plate it lies in is looked for (an OME-Zarr plate's A/1/0/0).
_ABOVE = 4
#: How many of the plates found are named.
_SHOWN = 3


def unknown_folder_hint(folder: Path, is_plate: Callable[[Path], bool]) -> str | None:
    """One line saying what ``folder`` is and what to give instead, or ``None`` when unsure.

    ``is_plate`` says whether a folder is a plate some handler reads.
    """
    conversion = unfinished_conversion(folder)
    if conversion is not None:
        return _finish_it(folder, conversion)
    plates = plates_below(folder, is_plate)
    if len(plates) == 1:
        return (
            f"{str(folder)!r} holds a plate in {str(plates[0])!r}; inspect or convert that "
            "folder instead"
        )
    if plates:
        shown = ", ".join(repr(str(plate)) for plate in plates[:_SHOWN])
        more = f" and {len(plates) - _SHOWN} more" if len(plates) > _SHOWN else ""
        return (
            f"{str(folder)!r} holds plates in {shown}{more}; inspect or convert one of those "
            "folders instead"
        )
    around = plate_above(folder, is_plate)
    if around is not None:
        return (
            f"{str(folder)!r} is inside the plate {str(around)!r}; inspect or convert that "
            "folder instead"
        )
    return None


def plate_above(folder: Path, is_plate: Callable[[Path], bool]) -> Path | None:
    """The plate that ``folder`` lies in, looked for a few folders up, or ``None``."""
    shown = Path(folder)
    for parent in list(shown.absolute().parents)[:_ABOVE]:
        if is_plate(parent):
            # Named as the user spelled the folder when they can be, not from the root.
            up = len(shown.absolute().parents) - len(parent.parents)
            return shown.parents[up - 1] if up <= len(shown.parents) else parent
    return None


def unfinished_conversion(folder: Path) -> dict[str, Any] | None:
    """The ``platekit.conversion`` record of a conversion into ``folder`` that did not finish."""
    for name, inside in (("zarr.json", "attributes"), (".zattrs", None)):
        try:
            document = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(document, dict):
            continue
        attributes = document.get(inside, {}) if inside else document
        platekit = attributes.get("platekit") if isinstance(attributes, dict) else None
        record = platekit.get("conversion") if isinstance(platekit, dict) else None
        if isinstance(record, dict) and record.get("state") == "running":
            return record
    return None


def _finish_it(folder: Path, record: dict[str, Any]) -> str:
    command = ["platekit", "convert", str(record.get("source", "PLATE")), str(folder)]
    if record.get("ngff", "0.5") != "0.5":
        command += ["--ngff", str(record["ngff"])]
    if record.get("levels", 1) != 1:
        command += ["--levels", str(record["levels"])]
    return (
        f"{str(folder)!r} is a conversion of {record.get('source')!r} that did not finish "
        "(it was interrupted, or is still running); to finish it, run the command that "
        f"started it again: {shlex.join(command)}, with any other options it had"
    )


def plates_below(folder: Path, is_plate: Callable[[Path], bool]) -> list[Path]:
    """The plates in the folders up to two levels below ``folder``, in name order.

    A plate's own subfolders are not searched, nor hidden folders; at most a
    bounded number of folders is looked at, so a huge tree answers quickly.
    """
    plates: list[Path] = []
    level = [folder]
    looked = 0
    for _ in range(_DEPTH):
        below: list[Path] = []
        for parent in level:
            for sub in _subfolders(parent):
                if looked >= _MOST_FOLDERS:
                    return sorted(plates)
                looked += 1
                if is_plate(sub):
                    plates.append(sub)
                else:
                    below.append(sub)
        level = below
    return sorted(plates)


def _subfolders(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [entry for entry in entries if not entry.name.startswith(".") and _is_dir(entry)]


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False
