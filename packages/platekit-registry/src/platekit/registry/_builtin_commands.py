"""The commands platekit-registry brings: ``platekit registries`` and ``platekit cache``."""

from __future__ import annotations

import argparse
import json
import sys
import time

from platekit.registry import _sources
from platekit.registry._command import Command
from platekit.registry._lazy import LazyDiscoveryDict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class RegistriesCommand(Command):
    name = "registries"
    help = "list every registry: its keys, where each came from, errors and cache state"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="only these registries")
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")
        parser.add_argument(
            "--refresh", action="store_true", help="discover again and rewrite each index"
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="exit with status 1 when a plugin or an announced registry failed to import "
            "(for CI)",
        )

    def run(self, args: argparse.Namespace) -> int:
        announced, problems = announced_registries()
        if args.names:
            wanted = set(args.names)
            unknown = wanted - {n for n, r in announced.items() for n in (n, r.name)}
            if unknown:
                known = ", ".join(sorted(announced)) or "none"
                print(
                    f"platekit: no registry named {', '.join(sorted(unknown))}; known: {known}",
                    file=sys.stderr,
                )
                return 2
            announced = {n: r for n, r in announced.items() if n in wanted or r.name in wanted}
        reports = [
            describe(name, registry, refresh=args.refresh) for name, registry in announced.items()
        ]
        if args.json:
            print(json.dumps({"registries": reports, "problems": problems}, indent=2))
        else:
            print_reports(reports, problems)
        if args.strict:
            return strict_status(reports, problems)
        return 0


class CacheCommand(Command):
    name = "cache"
    help = "show, clear or exercise the platekit cache (records and registry indexes)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        # The cache's own command line does the work: one parser, two names for it.
        parser.add_argument(
            "arguments",
            nargs=argparse.REMAINDER,
            metavar="info [--json] | clear [--all-environments [--yes]] | colormaps",
            help="what python -m platekit.cache takes",
        )

    def run(self, args: argparse.Namespace) -> int:
        from platekit.cache.__main__ import main as cache_main

        return cache_main(args.arguments, prog="platekit cache")


def strict_status(reports: list[dict[str, Any]], problems: list[str]) -> int:
    """1, with a line on stderr, when a shown registry has a broken plugin or an
    announcement failed; else 0."""
    broken = sum(len(report["errors"]) for report in reports)
    if not broken and not problems:
        return 0
    failures = []
    if broken:
        failures.append(f"{broken} plugin{'s' if broken != 1 else ''} failed to import")
    if problems:
        count = len(problems)
        failures.append(f"{count} announced registr{'ies' if count != 1 else 'y'} failed to load")
    print(f"platekit registries --strict: {' and '.join(failures)}", file=sys.stderr)
    return 1


def announced_registries() -> tuple[dict[str, LazyDiscoveryDict], list[str]]:
    """The registries announced in the ``platekit.registries`` entry-point group."""
    from platekit.registry._discovery import load_entry_point

    found: dict[str, LazyDiscoveryDict] = {}
    problems = []
    for entry_point in _sources.entry_points("platekit.registries"):
        try:
            target = load_entry_point(entry_point)
        except (Exception, SystemExit) as exc:
            problems.append(
                f"{entry_point.name} ({entry_point.distribution}): {entry_point.value} "
                f"failed to import: {type(exc).__name__}: {exc}"
            )
            continue
        registry = getattr(target, "__registry__", target)
        if not isinstance(registry, LazyDiscoveryDict):
            problems.append(
                f"{entry_point.name} ({entry_point.distribution}): {entry_point.value} "
                "is neither a registry root class nor a LazyDiscoveryDict"
            )
            continue
        found[entry_point.name] = registry
    return dict(sorted(found.items())), problems


def describe(announced_as: str, registry: LazyDiscoveryDict, *, refresh: bool) -> dict[str, Any]:
    """A registry's keys, their origins, its errors and cache state, as JSON data."""
    started = time.perf_counter()
    if refresh:
        registry.refresh()
    keys = list(registry.keys())
    elapsed = time.perf_counter() - started
    entries = []
    for key in keys:
        module, qualname = registry.location(key)
        entries.append(
            {"key": key, "origin": registry.origin(key), "module": module, "qualname": qualname}
        )
    root = registry.root
    path = registry.cache_path
    return {
        "name": registry.name,
        "announced_as": announced_as,
        "root": f"{root.__module__}.{root.__qualname__}" if root else None,
        "keys": entries,
        "errors": [
            {"source": e.source, "module": e.module, "error": e.summary} for e in registry.errors
        ],
        "cache": registry.cache_state,
        "index": str(path) if path else None,
        "discovery_seconds": registry.discovery_seconds,
        "seconds": elapsed,
    }


def print_reports(reports: list[dict[str, Any]], problems: list[str]) -> None:
    for report in reports:
        took = report["discovery_seconds"]
        took_text = f"{took * 1000:.1f} ms" if took is not None else "-"
        print(f"{report['announced_as']}: the {report['name']} registry ({report['root']})")
        print(f"  cache: {report['cache']}; discovery or index load: {took_text}")
        if report["index"]:
            print(f"  index: {report['index']}")
        if not report["keys"]:
            print("  no keys")
        width = max((len(str(e["key"])) for e in report["keys"]), default=0)
        for entry in report["keys"]:
            print(f"  {entry['key']!s:<{width}}  {entry['origin']}")
        for error in report["errors"]:
            print(f"  ERROR {error['source']}: {error['error']}")
        print()
    for problem in problems:
        print(f"ERROR {problem}")
