"""A conversion's output in object storage (``s3://bucket/out.zarr``): its name, lock and start.

Object stores have no rename and no locks. What keeps the promises there:

- Arrays are complete or invisible: the ``zarr_fsspec`` backend writes an
  array's chunks first and its metadata last, so a killed run leaves chunks
  no Zarr reader sees; a resumed run deletes an unfinished well and writes it
  again. A well's metadata follows its arrays, the plate's follows every well.
- One run per output: a lock object (``.platekit-lock``) names the run (a
  random id, host, process, start). It is written create-only (S3's
  ``If-None-Match: *``, through fsspec's ``mode="create"``), so of two runs
  starting at the same instant only one takes it, whatever their hosts. A run
  refuses an output whose lock names another run, unless that run was on this
  host and its process is gone (then it replaces the lock, on S3 only if the
  lock is still the version it read: ``If-Match`` its ETag); it checks the lock
  still names it before it marks the output complete, and deletes it at the
  end. On a store whose filesystem cannot write create-only, fsspec looks
  before it writes, and the check before completing is what catches a run
  that started at the same instant. Workers of a run do not hold the lock.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import socket
import uuid
from pathlib import PurePosixPath

from platekit.microscopes._lock import LOCK_NAME, OutputInUseError
from platekit.storage.backends.fsspec import (
    is_url,
    local_path,
    names_nothing,
    protocol_of,
    remote_errors,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


class StoreURL:
    """An output's URL, joined with ``/`` as a path is: ``StoreURL("s3://b/o.zarr") / "A/1"``."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def __truediv__(self, name: str) -> StoreURL:
        return StoreURL(f"{self.url}/{str(name).strip('/')}")

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"StoreURL({self.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoreURL) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    @property
    def name(self) -> str:
        return PurePosixPath(self.url.partition("://")[2]).name

    @property
    def parts(self) -> tuple[str, ...]:
        return PurePosixPath(self.url.partition("://")[2]).parts

    def resolve(self) -> StoreURL:
        return self


def out_location(out: str | os.PathLike[str]) -> Path | StoreURL:
    """``out`` as a ``Path`` (a ``file://`` URL as its path), or as a :class:`StoreURL` when it
    is a URL (its protocol in lower case: ``S3://b/o.zarr`` is ``s3://b/o.zarr``);
    ``ValueError`` for a URL that names no bucket or folder (``s3://``)."""
    from pathlib import Path

    text = os.fspath(out)
    if names_nothing(text):
        raise ValueError(
            f"the output {text!r} names no bucket or folder; give its whole URL, e.g. "
            f"{protocol_of(text)}://BUCKET/PLATE.zarr"
        )
    if not is_url(text):
        return Path(local_path(text))
    # The filesystem is the protocol's in any case, but s3fs would take "S3:" for the bucket.
    return StoreURL(f"{protocol_of(text)}://{text.partition('://')[2]}")


def refuse_url_overlap(source: str, out: StoreURL) -> None:
    """``ValueError`` when the output at ``out`` is the plate at ``source``, in it, or holds it."""

    def inside(inner: str, outer: str) -> bool:
        inner, outer = inner.rstrip("/"), outer.rstrip("/")
        return inner == outer or inner.startswith(outer + "/")

    if inside(str(out), source):
        raise ValueError(
            f"the output {str(out)!r} is inside the source plate {source!r}; platekit never "
            "writes into a source plate: choose an output outside it"
        )
    if inside(source, str(out)):
        raise ValueError(
            f"the source plate {source!r} lies inside the output {str(out)!r}; platekit never "
            "writes over the plate it converts: choose an output that does not hold it"
        )


#: How often a run tries to take a lock that other runs keep taking and releasing.
_ATTEMPTS = 3


