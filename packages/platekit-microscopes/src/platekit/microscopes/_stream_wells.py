"""Showing a conversion's wells in a viewer as they are written, never holding it back.

``convert(..., stream_to=ADDRESS)`` sends each well, once complete, to the
viewer (``platekit view``) at that data address: every field and channel as
one layer named ``B03/field1/DAPI`` holding its ``t`` and ``z`` planes, read
back from the output's smallest resolution level and shown at most
:data:`PREVIEW_SIDE` pixels a side (every n-th pixel of a larger field). The sending is done on a
thread of its own: the conversion only tells it that a well is done. When
the viewer falls behind, the wells it has not yet shown beyond the newest
:data:`BACKLOG` are dropped; when it does not answer, nothing more is sent.
Either is said once, as a warning of the ``platekit.microscopes`` logger.
"""

from __future__ import annotations

import logging
import re
import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from platekit.microscopes._plan import Progress
    from platekit.microscopes._run import _Job

#: Completed wells waiting to be shown beyond which the oldest are dropped.
BACKLOG = 4
#: The longest side of a field as shown: larger fields are shown as every n-th pixel.
PREVIEW_SIDE = 512
#: How much lower the sending thread's CPU priority is than the conversion's (Linux).
NICENESS = 10
#: Seconds one send may wait for the viewer before it counts as gone.
SEND_TIMEOUT = 5.0
#: Seconds the end of a conversion waits for the last wells to be shown.
CLOSE_GRACE = 2.0

_log = logging.getLogger("platekit.microscopes")


class WellStream:
    """Sends a conversion's newly completed wells to the viewer at ``address``.

    Raises ``ValueError`` for an ``address`` that is not a ZeroMQ address
    (``tcp://HOST:PORT``, ``ipc://PATH``) and ``KeyError`` (naming what to
    install) when no streaming storage backend is installed (platekit-zmq),
    before anything is written.
    """

    def __init__(self, address: str) -> None:
        if not re.fullmatch(r"tcp://\S+:\d+|ipc://\S+", address):
            raise ValueError(
                f"stream_to {address!r} is not a viewer's data address; give the one "
                "'platekit view' prints, such as tcp://127.0.0.1:5556"
            )
        self.address = address
        self.sent_wells: list[str] = []
        self.dropped_wells: list[str] = []
        self.gone = False
        self._backend = _sender(address)
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="platekit-well-stream", daemon=True)

    def start(self, job: _Job) -> None:
        """Begin watching ``job`` (prepared): the wells it completes from now on are shown."""
        self.job = job
        self._seen = len(job.results)
        self._thread.start()

    def watch(self, progress: Callable[[Progress], None] | None) -> Callable[[Progress], None]:
        """``progress`` that also wakes the sender: what the conversion calls as it goes."""

        def called(state: Progress) -> None:
            self._wake.set()
            if progress is not None:
                progress(state)

        return called

    def close(self) -> None:
        """Show what is left, waiting at most :data:`CLOSE_GRACE` seconds, then stop.

        Called while an exception ends the conversion (a cancel, Ctrl-C, an
        error), it does not wait: what was not shown is dropped.
        """
        self._closing = True
        if not self._thread.is_alive():
            self._backend.close()
            return
        ending = sys.exc_info()[0] is not None
        if ending:
            self.gone = True  # nothing more is sent, and nothing more said
        self._wake.set()
        self._thread.join(0 if ending else CLOSE_GRACE)
        if not self._thread.is_alive():
            self._backend.close()
        else:
            self._stop_sending(
                "the viewer at %s has not taken the last wells within %g s; the conversion "
                "ends without showing them",
                self.address,
                CLOSE_GRACE,
            )

    def _stop_sending(self, message: str, *args: object) -> None:
        """Send nothing more, and say why (once: the first reason is the one said)."""
        if not self.gone:
            self.gone = True
            _log.warning(message, *args)

    def _run(self) -> None:
        _lower_priority()
        while True:
            self._wake.wait()
            self._wake.clear()
            wells = self._completed()
            if len(wells) > BACKLOG:
                skipped, wells = wells[:-BACKLOG], wells[-BACKLOG:]
                if not self.dropped_wells:
                    _log.warning(
                        "the viewer at %s shows wells more slowly than they are converted; "
                        "some wells are not shown, starting with %s",
                        self.address,
                        skipped[0],
                    )
                self.dropped_wells += skipped
            for well in wells:
                if self.gone:
                    self.dropped_wells.append(well)
                    continue
                try:
                    self._send(well)
                    self.sent_wells.append(well)
                except Exception as exc:  # the conversion goes on whatever the viewer does
                    self.dropped_wells.append(well)
                    self._stop_sending(
                        "the viewer at %s cannot be sent well %s (%s); the conversion goes on "
                        "without showing its wells",
                        self.address,
                        well,
                        exc,
                    )
            if self._closing and not self._wake.is_set():
                return

    def _completed(self) -> list[str]:
        results = self.job.results
        new, self._seen = results[self._seen :], len(results)
        return [result.well for result in new]

    def _send(self, well: str) -> None:
        import numpy as np

        from platekit.microscopes._well_writer import well_group

        plan = self.job.plan
        meta = plan.meta
        level = plan.levels - 1
        names = [channel.name for channel in meta.channels.values()]
        group = well_group(self.job.out, well)
        layers, paths = [], []
        for field_index, site in enumerate(meta.sites):
            # Through the conversion's own backend: a local store or object storage alike.
            pixels = self.job.backend.load(f"{group}/{field_index}/{level}")
            pixels = _tczyx(pixels, plan.axes)
            step = -(-max(pixels.shape[-2:]) // PREVIEW_SIDE)
            if step > 1:
                # A preview: every step-th pixel, so the viewer draws (and we send) far less.
                pixels = np.ascontiguousarray(pixels[..., ::step, ::step])
            for channel_index, name in enumerate(names):
                stack = pixels[:, channel_index]
                # Only the axes the plate has: a single plane is a 2-D layer.
                keep = tuple(i for i, size in enumerate(stack.shape[:2]) if size > 1)
                layers.append(stack.reshape(*(stack.shape[i] for i in keep), *stack.shape[2:]))
                paths.append(f"{well}/field{site}/{name}")
        # Replaced, not refused: a well converted again shows anew.
        self._backend.save_batch(layers, paths, overwrite=True)


def _lower_priority() -> None:
    """Give this thread a lower CPU priority where the system allows it (Linux threads)."""
    import os
    import sys

    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        except OSError:
            pass


def _tczyx(pixels: Any, axes: list[str]) -> Any:
    """A field's array with all five axes ``t, c, z, y, x``, those it lacks of size 1."""
    import numpy as np

    present = list(axes)
    for axis in ("t", "c", "z"):
        if axis not in present:
            pixels = pixels[np.newaxis]
            present.insert(0, axis)
    return np.moveaxis(pixels, [present.index(a) for a in "tczyx"], range(5))


def _sender(address: str) -> Any:
    """A streaming storage backend sending to ``address``: napari_stream, else zmq_stream."""
    from platekit.storage import BackendRegistry

    classes = BackendRegistry().classes
    # napari_stream is left out under PLATEKIT_SUBPROCESS_NO_GPU=1; zmq_stream speaks the same.
    for name in ("napari_stream", "zmq_stream"):
        try:
            cls: Any = classes[name]
        except KeyError:
            continue
        return cls(address, timeout=SEND_TIMEOUT, window=2)
    raise KeyError(
        f"stream_to={address!r} needs platekit-zmq, which sends images to a viewer: "
        "pip install platekit-zmq"
    )
