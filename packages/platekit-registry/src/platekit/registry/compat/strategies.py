"""metaclass-registry 0.4.1's strategy families: a registry's members chosen by an enum
member, a label, the type of a value, or a context.

Each mixin declares the family's key axis, so a root only names the mixin
and ``metaclass=AutoRegisterMeta`` (this package's). Selections read the
root's registry each time, so a member declared after a lookup is seen by
the next one.
"""

from __future__ import annotations

import types
from abc import ABCMeta
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar

from platekit.registry._config import RegistryFamily
from platekit.registry._enums import RegistryKeyAttribute
from platekit.registry.compat.core import AutoRegisterMeta

__all__ = [
    "AlwaysMatchesContextMixin",
    "EnumKeyedStrategyMixin",
    "GeneratedLeafClassSpec",
    "MostDerivedContextStrategyMixin",
    "NominalTypeStrategyFamilyMixin",
    "StrategyLabelRegistryMixin",
    "enum_member_with_payload",
    "str_enum_member_with_payload",
]

_EnumT = TypeVar("_EnumT", bound=Enum)
_ContextT = TypeVar("_ContextT")


def _members(family: type) -> tuple[type, ...]:
    """The registered classes of ``family``'s registry that are ``family`` or below it,
    in registration order."""
    registry: Mapping[Any, type] = family.__registry__  # type: ignore[attr-defined]
    return tuple(member for member in registry.values() if issubclass(member, family))


class StrategyLabelRegistryMixin:
    """A family keyed by each member's ``strategy_label``; members without one are left out."""

    __registry_family__ = RegistryFamily(RegistryKeyAttribute.STRATEGY_LABEL)
    strategy_label: ClassVar[str | None] = None


def _enum_member_key(name: str, cls: type) -> Any:
    """The value of the enum member that ``cls`` declares in its own body, or None."""
    attribute = getattr(cls, "__enum_member_attr__", "strategy_key")
    member = vars(cls).get(attribute)
    if member is None:
        return None
    if not isinstance(member, Enum):
        raise TypeError(
            f"{cls.__qualname__}.{attribute} must be a member of an Enum, got {member!r}"
        )
    return member.value


class EnumKeyedStrategyMixin(Generic[_EnumT]):
    """A family with one member per enum member.

    Each member sets the attribute named by ``__enum_member_attr__`` (default
    ``strategy_key``) to the enum member it implements, in its own body; it
    registers under that member's value, which becomes its ``strategy_label``.
    """

    __registry_family__ = RegistryFamily(RegistryKeyAttribute.STRATEGY_LABEL)
    __enum_member_attr__: ClassVar[str] = "strategy_key"
    __key_extractor__ = staticmethod(_enum_member_key)
    strategy_label: ClassVar[Any] = None

    @classmethod
    def strategy_type_for_enum_member(cls, member: _EnumT) -> type[Any]:
        """The member class registered for ``member``; ``KeyError`` when there is none."""
        registry: Mapping[Any, type] = cls.__registry__  # type: ignore[attr-defined]
        return registry[member.value]

    @classmethod
    def for_enum_member(cls, member: _EnumT, *args: Any, **kwargs: Any) -> Any:
        """An instance of the member class registered for ``member``."""
        return cls.strategy_type_for_enum_member(member)(*args, **kwargs)

    @classmethod
    def registered_strategy_types(cls) -> tuple[type[Any], ...]:
        """The registered member classes, in the order they were declared."""
        return _members(cls)


def _type_label(value_type: Any) -> str:
    types_ = value_type if isinstance(value_type, tuple) else (value_type,)
    return "|".join(f"{t.__module__}.{t.__qualname__}" for t in types_)


def _nominal_key(name: str, cls: type) -> str | None:
    value_type = vars(cls).get("value_type")
    if value_type is None:
        return None
    types_ = value_type if isinstance(value_type, tuple) else (value_type,)
    if not types_ or not all(isinstance(t, type) for t in types_):
        raise TypeError(
            f"{cls.__qualname__}.value_type must be a type or a tuple of types, got {value_type!r}"
        )
    return _type_label(value_type)


def _distance(value_type: type, member: type) -> int | None:
    """How far up ``value_type``'s MRO the member's ``value_type`` first appears."""
    declared = member.value_type  # type: ignore[attr-defined]
    mro = value_type.__mro__
    declared_types = declared if isinstance(declared, tuple) else (declared,)
    found = [mro.index(t) for t in declared_types if t in mro]
    return min(found) if found else None


class NominalTypeStrategyFamilyMixin:
    """A family keyed by the runtime type each member handles.

    Each member sets ``value_type`` (a type, or a tuple of types) in its own
    body and registers under its label, ``module.Qualname`` joined by ``|``
    (its ``value_type_label``). Selection picks the member whose type is
    nearest in the value's MRO.
    """

    __registry_family__ = RegistryFamily(RegistryKeyAttribute.VALUE_TYPE_LABEL)
    __key_extractor__ = staticmethod(_nominal_key)
    value_type: ClassVar[Any] = None
    value_type_label: ClassVar[str | None] = None

    @classmethod
    def strategy_types_for_nominal_type(cls, value_type: type) -> tuple[type[Any], ...]:
        """The members handling ``value_type``, most specific first."""
        ranked = []
        for order, member in enumerate(_members(cls)):
            distance = _distance(value_type, member)
            if distance is not None:
                ranked.append((distance, order, member))
        return tuple(member for _, _, member in sorted(ranked, key=lambda r: r[:2]))

    @classmethod
    def strategy_types_for_nominal_value(cls, value: object) -> tuple[type[Any], ...]:
        """The members handling ``type(value)``, most specific first."""
        return cls.strategy_types_for_nominal_type(type(value))

    @classmethod
    def for_nominal_value(cls, value: object, *args: Any, **kwargs: Any) -> Any | None:
        """An instance of the most specific member for ``value``, or ``None``."""
        found = cls.strategy_types_for_nominal_value(value)
        return found[0](*args, **kwargs) if found else None

    @classmethod
    def require_nominal_value(cls, value: object, *, context: str, **kwargs: Any) -> Any:
        """:meth:`for_nominal_value`, raising ``TypeError`` (naming ``context``) for none."""
        found = cls.strategy_types_for_nominal_value(value)
        if not found:
            raise TypeError(
                f"{context}: no registered nominal strategy for {_type_label(type(value))} "
                f"in {cls.__qualname__}; register a member whose value_type covers it"
            )
        return found[0](**kwargs)


