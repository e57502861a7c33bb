"""The napari plugin: plates open in napari as lazy layers, one per channel.

napari finds it through the ``napari.manifest`` entry point (``napari.yaml``
beside this file); install it with ``platekit-microscopes[napari]``.
:func:`plate_layers` gives the same layer data without napari.
"""

from platekit.microscopes.napari._reader import get_reader, plate_layers

__all__ = ["get_reader", "plate_layers"]
