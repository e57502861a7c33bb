"""LZW for the synthetic writers, as Harmony and MetaXpress write it, or a loud refusal."""

from __future__ import annotations


def lzw(export: str) -> str:
    """tifffile's name for LZW, once it is sure imagecodecs can write it.

    Raises ``ImportError`` naming ``export`` (what writes LZW) and the
    install line otherwise: another codec would hide from tests what
    reading real exports needs.
    """
    try:
        import imagecodecs

        available = bool(imagecodecs.LZW.available)
    except (ImportError, AttributeError) as exc:
        raise ImportError(
            f"{export} is LZW-compressed, and tifffile writes LZW only with the imagecodecs "
            "package; install it: pip install imagecodecs"
        ) from exc
    if not available:
        raise ImportError(
            f"the installed imagecodecs {imagecodecs.__version__} cannot write LZW, which "
            f"{export} uses; reinstall it: pip install --force-reinstall imagecodecs"
        )
    return "lzw"
