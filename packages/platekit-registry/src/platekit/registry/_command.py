"""Command: the subcommands of ``platekit`` are a registry like any other.

Each command is a class registered under its ``name``, found through the
entry-point group ``platekit.commands``, so higher packages add their own
(``convert``, ``serve``, ...). ``help`` is recorded in the index, so
``platekit --help`` lists every command without importing one.
"""

from __future__ import annotations

from abc import abstractmethod

from platekit.registry._config import RegistryConfig
from platekit.registry._lazy import LazyDiscoveryDict
from platekit.registry._meta import AutoRegisterMeta

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

#: Every ``platekit`` subcommand, by name.
COMMANDS = LazyDiscoveryDict()


class Command(metaclass=AutoRegisterMeta):
    """A ``platekit`` subcommand.

    Subclass it, set ``name`` and ``help``, add arguments in :meth:`configure`
    and do the work in :meth:`run`; then announce the class in your
    distribution's ``platekit.commands`` entry-point group.
    """

    __registry_config__ = RegistryConfig(
        registry_dict=COMMANDS,
        key_attribute="name",
        skip_if_no_key=True,
        registry_name="platekit command",
        entry_point_group="platekit.commands",
        metadata_attributes=("help",),
    )

    #: The word that selects the command: ``platekit NAME``.
    name: str | None = None
    #: One line for ``platekit --help``.
    help: str = ""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's arguments to its parser."""

    @abstractmethod
    def run(self, args: argparse.Namespace) -> int:
        """Do the work; return the process exit code."""
