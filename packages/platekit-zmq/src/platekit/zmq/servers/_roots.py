"""Where an execution server's jobs may read and write: its roots, checked before a job runs.

A client names a job and its parameters; the paths among them are the
client's to choose, so without a bound any client could make a job write,
or delete, anywhere the server's user can. A job declares which of its
parameters are paths it reads (``reads``) and writes (``writes``), and
which one asks it to replace what is there (``overwrite``); the server
resolves each path (``..``, symbolic links) and refuses it unless it lies
inside one of its read or write roots, and refuses ``overwrite`` unless it
was started with ``--allow-overwrite``. A server given no roots confines
jobs to nothing: each path is refused, with the option that would allow it.
"""

from __future__ import annotations

import os

from platekit.zmq._protocol import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

#: The error code of a job refused by the server's roots or its overwrite policy.
FORBIDDEN = "forbidden"


def _resolved(path: str) -> str:
    """``path`` with every link and ``..`` resolved, as the file system will take it."""
    return os.path.normcase(os.path.realpath(path))


def _inside(path: str, root: str) -> bool:
    return path == root or os.path.commonpath([path, root]) == root


class Roots:
    """The folders a server's jobs may read from and write to, and whether they may overwrite.

    Raises ``ValueError`` for a root that is not an existing folder: a typo
    there would otherwise refuse every job without saying why.
    """

    def __init__(
        self,
        read: Iterable[str] | None = None,
        write: Iterable[str] | None = None,
        *,
        allow_overwrite: bool = False,
    ) -> None:
        self.read = self._folders(read, "--read-root")
        self.write = self._folders(write, "--write-root")
        self.allow_overwrite = allow_overwrite

    @staticmethod
    def _folders(given: Iterable[str] | None, option: str) -> tuple[str, ...]:
        if isinstance(given, str):
            given = [given]
        folders = []
        for folder in given or ():
            if not os.path.isdir(folder):
                raise ValueError(
                    f"{option} {folder!r} is not an existing folder; create it or give another"
                )
            folders.append(_resolved(folder))
        return tuple(folders)

    def describe(self) -> dict[str, Any]:
        """What ``status`` reports: the roots and the overwrite policy."""
        return {
            "read_roots": list(self.read),
            "write_roots": list(self.write),
            "allow_overwrite": self.allow_overwrite,
        }

    def check(self, job: Any, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with the job's path parameters resolved, once each lies inside its roots.

        The job then runs with the resolved paths, so a link changed after
        the check cannot lead it elsewhere. Raises
        :class:`~platekit.zmq.ProtocolError` (code ``forbidden``) naming the
        parameter, its path and the allowed roots, or saying that the server
        does not allow overwriting.
        """
        checked = dict(params)
        for names, roots, option, verb in (
            (job.reads, self.read, "--read-root", "reads from"),
            (job.writes, self.write, "--write-root", "writes to"),
        ):
            for name in names:
                if name not in checked:
                    continue
                try:
                    path = _resolved(checked[name])
                except ValueError:  # a NUL character: no file system takes it
                    raise ProtocolError(
                        "invalid",
                        f"parameter {name!r} of the {job.name!r} job, {checked[name]!r}, "
                        "is not a path",
                    ) from None
                if not any(_inside(path, root) for root in roots):
                    raise ProtocolError(
                        FORBIDDEN, _outside(job, name, checked[name], path, roots, option, verb)
                    )
                checked[name] = path
        if job.overwrite and checked.get(job.overwrite) and not self.allow_overwrite:
            raise ProtocolError(
                FORBIDDEN,
                f"the {job.name!r} job asks to overwrite ({job.overwrite}: true), which would "
                "delete what is there, and this server does not allow overwriting; remove the "
                "old output yourself, choose another output, or start the server with "
                "--allow-overwrite",
            )
        return checked


def _outside(
    job: Any, name: str, given: str, path: str, roots: tuple[str, ...], option: str, verb: str
) -> str:
    shown = given if path == given else f"{given} (resolved: {path})"
    if not roots:
        return (
            f"parameter {name!r} of the {job.name!r} job is {shown}, but this server {verb} "
            f"no folder: start it with {option} DIR for the folders its jobs may use"
        )
    return (
        f"parameter {name!r} of the {job.name!r} job is {shown}, outside the folders this "
        f"server {verb} ({', '.join(roots)}); give a path inside one of them, or start the "
        f"server with {option} for its folder"
    )
