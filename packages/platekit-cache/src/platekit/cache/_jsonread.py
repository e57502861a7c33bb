"""Reading JSON without importing ``json``.

``import json`` compiles several regular expressions and costs a fresh
process milliseconds, more than a warm registry start may spend in all. The
C scanner behind ``json.loads`` (``_json.make_scanner``) needs none of it, so
records are read with it directly, and with ``json.loads`` where it is not
available (another Python implementation).
"""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_WHITESPACE = " \t\n\r"
_scan: "Callable[[str, int], tuple[Any, int]] | None" = None


class _Options:
    """The settings ``json.loads`` uses by default, as the C scanner reads them."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {
        "-Infinity": float("-inf"),
        "Infinity": float("inf"),
        "NaN": float("nan"),
    }.__getitem__


def loads(text: str) -> "Any":
    """Parse a JSON document as ``json.loads`` does; raise ``ValueError`` when it is not one."""
    global _scan
    if _scan is None:
        try:
            from _json import make_scanner
        except ImportError:
            import json

            return json.loads(text)
        # Typeshed types the argument as a decoder; any object with its settings will do.
        _scan = make_scanner(_Options())  # type: ignore[arg-type]
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as stop:
        raise ValueError(f"expecting a JSON value at character {stop.value}") from None
    except (ValueError, RecursionError):
        raise
    except Exception:
        # The scanner reports malformed JSON through json.decoder, and fails
        # otherwise (SystemError) when that module is not loaded yet: let
        # json itself say what is wrong. Only damaged records come here.
        import json

        return json.loads(text)
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value
