"""``python -m platekit.cache``: show, clear and exercise the platekit cache."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from platekit.cache import _info
from platekit.cache._colormaps import create_colormap_enum
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
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    info = commands.add_parser("info", help="where the cache is and what it holds")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    clear = commands.add_parser("clear", help="delete this environment's records")
    clear.add_argument(
        "--all-environments",
        action="store_true",
        help="delete the records of every Python environment, not only this one",
    )
    commands.add_parser(
        "colormaps",
        help="build the colormap enum (from the cache when it is fresh) and list it",
    )
    args = parser.parse_args(argv)

    if args.command == "info":
        return _print_info(as_json=args.json)
    if args.command == "clear":
        removed = _info.clear_cache(all_environments=args.all_environments)
        where = "every environment" if args.all_environments else "this environment"
        print(f"removed {removed} file{'s' if removed != 1 else ''} from {where}'s cache")
        return 0
    return _print_colormaps()


def _print_info(*, as_json: bool) -> int:
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
    caching = "off (PLATEKIT_DISABLE_REGISTRY_CACHE)" if state["disabled_by_env"] else "on"
    print(f"cache root:   {state['root']}")
    print(f"environment:  {state['environment']}")
    print(f"caching:      {caching}")
    others = state["other_environments"]
    assert isinstance(others, list)
    if others:
        print(
            f"other environments: {len(others)} "
            "(python -m platekit.cache clear --all-environments removes them)"
        )
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
