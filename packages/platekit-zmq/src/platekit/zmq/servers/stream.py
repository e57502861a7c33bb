"""The stream server: arrays arriving as raw frames, written to a platekit storage backend.

A sender (the ``zmq_stream`` storage backend, or any client speaking the
protocol) sends ``save`` with a small JSON header (path, dtype, shape,
optional metadata) and the array's bytes in the frame after it; the server
writes the array to its store, ``memory``, ``disk`` or ``zarr``, and
answers ``stored`` with the same request id. Paths are relative to the
store's root; one that is absolute or climbs out with ``..`` is refused.
The store can be read back (``load``), listed and managed over the same
socket, so a viewer can fetch what was streamed.
"""

from __future__ import annotations

import os
import posixpath

from platekit.zmq._protocol import Field
from platekit.zmq._server import ZMQ_INT_MAX, ZMQServer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from platekit.zmq._protocol import Schema

#: The stores a stream server writes to.
STORES = ("memory", "disk", "zarr")
#: Messages queued per peer on the data socket, each way, before ZeroMQ holds the sender back.
DEFAULT_HWM = 64
# Arrays smaller than this are copied out of their frame before being kept in memory:
# ZeroMQ may receive small messages into one shared buffer, which a kept view would pin.
_KEEP_FRAME_BYTES = 64 * 1024

#: The requests on the data socket, by type.
DATA_SCHEMA: Schema = {
    "save": {
        "path": Field("str"),
        "dtype": Field("str"),
        "shape": Field("list"),
        "metadata": Field("object", required=False),
        "overwrite": Field("bool", required=False),
    },
    "load": {"path": Field("str")},
    "list": {
        "directory": Field("str", required=False),
        "pattern": Field("str", required=False),
        "extensions": Field("any", required=False),
        "recursive": Field("bool", required=False),
    },
    "list_dir": {"path": Field("str", required=False)},
    "exists": {"path": Field("str")},
    "is_file": {"path": Field("str")},
    "is_dir": {"path": Field("str")},
    "delete": {"path": Field("str"), "recursive": Field("bool", required=False)},
    "ensure_directory": {"path": Field("str")},
    "copy": {"src": Field("str"), "dst": Field("str"), "overwrite": Field("bool", required=False)},
    "move": {"src": Field("str"), "dst": Field("str"), "overwrite": Field("bool", required=False)},
}

#: Error codes of store failures, in the order they are tried, and the exception each stands for.
STORE_ERRORS: tuple[tuple[str, type[Exception]], ...] = (
    ("not_found", FileNotFoundError),
    ("exists", FileExistsError),
    ("is_a_directory", IsADirectoryError),
    ("not_a_directory", NotADirectoryError),
    ("permission", PermissionError),
    ("os_error", OSError),
    ("type", TypeError),
    ("invalid_argument", ValueError),
    # A format whose codec is not installed (PNG without imagecodecs): the server's to fix.
    ("unavailable", ImportError),
)
#: The error code of a path that is absolute or leaves the store's root.
BAD_PATH = "bad_path"


