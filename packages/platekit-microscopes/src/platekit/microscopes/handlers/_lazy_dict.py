"""LazyDict: a dict whose contents are worked out the first time anything looks at them.

A scan answers what opening a plate needs (its metadata, how many planes
are there) without building a record per file; what costs a record per
plane (the plane map, the stage positions) is a LazyDict, filled on first
use. It is a real ``dict``, so callers see no difference; it copies and
pickles as a plain one.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values
    from collections.abc import Callable, Iterable, Iterator

K = TypeVar("K")
V = TypeVar("V")


class LazyDict(dict[K, V], Generic[K, V]):
    """A dict filled by ``fill`` (which returns its items) when it is first read or changed.

    ``items`` are there from the start. ``fill`` runs once, under a lock, so
    threads that touch the dict at once see it complete.
    """

    def __init__(
        self,
        items: Iterable[tuple[K, V]] = (),
        /,
        *,
        fill: Callable[[], Iterable[tuple[K, V]]] | None = None,
    ) -> None:
        super().__init__(items)
        self._fill = fill
        self._lock = threading.Lock()
        #: How this dict was made, to make a fresh one the same way.
        self._recipe = (tuple(super().items()), fill)

    @property
    def filled(self) -> bool:
        """Whether the contents have been worked out."""
        return self._fill is None

    def _load(self) -> None:
        if self._fill is not None:
            with self._lock:
                fill = self._fill
                if fill is not None:  # another thread filled it while this one waited
                    for key, value in fill():
                        if not super().__contains__(key):
                            super().__setitem__(key, value)
                    self._fill = None

    # Every dict method that looks at or changes the contents fills it first.

    def __getitem__(self, key: K) -> V:
        self._load()
        return super().__getitem__(key)

    def __setitem__(self, key: K, value: V) -> None:
        self._load()
        super().__setitem__(key, value)

    def __delitem__(self, key: K) -> None:
        self._load()
        super().__delitem__(key)

    def __contains__(self, key: object) -> bool:
        self._load()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[K]:
        self._load()
        return super().__iter__()

    def __reversed__(self) -> Iterator[K]:
        self._load()
        return super().__reversed__()

    def __len__(self) -> int:
        self._load()
        return super().__len__()

    def __eq__(self, other: object) -> bool:
        self._load()
        if isinstance(other, LazyDict):
            other._load()  # dict's own comparison reads the other's items directly
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __repr__(self) -> str:
        self._load()
        return super().__repr__()

    def __or__(self, other: Any) -> Any:
        return self.copy() | other

    def __ior__(self, other: Any) -> Any:
        self.update(other)
        return self

    def __reduce__(self) -> tuple[type[dict[K, V]], tuple[dict[K, V]]]:
        return dict, (self.copy(),)

    def copy(self) -> dict[K, V]:
        self._load()
        return dict(super().items())

    def remade(self) -> LazyDict[K, V]:
        """A new dict made the way this one was: its first items now, and ``fill`` run anew on
        first use (so what ``fill`` reads is read again then)."""
        items, fill = self._recipe
        return LazyDict(items, fill=fill)

    def keys(self) -> dict_keys[K, V]:
        self._load()
        return super().keys()

    def values(self) -> dict_values[K, V]:
        self._load()
        return super().values()

    def items(self) -> dict_items[K, V]:
        self._load()
        return super().items()

    def get(self, key: Any, default: Any = None) -> Any:
        self._load()
        return super().get(key, default)

    def pop(self, key: Any, *default: Any) -> Any:
        self._load()
        return super().pop(key, *default)

    def popitem(self) -> tuple[K, V]:
        self._load()
        return super().popitem()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._load()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._load()
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self._load()
        super().clear()
