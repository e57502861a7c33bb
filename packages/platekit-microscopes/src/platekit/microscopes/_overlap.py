"""Keeping a conversion's output and its source plate apart, whatever the spelling of their paths.

An output inside the source would write into the plate; a source inside the
output would be deleted by ``overwrite``. Paths are compared once resolved
(symlinks, ``..``), and the folders that exist are also compared by
identity, which catches another case of a name on a case-insensitive file
system and a folder reached through two mounts.
"""

from __future__ import annotations

import os
from pathlib import Path


def refuse_overlap(source: Path, out: Path) -> None:
    """Raise ``ValueError`` when ``out`` is ``source``, lies inside it, or holds it."""
    refuse_inside(source, out)
    if _inside(source, out):
        raise ValueError(
            f"the source plate {str(source)!r} lies inside the output {str(out)!r}; platekit never "
            "writes over the plate it converts: choose an output folder that does not hold it"
        )


def refuse_inside(source: Path, out: Path) -> None:
    """Raise ``ValueError`` when ``out`` is ``source`` or lies inside it."""
    if _inside(out, source):
        raise ValueError(
            f"the output {str(out)!r} is inside the source plate {str(source)!r}; platekit never "
            "writes into a source plate: choose an output folder outside it"
        )


def _inside(inner: Path, outer: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies below it."""
    resolved_inner, resolved_outer = inner.resolve(), outer.resolve()
    if resolved_inner == resolved_outer or resolved_outer in resolved_inner.parents:
        return True
    try:
        outer_stat = os.stat(resolved_outer)
    except OSError:
        return False
    for folder in (resolved_inner, *resolved_inner.parents):
        try:
            if os.path.samestat(os.stat(folder), outer_stat):
                return True
        except OSError:
            continue
    return False
