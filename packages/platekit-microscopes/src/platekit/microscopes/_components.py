"""The components of a plane, and the cached enums that name them.

``AllComponents`` names every component, ``VariableComponents`` those that
vary within a well (all but the well itself), and ``GroupBy`` the ways to
group planes: ``GroupBy.NONE`` or by one component, whose
``GroupBy.X.component`` is the matching ``AllComponents`` member. All three
are built through platekit-cache's cached enums, so a warm start reads them
from the cache, with their methods (they come from the base classes here).
"""

from __future__ import annotations

from enum import Enum

from platekit.cache import cached_enum

#: The components of a plane, in the order a plane key lists them.
COMPONENTS = ("well", "site", "channel", "z_index", "timepoint")

#: Bump when the members below change, so cached enums are rebuilt.
_ENUM_VERSION = "1"
_MAX_AGE_DAYS = 30


class ComponentBase(Enum):
    """Methods of :data:`AllComponents` and :data:`VariableComponents` members."""

    @property
    def component(self) -> str:
        """The component's name as plane keys spell it (``"z_index"``)."""
        return str(self.value)

    @property
    def is_spatial(self) -> bool:
        """Whether the component picks a place in the plate (well or site)."""
        return self.value in ("well", "site")


class GroupByBase(Enum):
    """Methods of :data:`GroupBy` members."""

    @property
    def component(self) -> ComponentBase | None:
        """The :data:`AllComponents` member grouped by, or ``None`` for ``GroupBy.NONE``."""
        if self.value is None:
            return None
        return AllComponents(self.value)


def _all() -> dict[str, str]:
    return {name.upper(): name for name in COMPONENTS}


def _variable() -> dict[str, str]:
    return {name.upper(): name for name in COMPONENTS if name != "well"}


def _group_by() -> dict[str, str | None]:
    return {"NONE": None, **_all()}


AllComponents: type[ComponentBase] = cached_enum(
    "AllComponents",
    _all,
    version=_ENUM_VERSION,
    max_age_days=_MAX_AGE_DAYS,
    base=ComponentBase,
)
VariableComponents: type[ComponentBase] = cached_enum(
    "VariableComponents",
    _variable,
    version=_ENUM_VERSION,
    max_age_days=_MAX_AGE_DAYS,
    base=ComponentBase,
)
GroupBy: type[GroupByBase] = cached_enum(
    "GroupBy",
    _group_by,
    version=_ENUM_VERSION,
    max_age_days=_MAX_AGE_DAYS,
    base=GroupByBase,
)
