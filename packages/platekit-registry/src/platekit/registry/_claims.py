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

#: Set in a class body to take over the key of the registered class it names
#: (metaclass-registry 0.4.1's spelling); read from the body only, never inherited.
REPLACES = "__replaces_registered__"
REPLACES_REGISTERED_ATTRIBUTE = REPLACES


def same_declaration(old: object, new: object) -> bool:
    """Whether two class objects come from one class statement (a reload or a rebuild).

    True for two classes of the same module and qualified name (``importlib.reload``,
    a second run of one function body) and for a class rebuilt from the namespace
    of the first (``dataclass(slots=True)``); False for anything that is not a class.
    """
    if not (isinstance(old, type) and isinstance(new, type)):
        return False
    stamp = vars(old).get(DECLARATION)
    if stamp is not None and vars(new).get(DECLARATION) is stamp:
        return True
    return old.__module__ == new.__module__ and old.__qualname__ == new.__qualname__


def describe(value: object) -> str:
    """A class as messages name it: ``Name (module package.module)``."""
    if isinstance(value, type):
        return f"{value.__qualname__} (module {value.__module__})"
    if isinstance(value, str):
        return value
    return repr(value)


#: The public name of :func:`same_declaration`.
is_same_declaration = same_declaration


def duplicate_error(
    registry_name: str, key: object, old: object, new: object
) -> "DuplicateKeyError":
    """The error for two declarations claiming one key, naming both."""
    from platekit.registry._errors import DuplicateKeyError

    hint = "give one of them another key"
    if isinstance(old, type) and isinstance(new, type) and issubclass(new, old):
        hint += f", or declare {REPLACES} = {old.__name__} in {new.__name__}'s body"
    return DuplicateKeyError(
        f"{registry_name} key {key!r} is claimed twice: by {describe(old)} and by "
        f"{describe(new)}; {hint}"
    )


def check_claim(
    registry_name: str, key: object, current: object, new: object, replaces: object = None
) -> None:
    """Raise :class:`DuplicateKeyError` unless ``new`` may take ``key`` from ``current``."""
    if current is None or current is new or current is replaces:
        return
    if same_declaration(current, new):
        return
    # A class re-declared (reloaded) while a class declared to replace it holds its key.
    replaced = vars(current).get(REPLACES) if isinstance(current, type) else None
    if replaced is not None and same_declaration(replaced, new):
        return
    raise duplicate_error(registry_name, key, current, new)