class StreamServer(ZMQServer):
    """Writes the arrays it receives to a ``memory``, ``disk`` or ``zarr`` store.

    ``store="disk"`` and ``store="zarr"`` need ``root``: a folder, or a
    ``.zarr`` store for zarr, created when missing. Raises ``ValueError``
    for an unknown store, a missing root, or a zarr root whose name does
    not end in ``.zarr`` or is given to the memory store, and ``OSError``
    naming a root that cannot be made.
    """

    _server_type = "stream"
    help = "receive arrays as raw frames and write them to a memory, disk or zarr store"
    data_socket = "ROUTER"

    def __init__(
        self,
        *,
        store: str = "memory",
        root: str | None = None,
        hwm: int = DEFAULT_HWM,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if isinstance(hwm, bool) or not isinstance(hwm, int) or not 1 <= hwm <= ZMQ_INT_MAX:
            raise ValueError(
                f"--hwm {hwm!r} is not a number of messages ZeroMQ can queue; give one from 1 "
                f"to {ZMQ_INT_MAX} (default {DEFAULT_HWM})"
            )
        self.hwm = hwm
        self.store = _Store(store, root)
        self.stored = 0
        self.stored_bytes = 0

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        parser.add_argument(
            "--store",
            choices=STORES,
            default="memory",
            help="where received arrays go (default memory: kept in the server's process)",
        )
        parser.add_argument(
            "--root",
            metavar="PATH",
            help="the store's root, needed for disk (a folder) and zarr (a .zarr store); "
            "received paths are relative to it",
        )
        cls.add_queue_argument(parser)

    @classmethod
    def add_queue_argument(cls, parser: Any) -> None:
        """``--hwm``, the one option of the stream server that is not about its store."""
        parser.add_argument(
            "--hwm",
            type=int,
            default=DEFAULT_HWM,
            metavar="N",
            help="messages queued per peer before senders are held back, 1 or more "
            f"(default {DEFAULT_HWM})",
        )

    def start(self) -> None:
        import zmq

        super().start()
        # No peer can connect before the address is announced, which is after this.
        self._data.setsockopt(zmq.RCVHWM, self.hwm)
        self._data.setsockopt(zmq.SNDHWM, self.hwm)

    def status(self) -> dict[str, Any]:
        return {
            "store": self.store.kind,
            "root": self.store.root,
            "stored": self.stored,
            "stored_bytes": self.stored_bytes,
        }

    # -- the data socket -----------------------------------------------------------------

    def handle_data(self, identity: bytes, frames: list[Any]) -> list[Any] | None:
        from platekit.zmq._protocol import ProtocolError, error, id_of, parse, parts

        request_id = None
        try:
            first, buffers = parts(frames)
            request = parse(first, DATA_SCHEMA)
            request_id = request.get("id")
            kind = request["type"]
            if kind != "save" and buffers:
                raise ProtocolError("invalid", f"a {kind!r} message carries no frames after it")
            answer = getattr(self, "_" + kind)
            reply: list[Any] = answer(request, buffers)
            return reply
        except ProtocolError as exc:
            if request_id is None and frames:
                request_id = id_of(frames[0])
            return [error(exc.code, str(exc), request_id)]
        except Exception as exc:
            return [self._store_error(exc, request_id)]

    def _store_error(self, exc: Exception, request_id: Any) -> bytes:
        from platekit.zmq._protocol import error, header

        code = next((code for code, cls in STORE_ERRORS if isinstance(exc, cls)), None)
        if code is None:
            # A bug or a failure while answering must not end the server.
            return error("internal", f"{type(exc).__name__}: {exc}", request_id)
        if isinstance(exc, OSError):
            path = self.store.outside(os.fspath(exc.filename)) if exc.filename else None
            return header(
                "error",
                id=request_id,
                error=code,
                message=exc.strerror or str(exc),
                errno=exc.errno,
                path=path,
            )
        return error(code, str(exc), request_id)

    def _save(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        from platekit.zmq._protocol import ProtocolError, array_from, header

        if len(buffers) != 1:
            raise ProtocolError(
                "invalid", f"a 'save' message carries one array frame, not {len(buffers)}"
            )
        relative = relative_path(request["path"])
        array = array_from(buffers[0], request["dtype"], request["shape"], self.max_message_bytes)
        if self.store.kind == "memory" and array.nbytes < _KEEP_FRAME_BYTES:
            array = array.copy()
        options: dict[str, Any] = {"overwrite": request.get("overwrite", False)}
        metadata = request.get("metadata")
        if metadata is not None:
            options.update(self.store.metadata_options(metadata))
        self.store.backend.save(array, self.store.inside(relative), **options)
        self.stored += 1
        self.stored_bytes += array.nbytes
        return [header("stored", id=request.get("id"), path=relative, nbytes=array.nbytes)]

    def _load(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        import numpy as np

        from platekit.zmq._protocol import array_fields, header

        relative = relative_path(request["path"])
        data = self.store.backend.load(self.store.inside(relative))
        if not isinstance(data, np.ndarray) or data.dtype.kind not in "biufc":
            raise TypeError(
                f"{relative!r} holds {type(data).__name__} data, not a numeric array; "
                "the stream server sends arrays only"
            )
        array = data if data.flags.c_contiguous else data.copy(order="C")
        fields = array_fields(array)
        return [header("array", id=request.get("id"), path=relative, **fields), array]

    def _list(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        from platekit.zmq._protocol import header

        extensions = request.get("extensions")
        if extensions is not None and not isinstance(extensions, (str, list)):
            raise ValueError("extensions must be a string or a list of file suffixes")
        found = self.store.backend.list_files(
            self.store.inside(relative_path(request.get("directory", ""))),
            pattern=request.get("pattern"),
            extensions=extensions,
            recursive=request.get("recursive", False),
        )
        paths = [self.store.outside(path) for path in found]
        return [header("files", id=request.get("id"), paths=paths)]

    def _list_dir(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        from platekit.zmq._protocol import header

        path = self.store.inside(relative_path(request.get("path", "")))
        names = self.store.backend.list_dir(path)
        return [header("names", id=request.get("id"), names=names)]

    def _exists(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        return self._answer(request, self.store.backend.exists)

    def _is_file(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        return self._answer(request, self.store.backend.is_file)

    def _is_dir(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        return self._answer(request, self.store.backend.is_dir)

    def _answer(self, request: dict[str, Any], question: Any) -> list[Any]:
        from platekit.zmq._protocol import header

        relative = relative_path(request["path"])
        value = bool(question(self.store.inside(relative)))
        return [header("answer", id=request.get("id"), path=relative, value=value)]

    def _delete(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        relative = relative_path(request["path"])
        if not relative:
            raise PermissionError(1, "the store's root cannot be deleted through the server", "")
        recursive = request.get("recursive", False)
        self.store.backend.delete(self.store.inside(relative), recursive=recursive)
        return self._done(request, relative)

    def _ensure_directory(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        relative = relative_path(request["path"])
        self.store.backend.ensure_directory(self.store.inside(relative))
        return self._done(request, relative)

    def _copy(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        return self._transfer(request, self.store.backend.copy)

    def _move(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        return self._transfer(request, self.store.backend.move)

    def _transfer(self, request: dict[str, Any], action: Any) -> list[Any]:
        src, dst = relative_path(request["src"]), relative_path(request["dst"])
        action(
            self.store.inside(src),
            self.store.inside(dst),
            overwrite=request.get("overwrite", False),
        )
        return self._done(request, dst)

    @staticmethod
    def _done(request: dict[str, Any], path: str) -> list[Any]:
        from platekit.zmq._protocol import header

        return [header("done", id=request.get("id"), path=path)]


def relative_path(path: str) -> str:
    """``path`` in one spelling relative to the store's root (``""`` is the root itself).

    Backslashes count as separators and ``.`` parts are dropped. Raises
    :class:`~platekit.zmq.ProtocolError` (code ``bad_path``) for an
    absolute path, a drive letter, a ``..`` part or a NUL character: no
    request reaches outside the store.
    """
    from platekit.zmq._protocol import ProtocolError

    text = path.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or "\x00" in text:
        raise ProtocolError(
            BAD_PATH,
            f"the path {path!r} is not relative to the stream server's store; "
            "give it relative to the store's root (such as 'plate/A01/s1.tif')",
        )
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ProtocolError(
            BAD_PATH,
            f"the path {path!r} climbs out of the stream server's store with '..'; "
            "give a path inside it",
        )
    return "/".join(parts)


class _Store:
    """The server's storage backend, and the way store-relative paths map onto its paths."""

    def __init__(self, kind: str, root: str | None) -> None:
        from platekit.storage import BackendRegistry, MemoryBackend

        if kind not in STORES:
            raise ValueError(f"unknown store {kind!r}; use one of {', '.join(STORES)}")
        self.kind = kind
        self.root: str | None = None
        if kind == "memory":
            if root:
                # Else the arrays stay in memory while their sender looks for them under root.
                raise ValueError(
                    f"--root {root!r} is for the disk and zarr stores, and the memory store "
                    "keeps arrays in the server's process; add --store disk or --store zarr, "
                    "or leave --root out"
                )
            # A store of its own, not the registry's shared instance.
            self.backend: Any = MemoryBackend()
            return
        if not root:
            raise ValueError(f"the {kind} store needs --root PATH (a folder, or a .zarr store)")
        if kind == "zarr" and not root.rstrip("/\\").lower().endswith(".zarr"):
            raise ValueError(f"the zarr store's root {root!r} must be a folder named *.zarr")
        self.root = os.path.abspath(root)
        _make_root(kind, self.root)
        self.backend = BackendRegistry()[kind]

    def inside(self, relative: str) -> str:
        """The backend's path for a store-relative path (already checked)."""
        if self.root is None:
            return "/" + relative
        return os.path.join(self.root, relative) if relative else self.root

    def outside(self, path: str) -> str:
        """The store-relative spelling of a backend path (``""`` for the root)."""
        if self.root is None:
            return path.replace("\\", "/").lstrip("/")
        relative = os.path.relpath(path, self.root).replace(os.sep, "/")
        return "" if relative == "." else posixpath.normpath(relative)

    def metadata_options(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """The backend's save options that keep ``metadata`` with the array.

        Zarr keeps it as the array's attributes, TIFF files as tifffile's
        JSON image description; the memory store keeps arrays only.
        """
        if self.kind == "zarr":
            return {"attributes": metadata}
        if self.kind == "disk":
            return {"metadata": metadata}
        return {}


def _make_root(kind: str, root: str) -> None:
    """Make the store's folder ``root``; an ``OSError`` that says so in one sentence."""
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as exc:
        # makedirs says "File exists" of a file where the folder should be.
        why = "it is a file" if isinstance(exc, FileExistsError) else exc.strerror
        refused = type(exc)(
            f"cannot make the {kind} store's root {root!r} ({why}); choose a folder you can "
            "write to"
        )
        refused.errno = exc.errno
        raise refused from None
