"""Executors: what runs a conversion's per-well tasks, as plugins keyed by ``_executor_type``.

``processes`` (a local pool, the default) is built in; ``dask`` (Dask
distributed) comes with the ``dask`` extra; a third party adds another
through the ``platekit.executors`` entry-point group. An executor knows
nothing of plates: it runs picklable tasks, passes on their progress and
hands back each one's outcome.
"""

from __future__ import annotations

from abc import abstractmethod

from platekit.registry import AutoRegisterMeta, LazyDiscoveryDict, RegistryConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Protocol, TypeVar

    _E = TypeVar("_E", bound="Executor")

    class Flag(Protocol):
        def is_set(self) -> bool: ...

    class Task(Protocol):
        """A picklable unit of work: ``task(report, cancel)`` returns its result."""

        @property
        def holds(self) -> tuple[str, ...]: ...

        def __call__(self, report: Callable[[int], None], cancel: Flag | None) -> Any: ...


#: Every executor class, by ``_executor_type``.
EXECUTORS = LazyDiscoveryDict()


class Executor(metaclass=AutoRegisterMeta):
    """Runs a set of tasks somewhere. Subclasses register under ``_executor_type``.

    A subclass sets ``_executor_type``, ``display_name`` and ``install``
    (what to install for it, or ``""``), takes its options as keywords in
    ``__init__`` (``workers``, ``scheduler``: one it does not use must be
    ``None``), and implements :meth:`run`. It is used as a context manager:
    ``__enter__`` reaches or starts whatever runs the tasks and raises
    ``ConnectionError`` or ``ImportError`` with one sentence when it cannot,
    before the caller writes anything; ``__exit__`` stops what it started.
    """

    __registry_config__ = RegistryConfig(
        registry_dict=EXECUTORS,
        key_attribute="_executor_type",
        skip_if_no_key=True,
        registry_name="executor",
        discovery_package="platekit.microscopes.executors",
        entry_point_group="platekit.executors",
        metadata_attributes=("display_name", "install"),
    )

    #: The executor's name in registries, ``convert(executor=)`` and ``--executor``.
    _executor_type: str | None = None
    #: What runs the tasks, for people.
    display_name: str = ""
    #: What to install to use it, e.g. ``"platekit-microscopes[dask]"``; empty when nothing.
    install: str = ""

    def __enter__(self: _E) -> _E:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    @abstractmethod
    def run(
        self,
        tasks: Sequence[Task],
        done: Callable[[int, Any, BaseException | None], None],
        report: Callable[[int], None],
        cancel: Flag | None,
    ) -> None:
        """Run every task once, each as ``task(report, cancel)``, in any order and place.

        Calls, in the calling thread, ``report(n)`` as tasks report ``n``
        more units done, and ``done(index, result, error)`` once per task
        that ends (``error`` is what it raised, else ``None``). When ``done``
        raises, or on ``KeyboardInterrupt``, it stops the tasks not yet
        ended (a task stops between units once ``cancel`` is set) and
        re-raises. A process running a task holds, shared, the lock of each
        folder in ``task.holds`` (see :mod:`._lock`) while it may run it.
        """


def executor_for(name: str, **options: Any) -> Executor:
    """An executor of type ``name`` made with ``options``, not yet entered.

    Raises ``KeyError`` naming the known executors for an unknown ``name``,
    ``ImportError`` saying what to install when its plugin cannot be
    imported, and ``ValueError`` for options it does not take.
    """
    from platekit.registry import PluginImportError

    if name not in EXECUTORS:
        raise KeyError(f"{name!r} is not an executor; choose one of {', '.join(sorted(EXECUTORS))}")
    try:
        cls = EXECUTORS[name]
    except PluginImportError as exc:
        install = EXECUTORS.metadata(name).get("install")
        hint = f"install {install}" if install else "reinstall the package that provides it"
        raise ImportError(f"the executor {name!r} cannot be loaded ({exc}); {hint}") from exc
    return cls(**options)  # type: ignore[no-any-return]


def check_workers(workers: object) -> None:
    """Raise ``ValueError`` naming ``workers`` unless it is a whole number of at least 1."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, got {workers!r}")
