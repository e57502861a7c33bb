"""Registries and enums: common key attribute names, and enum families that register."""

from __future__ import annotations

from enum import Enum, EnumMeta

from platekit.registry._meta import AutoRegisterMeta


class RegistryKeyAttribute(str, Enum):
    """Key attribute names that registries commonly use, for ``RegistryFamily``."""

    REGISTRY_KEY = "registry_key"
    STRATEGY_KEY = "strategy_key"
    STRATEGY_LABEL = "strategy_label"
    VALUE_TYPE_LABEL = "value_type_label"
    LAYOUT_KEY = "layout_key"


class RegisteredEnumMeta(AutoRegisterMeta, EnumMeta):
    """The metaclass of an enum family whose enums register like any plugin class.

    ::

        class Variant(str, Enum, metaclass=RegisteredEnumMeta):
            __registry_key__ = "__name__"        # each enum registers under its class name

        class Colours(Variant):
            RED = "red"                          # Variant.__registry__["Colours"] is Colours
    """
