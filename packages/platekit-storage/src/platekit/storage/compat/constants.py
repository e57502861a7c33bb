"""polystore's ``Backend`` names, as an enum of strings."""

from __future__ import annotations

from enum import Enum


class Backend(Enum):
    """Names of storage backends, as polystore spells them."""

    AUTO = "auto"
    DISK = "disk"
    MEMORY = "memory"
    ZARR = "zarr"
    OME_ZARR = "ome_zarr"
    STREAMING = "streaming"
    NAPARI_STREAM = "napari_stream"
    FIJI_STREAM = "fiji_stream"
    OMERO_LOCAL = "omero_local"
    VIRTUAL_WORKSPACE = "virtual_workspace"
    BIOFORMATS = "bioformats"


__all__ = ["Backend"]