class _ContextFamilyMeta(AutoRegisterMeta):
    """Each direct subclass of the template class starts a family with its own registry."""

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> _ContextFamilyMeta:
        if namespace.get("__context_family_template__"):
            # The template itself joins no registry; its subclasses are roots.
            return ABCMeta.__new__(mcs, name, bases, namespace, **kwargs)
        return super().__new__(mcs, name, bases, namespace, **kwargs)  # type: ignore[return-value]


class MostDerivedContextStrategyMixin(Generic[_ContextT], metaclass=_ContextFamilyMeta):
    """A family whose members each say whether they own a context (``matches``);
    among the members that do, the most derived one is chosen.

    Each direct subclass of this mixin is a family root with its own registry;
    members register under ``strategy_key``. Precedence is inheritance: a
    matching member hides the matching classes it derives from.
    """

    __context_family_template__: ClassVar[bool] = True
    __registry_family__ = RegistryFamily(RegistryKeyAttribute.STRATEGY_KEY)
    strategy_key: ClassVar[Any] = None
    strategy_key_attr: ClassVar[str] = "strategy_key"

    def matches(self, context: _ContextT) -> bool:
        """Whether this member owns ``context``; members define it."""
        raise NotImplementedError(f"{type(self).__qualname__} must define matches(context)")

    @classmethod
    def matches_context(cls, context: _ContextT) -> bool:
        """Whether this member owns ``context`` (an instance made with no arguments decides)."""
        return cls().matches(context)

    @classmethod
    def build_for_context(cls, context: _ContextT) -> Any:
        """The instance :meth:`for_context` returns once this member is chosen."""
        return cls()

    @classmethod
    def owning_strategy_types(cls, context: _ContextT) -> tuple[type[Any], ...]:
        """The most derived registered members that own ``context``."""
        owners = [m for m in _members(cls) if m.matches_context(context)]  # type: ignore[attr-defined]
        return tuple(m for m in owners if not any(o is not m and issubclass(o, m) for o in owners))

    @classmethod
    def for_context(
        cls,
        context: _ContextT,
        *,
        required: bool = True,
        error_subject: str | None = None,
    ) -> Any:
        """An instance of the one most derived member owning ``context``.

        ``None`` when none does and ``required`` is false. Raises ``ValueError``
        when none does (and it is required) or when more than one does.
        """
        subject = error_subject or f"{cls.__qualname__} selection"
        owners = cls.owning_strategy_types(context)
        if not owners:
            if not required:
                return None
            raise ValueError(f"{subject} requires a matching strategy.")
        if len(owners) > 1:
            names = tuple(getattr(o, cls.strategy_key_attr) for o in owners)
            raise ValueError(
                f"{subject} requires exactly one most-derived strategy, got {names!r}; "
                "make one derive from the other, or narrow their matches()"
            )
        return owners[0].build_for_context(context)


class AlwaysMatchesContextMixin(Generic[_ContextT]):
    """For a context member that owns every context (a fallback below its subclasses)."""

    def matches(self, context: _ContextT) -> bool:
        return True


@dataclass(frozen=True)
class GeneratedLeafClassSpec:
    """A class to generate: ``class_name`` deriving from ``base_type``, with ``attributes``."""

    class_name: str
    base_type: type
    attributes: Mapping[str, object] = field(default_factory=dict)

    def class_attributes(self) -> Mapping[str, object]:
        """The class attributes the generated class gets."""
        return dict(self.attributes)

    def declare_in(self, namespace: MutableMapping[str, object]) -> type:
        """Create the class (through its base's metaclass, so it registers like any),
        put it in ``namespace`` under its name, and return it. Its ``__module__`` is
        ``namespace["__name__"]`` when the namespace has one."""
        body = {
            "__module__": namespace.get("__name__", self.base_type.__module__),
            "__qualname__": self.class_name,
            **self.class_attributes(),
        }
        leaf = types.new_class(
            self.class_name, (self.base_type,), exec_body=lambda ns: ns.update(body)
        )
        namespace[self.class_name] = leaf
        return leaf


def enum_member_with_payload(
    enum_type: type, value: object, *, payload_attribute: str, payload: object
) -> Any:
    """An enum member with value ``value`` carrying ``payload`` as an attribute; for an
    enum's ``__new__``."""
    member: Any = object.__new__(enum_type)
    member._value_ = value
    setattr(member, payload_attribute, payload)
    return member


def str_enum_member_with_payload(
    enum_type: type, value: str, *, payload_attribute: str, payload: object
) -> Any:
    """:func:`enum_member_with_payload` for an enum whose members are strings."""
    member: Any = str.__new__(enum_type, value)
    member._value_ = value
    setattr(member, payload_attribute, payload)
    return member
