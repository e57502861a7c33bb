"""The ``platekit`` function library: :mod:`platekit.microscopes.functions.arrays`."""

from __future__ import annotations

from platekit.microscopes.functions import FunctionLibrary

__all__ = ["PlatekitLibrary"]

_TAGS = {
    "max_projection": ("projection",),
    "mean_projection": ("projection",),
    "normalize_percentile": ("normalization", "intensity"),
    "downsample_mean": ("pyramid", "resampling"),
}


class PlatekitLibrary(FunctionLibrary):
    """platekit's own numpy functions: projections, percentile normalisation, pyramid means."""

    _library_name = "platekit"
    display_name = "platekit built-in functions"
    distribution = "platekit-microscopes"
    modules = ("platekit.microscopes.functions.arrays",)

    def version(self) -> str:
        # The package's own version: already imported, no sys.path scan needed.
        from platekit.microscopes import __version__

        return __version__

    def stamp_files(self) -> list[str]:
        # The functions ship with platekit-microscopes, whose version keys the
        # listing; stamping both modules catches edits of an editable install.
        # Their parent package is imported by now, so neither is imported here.
        from platekit.microscopes.functions import _installed

        return _installed.source_files([__name__, *self.modules])

    def tags_for(self, module: str, attribute: str) -> tuple[str, ...]:
        return _TAGS.get(attribute, ())