class ObjectLock:
    """The lock object of an output in object storage (see the module), held until released."""

    def __init__(self, backend: Any, out: StoreURL) -> None:
        self.backend, self.out = backend, out
        self.run = uuid.uuid4().hex
        self._key = f"{out}/{LOCK_NAME}"
        self._held = False

    def _read(self) -> dict[str, Any] | None:
        fs = self.backend.fs(self._key)
        # s3fs asks an object's size before reading it unless told to read in one request.
        one_request = {"max_concurrency": 1} if self._on_s3 else {}
        try:
            found = json.loads(fs.cat_file(self._key, **one_request))
        except FileNotFoundError:
            return None
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    def acquire(self) -> None:
        """Take the lock; ``OutputInUseError`` naming the run that holds it."""
        mine = {
            "run": self.run,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        data = json.dumps(mine).encode()
        fs = self.backend.fs(self._key)
        for _attempt in range(_ATTEMPTS):
            try:
                fs.pipe_file(self._key, data, mode="create")
                break
            except FileExistsError:
                version = self._version()
                held = self._read()
            # Released since the write was refused: take it create-only again, as another
            # run may be taking it too.
            if held is None:
                continue
            if not _gone(held):
                raise OutputInUseError(
                    f"another conversion (run {held.get('run')} on {held.get('host')}, process "
                    f"{held.get('pid')}, since {held.get('started')}) is writing into "
                    f"{str(self.out)!r}; wait for it to end, or, if it is no longer running, "
                    f"delete {self._key!r} and run this command again"
                )
            # Left by a run of this host that has ended: taken over, on S3 only if it is still
            # the version read (another run taking it over too finds it changed).
            try:
                fs.pipe_file(self._key, data, **({"IfMatch": version} if version else {}))
            except OSError as exc:
                if version and exc.errno == errno.EINVAL:  # s3fs's word for a failed If-Match
                    continue
                raise
            break
        else:
            raise OutputInUseError(
                f"other conversions took and released the lock of {str(self.out)!r} "
                f"{_ATTEMPTS} times while this one tried to take it; run this command again "
                "once they have ended"
            )
        self._held = True
        self.verify()

    @property
    def _on_s3(self) -> bool:
        """Whether the lock is written through s3fs (the protocols it is registered for)."""
        return protocol_of(self._key) in ("s3", "s3a")

    def _version(self) -> str | None:
        """The lock object's ETag on S3, which a write can be made conditional on; else
        ``None``."""
        if not self._on_s3:
            return None
        try:
            return str(self.backend.fs(self._key).info(self._key, refresh=True)["ETag"])
        except (FileNotFoundError, KeyError):
            return None

    def verify(self) -> None:
        """``OutputInUseError`` unless the lock object still names this run."""
        if not self._held:
            return
        held = self._read() or {}
        if held.get("run") != self.run:
            self._held = False
            raise OutputInUseError(
                f"another conversion (run {held.get('run')} on {held.get('host')}) took over "
                f"{str(self.out)!r} while this one ran; this run stops without marking it "
                "complete: run the command again once the other has ended"
            )

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        held = self._read() or {}
        if held.get("run") == self.run:
            self.backend.fs(self._key).rm(self._key)


def _gone(held: dict[str, Any]) -> bool:
    """Whether the run that wrote ``held`` was on this host and its process has ended."""
    if held.get("host") != socket.gethostname() or not isinstance(held.get("pid"), int):
        return False
    try:
        os.kill(held["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def check_bucket(backend: Any, out: StoreURL) -> None:
    """``FileNotFoundError`` when the bucket of ``out`` does not exist, ``PermissionError``
    without credentials: one sentence each, naming the URL and what to do. One request."""
    bucket = str(out).partition("://")[2].split("/", 1)[0]
    fs = backend.fs(str(out))
    try:
        with remote_errors(str(out).partition("://")[0], str(out)):
            fs.info(bucket)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"the bucket {bucket!r} of the output {str(out)!r} does not exist; create it "
            "first, or check the URL and the endpoint_url storage option"
        ) from None


def prepare_object_output(
    backend: Any, out: StoreURL, identity: dict[str, Any], overwrite: bool
) -> tuple[str, ObjectLock]:
    """Make the output at ``out`` ready and lock it: ``"new"``, ``"resume"`` or ``"complete"``.

    Refuses, before writing anything, a bucket that does not exist, another
    run's output, and another conversion or Zarr store unless ``overwrite``.
    """
    from platekit.microscopes import __version__
    from platekit.microscopes._output import differences

    check_bucket(backend, out)
    fs = backend.fs(str(out))
    lock = ObjectLock(backend, out)
    try:
        lock.acquire()
        recorded = None
        if backend.exists(str(out)):
            recorded = backend.attributes(str(out)).get("platekit", {}).get("conversion")
            if isinstance(recorded, dict) and not overwrite:
                mine = {k: recorded.get(k) for k in identity}
                if mine == identity:
                    return ("complete" if recorded.get("state") == "complete" else "resume"), lock
                raise FileExistsError(
                    f"{str(out)!r} holds a conversion of {recorded.get('source')!r} that differs "
                    f"from this one in {differences(recorded, identity)}; choose another "
                    "output, or pass overwrite=True (--overwrite) to replace it"
                )
            if not isinstance(recorded, dict) and not overwrite:
                raise FileExistsError(
                    f"{str(out)!r} holds a Zarr store that is not a platekit conversion; choose "
                    "another output, or pass overwrite=True (--overwrite) to replace it"
                )
            for name in _children(fs, str(out)):
                backend.delete(f"{out}/{name}", recursive=True)
        backend.set_attributes(
            str(out),
            {"platekit": {"conversion": {**identity, "state": "running", "version": __version__}}},
        )
        return "new", lock
    except BaseException:
        lock.release()
        raise


def _children(fs: Any, url: str) -> list[str]:
    """The nodes directly in the store at ``url`` (the lock and metadata left out)."""
    key = str(fs._strip_protocol(url)).rstrip("/")
    names = []
    for item in fs.ls(key, detail=True, refresh=True):
        name = str(item["name"]).rstrip("/").rsplit("/", 1)[-1]
        if item.get("type") == "directory":
            names.append(name)
    return names
