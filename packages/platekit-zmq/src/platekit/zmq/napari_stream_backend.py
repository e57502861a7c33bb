"""The ``napari_stream`` storage backend: arrays saved here become layers of a napari viewer.

The viewer is ``platekit view`` (the ``viewer`` server), a stream server, so
this is the ``zmq_stream`` backend pointed at it: the same protocol, the
same security, the same errors. ``save(plane, "B03/field1/DAPI")`` adds or
updates the layer of that name; ``metadata={"z": 3}`` (and ``"t"``) places
a 2-D plane in that layer's stack. It needs a viewer, so it is left out
under ``PLATEKIT_SUBPROCESS_NO_GPU=1``.
"""

from __future__ import annotations

import os

from platekit.zmq.stream_backend import ZmqStreamBackend

#: The variable holding the viewer's data address, for backends made without one.
ADDRESS_ENV = "PLATEKIT_NAPARI_STREAM"


class NapariStreamBackend(ZmqStreamBackend):
    """Sends each saved array to a napari viewer started by ``platekit view``.

    ``address`` is the viewer's **data** address, or ``PLATEKIT_NAPARI_STREAM``
    when not given; everything else is :class:`~platekit.zmq.ZmqStreamBackend`'s.
    """

    _backend_type = "napari_stream"
    _requires_gpu = True

    @property
    def address(self) -> str:
        """The viewer's data address: the one given, or ``PLATEKIT_NAPARI_STREAM``.

        Raises ``RuntimeError`` saying how to give one when there is neither.
        """
        address = self._address or os.environ.get(ADDRESS_ENV, "").strip()
        if not address:
            raise RuntimeError(
                f"the {self.name} storage backend does not know which viewer to send to: set "
                f"{ADDRESS_ENV} to the data address 'platekit view' prints (such as "
                "tcp://127.0.0.1:5556), or make the backend with NapariStreamBackend(address=...)"
            )
        return address

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} address={self._address or ADDRESS_ENV!r}>"
