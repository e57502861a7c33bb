"""``python -m platekit.cache``: show, clear and exercise the platekit cache."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from platekit.cache import _info
from platekit.cache._colormaps import create_colormap_enum
from platekit.cache._paths import cache_root, environment_key
from platekit.cache._record import RegistryCacheManager, caching_disabled_by_env
from platekit.cache._stamps import fingerprint


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m platekit.cache") -> int:
    """Run the cache command line with ``argv``; ``prog`` names it in help and errors."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Show, clear and exercise platekit's persistent cache.",
        epilog=(
            "PLATEKIT_CACHE_DIR moves the cache; PLATEKIT_DISABLE_REGISTRY_CACHE=1 turns it off."
        ),
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    info = commands.add_parser(
        "info",
        help="where the cache is and what it holds",
        description=(
            "Say where the cache is and whether records can be written there (and if not, "
            "why), and list this environment's records with their size, age and state."
        ),
        allow_abbrev=False,
    )
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    clear = commands.add_parser(
        "clear",
        help="delete this environment's records",
        description=(
            "Delete this environment's records, or every environment's. Only files platekit "
            "wrote are deleted: NAME.json files holding a platekit record, and temporary "
            "files a save left behind. Anything else is left alone, and listed when it is "
            "named like a record."
        ),
        allow_abbrev=False,
    )
    clear.add_argument(
        "--all-environments",
        action="store_true",
        help="delete the records of every Python environment, not only this one "
        "(asks first, unless --yes)",
    )
    clear.add_argument(
        "--yes",
        action="store_true",
        help="delete other environments' records without asking",
    )
    commands.add_parser(
        "colormaps",
        help="build the colormap enum (from the cache when it is fresh) and list it",
        description=(
            "Build the colormap enum, from the cache when its record is fresh, list its "
            "members, and say where they came from and how long that took."
        ),
        allow_abbrev=False,
    )
    args, extra = parser.parse_known_args(argv)
    if extra:
        # Said by the subcommand's parser, so the usage shown is the subcommand's.
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")

    if args.command == "info":
        return _print_info(as_json=args.json, prog=prog)
    if args.command == "clear":
        return _clear(all_environments=args.all_environments, yes=args.yes, prog=prog)
    return _print_colormaps()


def _clear(*, all_environments: bool, yes: bool, prog: str) -> int:
    if all_environments and not yes:
        others = [name for name in _info.environment_folders() if name != environment_key()]
        if others and not _confirm(others, prog):
            return 1
    report = _info.clear_records(all_environments)
    where = "every environment" if all_environments else "this environment"
    print(f"removed {_count(len(report.removed), 'file')} from {where}'s cache")
    if report.left:
        print(
            f"left alone {_count(len(report.left), 'entry', 'entries')} not written by "
            f"platekit: {', '.join(report.left)}"
        )
    if not report.failed:
        return 0
    print(f"{prog} clear: could not remove {_count(len(report.failed), 'file')}:", file=sys.stderr)
    for path, problem in report.failed:
        print(f"  {path}: {problem}", file=sys.stderr)
    print(
        "Make the cache folder writable (or ask whoever owns it) and run this again.",
        file=sys.stderr,
    )
    return 1


def _confirm(others: list[str], prog: str) -> bool:
    """Whether the user agrees to delete other environments' records."""
    count = _count(len(others), "other Python environment")
    what = f"the records of {count} ({', '.join(others)}) in {cache_root()}"
    if sys.stdin is None or not sys.stdin.isatty():
        print(
            f"{prog} clear: not deleting {what} without a confirmation; pass --yes to delete them",
            file=sys.stderr,
        )
        return False
    print(f"delete {what} too? [y/N] ", end="", flush=True)
    if sys.stdin.readline().strip().lower() in ("y", "yes"):
        return True
    print("nothing removed")
    return False


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _print_info(*, as_json: bool, prog: str) -> int:
    state = _info.describe_state()
    records = _info.cache_info()
    if as_json:
        payload = dict(state)
        payload["records"] = [
            {
                "name": r.name,
                "path": str(r.path),
                "size": r.size,
                "age_seconds": r.age_seconds,
                "version": r.version,
                "valid": r.valid,
                "reason": r.reason,
            }
            for r in records
        ]
        print(json.dumps(payload, indent=2))
        return 0
    print(f"cache root:   {state['root']}")
    print(f"environment:  {state['environment']}")
    print(f"caching:      {state['caching']}")
    others = state["other_environments"]
    assert isinstance(others, list)
    if others:
        print(f"other environments: {len(others)} ({prog} clear --all-environments removes them)")
    print()
    if not records:
        print("no records yet")
        return 0
    width = max(len(r.name) for r in records)
    print(f"{'RECORD':<{width}}  {'SIZE':>9}  {'AGE':>9}  STATE")
    for r in records:
        state_text = "valid" if r.valid else f"stale: {r.reason}"
        print(f"{r.name:<{width}}  {_size(r.size):>9}  {_age(r.age_seconds):>9}  {state_text}")
    return 0


def _print_colormaps() -> int:
    record = RegistryCacheManager("enum.Colormap", version="", max_age_days=30).path
    before = fingerprint(record)
    started = time.perf_counter()
    colormaps = create_colormap_enum()
    elapsed = time.perf_counter() - started
    after = fingerprint(record)
    if after is None or caching_disabled_by_env():
        source = "discovery (caching is off)"
    elif after == before:
        source = "the cache"
    else:
        source = "discovery, now cached"
    names = [member.value for member in colormaps]
    print(f"{len(names)} colormaps from {source} in {elapsed * 1000:.1f} ms:")
    print(", ".join(names))
    print(f"record: {record}")
    return 0


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.1f} KiB"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.1f} {unit}"
    return f"{seconds:.0f} s"


if __name__ == "__main__":
    sys.exit(main())
