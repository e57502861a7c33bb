"""The viewer server's window: napari on the main thread, the sockets on another.

The window shows, at most every :data:`REDRAW_SECONDS`, the newest data of
each layer that changed, so a fast sender is never held back by the display
(planes that arrive between two redraws are shown together). Work
the sockets' thread needs done on the window (listing layers, a
screenshot) is queued to it and waited for. The window closes when the
server stops (``shutdown``, a signal, the launcher gone), and closing the
window stops the server.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from concurrent.futures import Future

from platekit.zmq._layers import describe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from platekit.zmq.servers.viewer import ViewerServer

#: How often the window looks for queued work (ms).
TICK_MS = 40
#: The least time between two redraws of streamed data (s): a redraw of large images in
#: software OpenGL costs a core, which the programs sending them need more.
REDRAW_SECONDS = 0.25


class ViewerWindow:
    """One napari viewer showing a :class:`ViewerServer`'s layers."""

    def __init__(self, server: ViewerServer, title: str) -> None:
        self.server = server
        self.title = title
        self._work: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self.viewer: Any = None
        self._closing = False
        self._drawn = 0.0

    def call(self, work: Callable[[], Any], timeout: float) -> Any:
        """Run ``work()`` on the window's thread and return its result (from another thread).

        Raises ``TimeoutError`` when the window does not get to it within ``timeout`` s.
        """
        done: Future[Any] = Future()
        self._work.put((work, done))
        return done.result(timeout)

    def run(self, serve: Callable[[], None]) -> None:
        """Open the viewer, serve the sockets with ``serve`` on a thread, and run Qt until done."""
        import napari
        from qtpy.QtCore import QTimer

        _lower_priority(self.server.nice)

        self.viewer = napari.Viewer(title=self.title, show=True)
        sockets = threading.Thread(target=serve, name="platekit-viewer-sockets", daemon=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Run between two ticks, which give Python the main thread back.
            signal.signal(signum, lambda *_: self.server.stop())
        timer = QTimer()
        timer.timeout.connect(lambda: self._tick(sockets))
        timer.start(TICK_MS)
        self.server.window = self
        sockets.start()
        try:
            napari.run(gui_exceptions=False)
        finally:
            timer.stop()
            self.server.window = None
            self.server.stop()
            sockets.join(timeout=5)

    def _tick(self, sockets: threading.Thread) -> None:
        if not sockets.is_alive():
            if not self._closing:
                self._closing = True
                self.viewer.close()
            return
        now = time.monotonic()
        if now - self._drawn >= REDRAW_SECONDS:
            self._drawn = now
            self._show(self.server.layers.take_changed())
        for _ in range(self._work.qsize()):
            work, done = self._work.get_nowait()
            if done.set_running_or_notify_cancel():
                try:
                    done.set_result(work())
                except Exception as exc:  # handed to the waiting thread, which answers with it
                    done.set_exception(exc)

    def _show(self, changed: list[tuple[str, Any]]) -> None:
        first = len(self.viewer.layers) == 0
        for name, data in changed:
            if name in self.viewer.layers:
                layer = self.viewer.layers[name]
                if layer.data.shape == data.shape and layer.data.dtype == data.dtype:
                    layer.data = data
                    continue
                self.viewer.layers.remove(name)
            self.viewer.add_image(data, name=name, blending="additive")
        if first and changed:
            self.viewer.reset_view()

    def describe_layers(self) -> list[dict[str, Any]]:
        """Every layer the viewer holds: name, shape, dtype, SHA-256 of its data."""
        self._show(self.server.layers.take_changed())
        return [describe(layer.name, layer.data) for layer in self.viewer.layers]

    def screenshot(self) -> Any:
        """The canvas as an RGBA uint8 array, with everything received so far shown."""
        self._show(self.server.layers.take_changed())
        return self.viewer.screenshot(canvas_only=True, flash=False)


def _lower_priority(nice: int) -> None:
    """Lower this process's CPU priority by ``nice`` where the system has priorities."""
    import os

    if nice and hasattr(os, "nice"):
        try:
            os.nice(nice)
        except OSError:
            pass  # not allowed here: the viewer runs at the priority it has
