"""The viewer server: a napari viewer that is also a stream server.

It speaks the stream server's protocol on its data socket, under the same
rules (loopback unless CURVE keys, no pickle, paths inside the store): an
array saved under ``B03/field1/DAPI`` adds or updates the layer of that
name, and planes saved with ``z`` or ``t`` in their metadata are stacked
into one layer (see :mod:`platekit.zmq._layers`). Each layer is also kept
in the server's memory store, so ``load`` and ``list`` read it back.

The sockets are served on a thread of their own and napari runs on the main
thread: receiving never waits for the display, which shows the newest data
of each layer whenever it is ready. The control socket answers, beyond
``ping``, ``status`` and ``shutdown``, ``layers`` (what the viewer holds:
names, shapes, checksums) and ``screenshot`` (the canvas as RGBA pixels,
stored at a path of the store to be loaded).
"""

from __future__ import annotations

import os
import sys

from platekit.zmq._protocol import Field
from platekit.zmq.servers.stream import _KEEP_FRAME_BYTES, StreamServer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from platekit.zmq._protocol import Schema

#: How long a control request waits for the viewer's window to answer (s).
WINDOW_TIMEOUT = 20.0
#: How much lower the viewer's CPU priority is by default (Unix niceness): the work it
#: shows comes first on a busy machine, and it draws whenever a core is free.
DEFAULT_NICE = 10


class ViewerUnavailable(OSError):
    """napari, its Qt binding or a display is missing: the viewer cannot open."""


class ViewerServer(StreamServer):
    """A napari viewer whose layers are the arrays streamed to it.

    Takes the stream server's options (``store`` must stay ``memory``, so
    ``platekit serve viewer`` offers neither ``--store`` nor ``--root``),
    ``title``, the window's title, and ``nice``, how much to lower the
    viewer's CPU priority (0 to 19, :data:`DEFAULT_NICE` by default; Unix
    only). Raises ``ValueError`` for a ``nice`` outside 0 to 19, and
    :class:`ViewerUnavailable` (an ``OSError``) when napari with a Qt binding
    is not installed or there is no display to open a window on, saying what
    to do.
    """

    _server_type = "viewer"
    help = "a napari viewer showing the arrays streamed to it, one layer per path"
    schema: Schema = {  # noqa: RUF012 - replaced per class, never mutated
        "layers": {},
        "screenshot": {"path": Field("str")},
    }

    def __init__(
        self, *, title: str = "platekit", nice: int = DEFAULT_NICE, **options: Any
    ) -> None:
        from platekit.zmq._layers import LayerStack

        if isinstance(nice, bool) or not isinstance(nice, int) or not 0 <= nice <= 19:
            raise ValueError(f"--nice {nice!r} is not a niceness; give a number from 0 to 19")
        if options.get("store", "memory") != "memory":
            raise ValueError("the viewer server keeps its layers in memory; leave --store out")
        super().__init__(**options)  # the stream server's rules on binding come first
        _check_display()
        self.title = title
        self.nice = nice
        self.layers = LayerStack()
        self.window: Any = None

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        """The stream server's options but those of its store, then ``--title`` and ``--nice``."""
        # No --store or --root: the viewer's layers are always in memory.
        cls.add_queue_argument(parser)
        parser.add_argument(
            "--title", default="platekit", help="the viewer window's title (default platekit)"
        )
        parser.add_argument(
            "--nice",
            type=int,
            default=DEFAULT_NICE,
            metavar="N",
            help=f"lower the viewer's CPU priority by N, 0 to 19 (default {DEFAULT_NICE}), so "
            "the work it shows comes first on a busy machine",
        )

    def serve_forever(self) -> None:
        """Open the viewer and serve until it is closed, stopped, or the launcher ends."""
        from platekit.zmq._viewer_window import ViewerWindow

        ViewerWindow(self, self.title).run(super().serve_forever)

    def status(self) -> dict[str, Any]:
        return {**super().status(), "window": self.window is not None}

    # -- the control socket ----------------------------------------------------------------

    def handle(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        from platekit.zmq._protocol import ProtocolError, header

        if self.window is None:
            raise ProtocolError("not_ready", "the viewer window is not open yet; ask again")
        if request["type"] == "layers":
            layers = self.window.call(self.window.describe_layers, WINDOW_TIMEOUT)
            return [header("layers", id=request.get("id"), layers=layers)]
        from platekit.zmq.servers.stream import relative_path

        relative = relative_path(request["path"])
        picture = self.window.call(self.window.screenshot, WINDOW_TIMEOUT)
        self.store.backend.save(picture, self.store.inside(relative), overwrite=True)
        return [header("stored", id=request.get("id"), path=relative, shape=list(picture.shape))]

    # -- the data socket -------------------------------------------------------------------

    def _save(self, request: dict[str, Any], buffers: list[Any]) -> list[Any]:
        from platekit.zmq._protocol import ProtocolError, array_from, header
        from platekit.zmq.servers.stream import BAD_PATH, relative_path

        if len(buffers) != 1:
            raise ProtocolError(
                "invalid", f"a 'save' message carries one array frame, not {len(buffers)}"
            )
        relative = relative_path(request["path"])
        if not relative:
            raise ProtocolError(BAD_PATH, "a layer needs a name; give a path such as 'B03/DAPI'")
        array = array_from(buffers[0], request["dtype"], request["shape"], self.max_message_bytes)
        if array.nbytes < _KEEP_FRAME_BYTES:
            array = array.copy()
        layer = self.layers.put(relative, array, request.get("metadata"))
        # Always replaced: saving under a layer's name again updates that layer.
        self.store.backend.save(layer, self.store.inside(relative), overwrite=True)
        self.stored += 1
        self.stored_bytes += array.nbytes
        return [header("stored", id=request.get("id"), path=relative, nbytes=array.nbytes)]


def _check_display() -> None:
    """Raise :class:`ViewerUnavailable` when napari could not open a window here."""
    import importlib.util

    missing = [name for name in ("napari", "qtpy") if importlib.util.find_spec(name) is None]
    if all(importlib.util.find_spec(qt) is None for qt in ("PySide6", "PyQt6", "PyQt5", "PySide2")):
        missing.append("a Qt binding (PySide6)")
    if missing:
        from platekit.registry._install import install_command

        raise ViewerUnavailable(
            f"the viewer needs napari with a Qt binding, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed: "
            f"{install_command('platekit-microscopes', 'napari')}"
        )
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM")
    ):
        raise ViewerUnavailable(
            "the viewer opens a window and there is no display (DISPLAY is not set); run it "
            "in a desktop session, or under a virtual one such as 'xvfb-run platekit view'"
        )
