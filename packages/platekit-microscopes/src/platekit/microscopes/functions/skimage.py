"""The ``skimage`` function library: scikit-image's filters, morphology, exposure, measure,
segmentation and transform functions.

The class exists only where scikit-image can be imported (``pip install
scikit-image``). Elsewhere this module defines no library, so ``skimage`` is
not among the keys of :data:`~platekit.microscopes.functions.FUNCTION_LIBRARIES`.
Whether it is installed is found with ``importlib.util.find_spec``, without
importing it: scikit-image takes about a second to import, and this module is
imported whenever function libraries are discovered.

Functions are named ``<submodule>.<function>`` (``"filters.gaussian"``),
tagged with their submodule, and listed by walking the public functions of
each submodule, only when the cached listing is missing or stale (a new
scikit-image version, for one).
"""

from __future__ import annotations

import importlib.util

from platekit.microscopes.functions import FunctionLibrary

__all__ = ["SkimageLibrary"]

#: The scikit-image submodules the library lists, in this order.
SUBMODULES = ("filters", "morphology", "exposure", "measure", "segmentation", "transform")


def _skimage_installed() -> bool:
    """Whether ``skimage`` can be imported here, found without importing it."""
    try:
        return importlib.util.find_spec("skimage") is not None
    except (ImportError, ValueError):
        return False


if _skimage_installed():

    class SkimageLibrary(FunctionLibrary):
        """scikit-image's public functions, from the submodules in :data:`SUBMODULES`."""

        _library_name = "skimage"
        display_name = "scikit-image"
        distribution = "scikit-image"
        modules = tuple(f"skimage.{name}" for name in SUBMODULES)

        def function_name(self, module: str, attribute: str) -> str:
            return f"{module.rpartition('.')[2]}.{attribute}"

        def tags_for(self, module: str, attribute: str) -> tuple[str, ...]:
            return (module.rpartition(".")[2],)
