"""PluginError: a record of a plugin that failed to import, and how it is reported."""

from __future__ import annotations

from platekit.registry import _log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class PluginError:
    """A plugin module or entry point that failed to import during discovery."""

    __slots__ = (
        "distribution",
        "entry_point",
        "exception",
        "keys",
        "module",
        "summary",
        "traceback",
    )

    def __init__(
        self,
        module: str,
        summary: str,
        traceback: str,
        *,
        entry_point: str | None = None,
        distribution: str | None = None,
        exception: BaseException | None = None,
        keys: list[Any] | None = None,
    ) -> None:
        self.module = module
        self.summary = summary
        self.traceback = traceback
        self.entry_point = entry_point
        self.distribution = distribution
        #: The live exception; ``None`` when the error was read from the index.
        self.exception = exception
        #: Keys the module registered before it failed; they raise PluginImportError.
        self.keys = list(keys or ())

    @classmethod
    def from_exception(
        cls,
        module: str,
        exc: BaseException,
        *,
        entry_point: str | None = None,
        distribution: str | None = None,
        keys: list[Any] | None = None,
    ) -> PluginError:
        import traceback

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        summary = f"{type(exc).__name__}: {exc}"
        return cls(
            module,
            summary,
            text,
            entry_point=entry_point,
            distribution=distribution,
            exception=exc,
            keys=keys,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "summary": self.summary,
            "traceback": self.traceback,
            "entry_point": self.entry_point,
            "distribution": self.distribution,
            "keys": [key for key in self.keys if isinstance(key, str)],
        }

    def names(self, key: Any) -> bool:
        """Whether this failure is what stands behind ``key``."""
        return key == self.entry_point or key in self.keys

    @property
    def source(self) -> str:
        """Where the plugin came from, for messages."""
        if self.entry_point is not None:
            return f"entry point {self.entry_point!r} of {self.distribution}"
        return f"module {self.module}"

    def __repr__(self) -> str:
        return f"PluginError({self.source}: {self.summary})"


def warn_broken(registry_name: str, error: PluginError, exc: BaseException) -> None:
    _log.log(
        _log.WARNING,
        "%s registry: %s failed to import and is left out; the other plugins stay available",
        registry_name,
        error.source,
        exc_info=exc,
    )
