"""The ``platekit`` command: a thin front over the command registry.

The top-level help comes from the registry's index, so ``platekit --help``
imports no command module (and so nothing of zarr or zmq) when warm; only
the chosen command's module is imported.
"""

from __future__ import annotations

import sys

from platekit.registry import __version__
from platekit.registry._command import COMMANDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``platekit`` with ``argv`` (default: the process's arguments)."""
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader went away (``platekit registries | head``): not an error.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(argv: Sequence[str] | None) -> int:
    import argparse

    args = list(sys.argv[1:] if argv is None else argv)
    # No abbreviated options anywhere: "--all" must never quietly mean "--all-environments".
    parser = argparse.ArgumentParser(
        prog="platekit",
        description="platekit: plugin registries, caches and plate I/O for HCS software.",
        epilog="Run 'platekit COMMAND --help' for a command's options.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"platekit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in args if not a.startswith("-")), None)
    for name in sorted(COMMANDS):
        if name == chosen:
            continue
        commands.add_parser(
            name, help=str(COMMANDS.metadata(name).get("help", "")), allow_abbrev=False
        )
    if chosen is not None and chosen in COMMANDS:
        command = COMMANDS[chosen]()
        sub = commands.add_parser(
            chosen, help=command.help, description=command.help, allow_abbrev=False
        )
        command.configure(sub)
        parsed, extra = parser.parse_known_args(args)
        if extra:
            # Said by the command's parser, so the usage shown is the command's.
            sub.error(f"unrecognized arguments: {' '.join(extra)}")
        return int(command.run(parsed))
    parsed = parser.parse_args(args)
    parser.print_help()
    return 0 if parsed.command is None and not args else 2


if __name__ == "__main__":
    sys.exit(main())
