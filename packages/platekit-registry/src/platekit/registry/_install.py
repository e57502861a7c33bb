"""The command that installs a platekit distribution, or one of its extras, from where it came.

platekit's distributions are installed from a checkout of the repository, not
from a package index, so a hint that names only the distribution sends pip to
an index that does not have it. pip and uv record where each distribution came
from (``direct_url.json``, PEP 610), so the hint can give that folder back.
"""

from __future__ import annotations

import json
import os
import shlex


def install_command(distribution: str, extra: str | None = None) -> str:
    """The ``python -m pip install`` line for ``distribution`` with its ``extra``.

    A distribution installed from a folder is installed from that folder
    again (editable if it was). Otherwise the line names the distribution,
    followed by the line that installs it from a checkout of this repository.
    Never raises: it is called while reporting another error.
    """
    wanted = f"[{extra}]" if extra else ""
    source = _installed_from(distribution)
    if source is not None:
        folder, editable = source
        flag = "-e " if editable else ""
        return f"python -m pip install {flag}{shlex.quote(folder + wanted)}"
    checkout = shlex.quote(f"./packages/{distribution}{wanted}")
    return (
        f"python -m pip install {shlex.quote(distribution + wanted)} (or, from a checkout of "
        f"platekit: python -m pip install {checkout})"
    )


def _installed_from(distribution: str) -> tuple[str, bool] | None:
    """The folder ``distribution`` was installed from, and whether editably; None if not one."""
    from importlib import metadata

    try:
        text = metadata.distribution(distribution).read_text("direct_url.json")
        record = json.loads(text) if text else None
    except (metadata.PackageNotFoundError, OSError, ValueError):
        return None
    # "dir_info" marks a folder; an archive or a VCS checkout has other keys.
    if not isinstance(record, dict) or not isinstance(record.get("dir_info"), dict):
        return None
    url = record.get("url")
    if not isinstance(url, str) or not url.startswith("file:"):
        return None
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    folder = url2pathname(urlsplit(url).path)
    if not os.path.isdir(folder):
        return None  # the checkout moved or is gone: its folder would not help
    return folder, bool(record["dir_info"].get("editable"))
