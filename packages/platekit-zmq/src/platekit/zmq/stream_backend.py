"""The ``zmq_stream`` storage backend: arrays saved here land in a stream server's store.

``FileManager(BackendRegistry()).save(image, "plate/A01/s1.tif", "zmq_stream")``
sends the array, without copying it, to the stream server whose data
address is in ``PLATEKIT_ZMQ_STREAM`` (``platekit serve stream`` prints it;
``launch_server("stream").data_address`` gives it), and returns once the
server says it is stored. Nothing here needs a GPU or a viewer.
"""

from __future__ import annotations

import itertools
import json
import os
import threading

from platekit.storage import StorageBackend

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Sequence
    from typing import Any

    PathLike = str | os.PathLike[str]

#: The variable holding the stream server's data address, for backends made without one.
ADDRESS_ENV = "PLATEKIT_ZMQ_STREAM"
#: Seconds a request waits for its reply by default.
DEFAULT_TIMEOUT = 10.0
#: Arrays a batch keeps in flight by default before waiting for the server's acknowledgements.
DEFAULT_WINDOW = 8
# The largest array a reply may describe: replies come from the server this backend chose.
_MAX_ITEMS = 1 << 62


class ZmqStreamBackend(StorageBackend):
    """Sends each saved array to a stream server, which writes it to its store.

    ``address`` is the stream server's **data** address
    (``tcp://127.0.0.1:PORT``); without one, the ``PLATEKIT_ZMQ_STREAM``
    environment variable is read when the backend is first used (which is
    how ``BackendRegistry()["zmq_stream"]`` finds its server). Paths are
    relative to the server's store; the server refuses absolute paths and
    ``..`` with ``ValueError``.

    Every request waits at most ``timeout`` seconds for its reply, then
    raises :class:`~platekit.zmq.ServerGone` (a ``TimeoutError``) naming
    the address. :meth:`save_batch` keeps up to ``window`` arrays in flight,
    so a batch streams at the network's pace while its memory stays bounded
    by ``window`` arrays. ``curve`` holds CURVE socket options (from
    :func:`platekit.zmq.client_keys`) for a server bound beyond loopback.
    One backend may be shared by threads; their requests take turns.
    Pickled (a Dask task sends it to a worker), it carries its settings,
    not its socket: the copy opens its own connection on first use, to the
    same address (or the ``PLATEKIT_ZMQ_STREAM`` of the process it lands in).

    Store failures come back as the exceptions the contract names
    (``FileNotFoundError``, ``FileExistsError``, ...); other error replies
    raise :class:`~platekit.zmq.ServerError`. A message larger than the
    server's ``--max-message-bytes`` is dropped by the server, and the
    sender sees a timeout.
    """

    _backend_type = "zmq_stream"
    _requires_gpu = False
    #: Data saved here goes to another process as it is written.
    _streaming = True

    def __init__(
        self,
        address: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        window: int = DEFAULT_WINDOW,
        curve: dict[Any, Any] | None = None,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a whole number of at least 1, not {window!r}")
        self._address = address
        self.timeout = float(timeout)
        self.window = window
        self._curve = dict(curve or {})
        self._socket: Any = None
        self._connected_to = ""
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    @property
    def address(self) -> str:
        """The stream server's data address: the one given, or ``PLATEKIT_ZMQ_STREAM``.

        Raises ``RuntimeError`` saying how to give one when there is neither.
        """
        if self._address:
            return self._address
        address = os.environ.get(ADDRESS_ENV, "").strip()
        if not address:
            raise RuntimeError(
                f"the {self.name} storage backend does not know which stream server to send "
                f"to: set {ADDRESS_ENV} to the server's data address (such as "
                "tcp://127.0.0.1:5556, printed by 'platekit serve stream'), or make the "
                "backend with ZmqStreamBackend(address=...)"
            )
        return address

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} address={self._address or ADDRESS_ENV!r}>"

    def __getstate__(self) -> dict[str, Any]:
        # A socket cannot cross to another process: the copy connects anew on first use.
        return {
            "address": self._address,
            "timeout": self.timeout,
            "window": self.window,
            "curve": self._curve,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        ZmqStreamBackend.__init__(
            self,
            state["address"],
            timeout=state["timeout"],
            window=state["window"],
            curve=state["curve"],
        )

    # -- writing -------------------------------------------------------------------------

    def save(self, data: Any, path: PathLike, *, overwrite: bool = False, **kwargs: Any) -> None:
        """Send the array ``data`` to be stored at ``path``; return once it is stored.

        ``metadata=`` (a JSON-safe dict) travels with it: a zarr store keeps
        it as the array's attributes, a disk store in the TIFF's description.
        Raises ``TypeError`` for data that is not a numeric numpy array (or
        ``__array__`` object), metadata that is not JSON, or another option;
        ``FileExistsError`` as the contract says; ``ValueError`` for a path
        the server refuses; :class:`~platekit.zmq.ServerGone` on timeout.
        """
        metadata = _options(kwargs, "save")
        with self._lock:
            self._stream([(data, path, metadata)], overwrite)

    def save_batch(
        self,
        items: Sequence[Any],
        paths: Sequence[PathLike],
        *,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> None:
        """Send each array to be stored at the path in the same position.

        Up to ``window`` arrays are in flight at once; the call returns when
        every one is stored. ``metadata=`` is a sequence of dicts (or
        ``None``), one per item. On the first failure no further array is
        sent; those already in flight may still be stored, and the failure
        is raised once they are answered. Raises ``ValueError`` before
        sending anything when the sequences differ in length.
        """
        metadata = _options(kwargs, "save_batch")
        if len(items) != len(paths):
            raise ValueError(
                f"save_batch got {len(items)} items for {len(paths)} paths; pass one path per item"
            )
        if metadata is None:
            each: Sequence[Any] = [None] * len(items)
        elif isinstance(metadata, dict) or len(metadata) != len(items):
            raise ValueError("save_batch takes metadata as a sequence of dicts, one per item")
        else:
            each = metadata
        with self._lock:
            self._stream(zip(items, paths, each, strict=True), overwrite)

    def _stream(self, work: Iterable[tuple[Any, PathLike, Any]], overwrite: bool) -> None:
        """Send each (data, path, metadata), at most ``window`` unanswered at once."""
        from platekit.zmq._protocol import array_fields

        pending = iter(work)
        # Request id -> (path, array): the array stays referenced until it is stored,
        # since ZeroMQ sends from its memory.
        in_flight: dict[int, tuple[str, Any]] = {}
        failure: BaseException | None = None
        while True:
            while failure is None and len(in_flight) < self.window:
                item = next(pending, None)
                if item is None:
                    break
                data, path, metadata = item
                try:
                    text = _path(path)
                    array = _array(data, text, self.name)
                    fields: dict[str, Any] = {"path": text, **array_fields(array)}
                    if overwrite:
                        fields["overwrite"] = True
                    if metadata is not None:
                        fields["metadata"] = _metadata(metadata, text)
                    in_flight[self._send("save", fields, [array])] = (text, array)
                except (TypeError, ValueError) as exc:
                    failure = exc
                    break
            if not in_flight:
                break
            reply, _ = self._receive(in_flight, "save")
            in_flight.pop(reply["id"])
            if reply.get("type") == "error" and failure is None:
                failure = self._failure(reply)
        if failure is not None:
            raise failure

    def delete(self, path: PathLike, *, recursive: bool = False) -> None:
        self._ask("delete", path=_path(path), recursive=recursive)

    def ensure_directory(self, path: PathLike) -> str:
        text = _path(path)
        self._ask("ensure_directory", path=text)
        return text

    def copy(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        self._ask("copy", src=_path(src), dst=_path(dst), overwrite=overwrite)

    def move(self, src: PathLike, dst: PathLike, *, overwrite: bool = False) -> None:
        self._ask("move", src=_path(src), dst=_path(dst), overwrite=overwrite)

    # -- reading -------------------------------------------------------------------------

    def load(self, path: PathLike, **kwargs: Any) -> Any:
        """The array stored at ``path`` on the server (received without a copy)."""
        if kwargs:
            raise TypeError(
                f"the {self.name} backend's load() takes no options, got {sorted(kwargs)}"
            )
        from platekit.zmq._protocol import array_from

        reply, frames = self._ask("load", path=_path(path))
        if len(frames) != 1:
            raise ValueError(f"the stream server at {self.address} sent {len(frames)} array frames")
        return array_from(frames[0], reply.get("dtype"), reply.get("shape"), _MAX_ITEMS)

    def list_files(
        self,
        directory: PathLike,
        *,
        pattern: str | None = None,
        extensions: Iterable[str] | None = None,
        recursive: bool = False,
    ) -> list[str]:
        from platekit.storage import name_filter

        name_filter(pattern, extensions)  # the same errors as every backend, before asking
        fields: dict[str, Any] = {"directory": _path(directory), "recursive": recursive}
        if pattern is not None:
            fields["pattern"] = pattern
        if extensions is not None:
            fields["extensions"] = extensions if isinstance(extensions, str) else list(extensions)
        reply, _ = self._ask("list", **fields)
        return list(reply["paths"])

    def list_dir(self, path: PathLike) -> list[str]:
        reply, _ = self._ask("list_dir", path=_path(path))
        return list(reply["names"])

    def exists(self, path: PathLike) -> bool:
        return bool(self._ask("exists", path=_path(path))[0]["value"])

    def is_file(self, path: PathLike) -> bool:
        return bool(self._ask("is_file", path=_path(path))[0]["value"])

    def is_dir(self, path: PathLike) -> bool:
        return bool(self._ask("is_dir", path=_path(path))[0]["value"])

    # -- the socket ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        with self._lock:
            self._close()

    def __del__(self) -> None:
        # A backend kept by a registry is never closed by hand; its socket goes with it.
        try:
            self._close()
        except Exception:
            pass

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def _connect(self) -> Any:
        import zmq
        from platekit.zmq._address import check_address, connect

        address = check_address(self.address)
        if self._socket is not None and self._connected_to != address:
            self._close()
        if self._socket is None:
            socket: Any = zmq.Context.instance().socket(zmq.DEALER)
            socket.setsockopt(zmq.LINGER, 0)
            # The window bounds what is queued; the marks only keep a stray burst bounded.
            socket.setsockopt(zmq.SNDHWM, self.window + 1)
            socket.setsockopt(zmq.RCVHWM, self.window + 1)
            socket.setsockopt(zmq.SNDTIMEO, int(self.timeout * 1000))
            for option, value in self._curve.items():
                socket.setsockopt(option, value)
            connect(socket, address)
            self._socket = socket
            self._connected_to = address
        return self._socket

    def _send(self, kind: str, fields: dict[str, Any], buffers: Sequence[Any] = ()) -> int:
        import zmq
        from platekit.zmq._protocol import MAX_HEADER_BYTES, header

        request_id = next(self._ids)
        head = header(kind, id=request_id, **fields)
        if len(head) > MAX_HEADER_BYTES:
            raise ValueError(
                f"the {kind!r} request's header is {len(head)} bytes, more than the "
                f"{MAX_HEADER_BYTES} a server takes; send less metadata"
            )
        socket = self._connect()
        try:
            socket.send_multipart([b"", head, *buffers], copy=False)
        except zmq.Again:
            raise self._gone(kind) from None
        return request_id

    def _receive(self, waiting: Collection[int], kind: str) -> tuple[dict[str, Any], list[Any]]:
        """The next reply to one of the ``waiting`` request ids: its header and frames."""
        import time

        import zmq

        socket: Any = self._socket
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not socket.poll(int(left * 1000) + 1, zmq.POLLIN):
                raise self._gone(kind)
            frames = socket.recv_multipart(copy=False)
            body = frames[1:] if frames and len(frames[0]) == 0 else frames
            if not body:
                continue
            try:
                reply = json.loads(body[0].bytes)
            except ValueError:
                continue
            if isinstance(reply, dict) and reply.get("id") in waiting:
                return reply, list(body[1:])
            # A reply to a request that timed out earlier, or one without an id: not ours.

    def _ask(self, kind: str, **fields: Any) -> tuple[dict[str, Any], list[Any]]:
        """Send one request and return its reply (header and frames), raising its error."""
        with self._lock:
            request_id = self._send(kind, fields)
            reply, frames = self._receive((request_id,), kind)
        if reply.get("type") == "error":
            raise self._failure(reply)
        return reply, frames

    def _gone(self, kind: str) -> BaseException:
        from platekit.zmq._client import ServerGone

        # A late reply must not be taken for the next request's: start afresh.
        self._close()
        return ServerGone(
            f"no reply from the stream server at {self._connected_to or self.address} within "
            f"{self.timeout:g} s to {kind!r}; is it running? Start one with "
            f"'platekit serve stream' and give the backend its data address"
        )

    def _failure(self, reply: dict[str, Any]) -> BaseException:
        """The exception an error reply stands for."""
        from platekit.zmq._client import ServerError
        from platekit.zmq.servers.stream import BAD_PATH, STORE_ERRORS

        code = reply.get("error", "error")
        message = str(reply.get("message", ""))
        where = f"the stream server at {self._connected_to}, through the {self.name} backend"
        kinds = dict(STORE_ERRORS)
        if code in kinds:
            cls = kinds[code]
            if issubclass(cls, OSError):
                errno = reply.get("errno")
                return cls(
                    errno if isinstance(errno, int) else 0,
                    f"{message}, on {where}",
                    reply.get("path"),
                )
            return cls(f"{message} ({where})")
        if code in (BAD_PATH, "invalid", "too_large", "malformed"):
            return ValueError(f"{message} ({where})")
        return ServerError(code, f"{message} ({where})", reply)


def _options(kwargs: dict[str, Any], method: str) -> Any:
    """The ``metadata`` option, after refusing any other."""
    metadata = kwargs.pop("metadata", None)
    if kwargs:
        raise TypeError(
            f"the zmq_stream backend's {method}() takes overwrite= and metadata=, "
            f"not {', '.join(sorted(kwargs))}"
        )
    return metadata


def _path(path: PathLike) -> str:
    text = os.fspath(path)
    if not isinstance(text, str):
        raise TypeError(f"paths are text, not {type(text).__name__}: {text!r}")
    return text


def _array(data: Any, path: str, backend: str) -> Any:
    """``data`` as a C-contiguous numeric array (a copy only when it was not contiguous)."""
    import numpy as np

    if not isinstance(data, np.ndarray):
        if not hasattr(data, "__array__") or isinstance(data, (str, bytes, dict, list, tuple)):
            raise TypeError(
                f"the {backend} backend sends numeric numpy arrays (or objects with "
                f"__array__), not {type(data).__name__}, to {path!r}; keep other data in "
                "the disk or memory backend"
            )
        data = np.asarray(data)
    if data.dtype.kind not in "biufc" or data.dtype.fields is not None:
        raise TypeError(
            f"the {backend} backend sends plain numeric arrays (bool, int, uint, float, "
            f"complex), not dtype {data.dtype}, to {path!r}"
        )
    # Not np.ascontiguousarray, which turns a 0-D array into a 1-D one.
    return data if data.flags.c_contiguous else data.copy(order="C")


def _metadata(metadata: Any, path: str) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata for {path!r} must be a dict, not {type(metadata).__name__}")
    try:
        # Round-tripped so that what travels is plain JSON (no tuples or numpy scalars left).
        plain: dict[str, Any] = json.loads(json.dumps(metadata, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metadata for {path!r} must be JSON-safe: {exc}") from None
    return plain
