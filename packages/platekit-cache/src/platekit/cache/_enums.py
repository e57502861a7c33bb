"""Enums whose members are computed once and read back from the cache afterwards."""

from __future__ import annotations

import sys
from enum import Enum

from platekit.cache._record import RegistryCacheManager, check_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar

    E = TypeVar("E", bound=Enum)


def cached_enum(
    name: str,
    producer: Callable[[], Mapping[str, Any]],
    *,
    version: str,
    max_age_days: float,
    base: type[E] = Enum,  # type: ignore[assignment]
    module: str | None = None,
    qualname: str | None = None,
    enable_cache: bool = True,
) -> type[E]:
    """Build the enum ``name`` from ``producer()``, or from the cache when it is fresh.

    ``producer`` returns a mapping of member name to JSON-safe value; it runs
    only when the record ``enum.<name>`` is missing or stale (another
    ``version``, older than ``max_age_days``, damaged). Values pass through
    JSON either way, so a fresh enum and a cached one are equal member by
    member (a tuple value becomes a list in both).

    ``base`` is an ``Enum`` subclass without members whose methods and
    properties the new enum inherits. ``module`` and ``qualname`` say where the
    enum can be found again for pickling; by default, the calling module and
    ``name``, so assign the result to a module-level variable called ``name``.

    Raises ``ValueError`` for a name that cannot name a record, or when the
    producer's mapping cannot make an enum (bad member names, no members), and
    ``TypeError`` when its values are not JSON data.
    """
    check_name(name)
    if module is None:
        module = sys._getframe(1).f_globals.get("__name__", "__main__")
    manager = RegistryCacheManager(f"enum.{name}", version=version, max_age_days=max_age_days)

    if enable_cache:
        members = manager.load()
        if _is_member_table(members):
            try:
                return _make(base, name, members, module, qualname)
            except (TypeError, ValueError):
                # A record that passed the checks but cannot make an enum is
                # rebuilt like any other bad record.
                pass

    members = _as_json(name, producer())
    made = _make(base, name, members, module, qualname)
    if enable_cache:
        manager.save(members)
    return made


def _as_json(name: str, produced: Mapping[str, Any]) -> dict[str, Any]:
    try:
        members = dict(produced)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"the producer of enum {name!r} must return a mapping of member name to value, "
            f"got {type(produced).__name__}"
        ) from exc
    if not members:
        raise ValueError(f"the producer of enum {name!r} returned no members")
    import json

    try:
        decoded = json.loads(json.dumps(members, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"the members of enum {name!r} must have JSON values (strings, numbers, "
            f"booleans, None, lists, dicts): {exc}"
        ) from exc
    assert isinstance(decoded, dict)
    return decoded


def _is_member_table(items: object) -> bool:
    return isinstance(items, dict) and bool(items)


def _make(
    base: type[E], name: str, members: dict[str, Any], module: str, qualname: str | None
) -> type[E]:
    for member in members:
        # Enum reserves _sunder_ and __dunder__ names for itself.
        reserved = member.startswith("__") or (member.startswith("_") and member.endswith("_"))
        if not member.isidentifier() or reserved:
            raise ValueError(
                f"enum {name!r} cannot have a member named {member!r}: member names must be "
                "identifiers, neither _sunder_ nor starting with '__'"
            )
    # The functional API: calling a member-less Enum class makes a new subclass.
    functional: Any = base
    made: type[E] = functional(
        name, list(members.items()), module=module, qualname=qualname or name
    )
    return made
