"""Who may hold a key: one declaration per key, re-declarations allowed."""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.registry._errors import DuplicateKeyError

# Stamped on each registered class. dataclass(slots=True) rebuilds a class
# from a copy of its namespace, so the rebuilt class carries the same stamp:
# that is how a rebuild is told from a second class claiming the key.
DECLARATION = "__platekit_declaration__"

# Stamped on a class whose key came from the key extractor, so that its
# subclasses derive keys of their own instead of inheriting it.
DERIVED_KEY = "__platekit_derived_key__"


def same_declaration(old: object, new: object) -> bool:
    """Whether two class objects come from one class statement (a reload or a rebuild)."""
    if not (isinstance(old, type) and isinstance(new, type)):
        return False
    stamp = vars(old).get(DECLARATION)
    if stamp is not None and vars(new).get(DECLARATION) is stamp:
        return True
    return old.__module__ == new.__module__ and old.__qualname__ == new.__qualname__


def duplicate_error(
    registry_name: str, key: object, old: object, new: object
) -> "DuplicateKeyError":
    """The error for two declarations claiming one key, naming both."""

    def where(value: object) -> str:
        if isinstance(value, type):
            return f"{value.__qualname__} (module {value.__module__})"
        return repr(value)

    from platekit.registry._errors import DuplicateKeyError

    return DuplicateKeyError(
        f"{registry_name} key {key!r} is claimed twice: by {where(old)} and by {where(new)}; "
        "give one of them another key"
    )


def check_claim(
    registry_name: str, key: object, current: object, new: object, replaces: object = None
) -> None:
    """Raise :class:`DuplicateKeyError` unless ``new`` may take ``key`` from ``current``."""
    if current is None or current is new or current is replaces:
        return
    if not same_declaration(current, new):
        raise duplicate_error(registry_name, key, current, new)
