"""Registry benchmark: platekit-registry against metaclass-registry 0.4.1, in fresh processes.

``python -m nox -s bench`` installs both libraries and runs this script, which
writes ``docs/benchmarks.rst``. Run it by hand in any environment that has
platekit-registry and metaclass-registry 0.4.1 installed::

    python tests_integration/bench/registry_bench.py --quick

For each N (plugin modules) and C (ms of CPU each module costs to import), it
generates one plugin package per library, then times ``list(registry.keys())``
and ``registry[key]`` cold (empty cache) and warm (cache written by an earlier
run), alternating the two libraries run by run so both share the machine's
noise. It prints medians, the ratios platekit/peer, and the issue's targets as
PASS/FAIL lines.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_report import (
    BARE,
    IMPORT_PEER,
    IMPORT_PLATEKIT,
    Floor,
    Row,
    Target,
    evaluate_targets,
    floor_medians,
    rst_page,
    text_report,
)
from child_runs import OPERATIONS, BenchError, ChildRunner, Sample
from plugin_packages import LIBRARY_MODULES, PluginPackage, write_package

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

SIZES = (4, 50, 500)
QUICK_SIZES = (4, 50)
COSTS_MS = (0.0, 5.0)
STATES = ("cold", "warm")
LIBRARIES = tuple(LIBRARY_MODULES)
REPEATS = 21
# N=500 at 5 ms spends 2.5 s of CPU per run in the plugins alone.
SLOW_REPEATS = 9
QUICK_REPEATS = 5
# The floor series is cheap (~20 ms processes), so it gets more rounds.
FLOOR_REPEATS = 41
# Seconds the machine is left alone after the cold runs, before the floor series.
SETTLE_SECONDS = 5.0
SLOW_CPU_MS = 1000.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time platekit-registry against metaclass-registry 0.4.1 in fresh processes.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: N={', '.join(map(str, QUICK_SIZES))} only, "
        f"{QUICK_REPEATS} runs per measurement",
    )
    parser.add_argument(
        "--sizes",
        type=_numbers(int),
        help=f"plugin modules per package, comma-separated (default {_join(SIZES)})",
    )
    parser.add_argument(
        "--costs",
        type=_numbers(float),
        help=f"ms of CPU per plugin import, comma-separated (default {_join(COSTS_MS)})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        help=f"runs per measurement (default {REPEATS}; quick {QUICK_REPEATS})",
    )
    parser.add_argument(
        "--slow-repeats",
        type=int,
        help=f"runs per measurement when N*C >= {SLOW_CPU_MS:g} ms (default {SLOW_REPEATS})",
    )
    parser.add_argument(
        "--floor-repeats",
        type=int,
        help="rounds of the series of every package's warm keys() against bare python "
        f"(default {FLOOR_REPEATS}; quick {QUICK_REPEATS})",
    )
    parser.add_argument("--rst", type=Path, help="write the results as a reST page here")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="folder for the generated packages and caches (default: a temporary one, removed)",
    )
    parser.add_argument(
        "--fail-on-miss", action="store_true", help="exit with status 1 when a target is missed"
    )
    args = parser.parse_args(argv)
    args.sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    args.costs = args.costs or COSTS_MS
    args.repeats = args.repeats or (QUICK_REPEATS if args.quick else REPEATS)
    args.slow_repeats = args.slow_repeats or min(args.repeats, SLOW_REPEATS)
    args.floor_repeats = args.floor_repeats or (QUICK_REPEATS if args.quick else FLOOR_REPEATS)
    return args


def _numbers(kind: Callable[[str], float]) -> Callable[[str], tuple[float, ...]]:
    def parse(text: str) -> tuple[float, ...]:
        return tuple(kind(part) for part in text.split(",") if part.strip())

    return parse


def _join(values: tuple[float, ...]) -> str:
    return ",".join(f"{v:g}" for v in values)


def log(message: str) -> None:
    print(message, flush=True)


def missing_libraries() -> list[str]:
    return [
        module for module in LIBRARY_MODULES.values() if importlib.util.find_spec(module) is None
    ]


def measure_floor(runner: ChildRunner, repeats: int) -> Floor:
    """Start plus importing each library, each in a series alternating with the bare interpreter.

    Two alternating runners follow each other equally often; in one series
    of three, the bare runs would follow the peer's import twice as often as
    platekit's import does.
    """
    for code in (BARE, IMPORT_PLATEKIT, IMPORT_PEER):
        runner.run_code(code)  # untimed: writes bytecode
    floor: Floor = {}
    for code in (IMPORT_PLATEKIT, IMPORT_PEER):
        runs: list[Sample] = []
        bare: list[Sample] = []
        for i in range(repeats):
            for name in (code, BARE) if i % 2 == 0 else (BARE, code):
                (runs if name == code else bare).append(runner.run_code(name))
        floor[code] = (runs, bare)
    log(
        "interpreter: "
        + ", ".join(
            f'python -c "{code}" {value:.2f} ms ({value - bare:+.2f} over bare)'
            for code, (value, bare) in floor_medians(floor).items()
        )
    )
    return floor


def measure_packages(
    runner: ChildRunner,
    packages: dict[str, PluginPackage],
    repeats: int,
    floor: tuple[list[Sample], list[Sample]],
) -> list[Row]:
    """Every state and operation for one (N, C), both libraries' runs alternating."""
    first = next(iter(packages.values()))
    for package in packages.values():
        # Untimed: compiles the plugins' bytecode and fills the cache.
        runner.clear_cache(package)
        runner.run_operation(package, "keys")
    rows = []
    for state in STATES:
        for operation in OPERATIONS:
            row = Row(first.modules, first.cost_ms, state, operation)
            runners = list(LIBRARIES)
            for i in range(repeats):
                turn = i % len(runners)
                for name in runners[turn:] + runners[:turn]:
                    sample = measure_once(runner, packages[name], state, operation)
                    (row.platekit if name == "platekit" else row.peer).append(sample)
            log(
                f"  {row.label}: in-process platekit {row.inner('platekit'):.2f} ms, "
                f"peer {row.inner('peer'):.2f} ms; whole platekit {row.wall('platekit'):.2f} ms, "
                f"peer {row.wall('peer'):.2f} ms; modules {row.loaded('platekit')} / "
                f"{row.loaded('peer')}"
            )
            if (state, operation) == ("warm", "keys"):
                row.floor_platekit, row.bare = floor
            rows.append(row)
    return rows


def measure_floor_series(
    runner: ChildRunner, packages: list[PluginPackage], rounds: int
) -> dict[str, tuple[list[Sample], list[Sample]]]:
    """Every package's warm keys() against the bare interpreter, in one series.

    Each round runs every package in turn (starting one further on each
    round), each run followed by one of the bare interpreter. So every package
    meets the same states of the machine, every platekit run follows a bare
    one, and every bare run a platekit one; in a series with the peer, the bare
    runs would follow the peer's twice as often as platekit's do.

    It runs before any timed run of the peer. A process started within seconds
    of a run that burns a second or more of CPU (a cold run at N x C = 2500 ms)
    is slower, and its ratio to the bare interpreter moves with it, so the
    indexes are written first and the machine is left alone for a few seconds.
    """
    for package in packages:
        runner.clear_cache(package)
        runner.run_operation(package, "keys")  # untimed: writes the index
    time.sleep(SETTLE_SECONDS)
    warm: dict[str, list[Sample]] = {package.name: [] for package in packages}
    bare: list[Sample] = []
    for i in range(rounds):
        turn = i % len(packages)
        for package in packages[turn:] + packages[:turn]:
            warm[package.name].append(measure_once(runner, package, "warm", "keys"))
            bare.append(runner.run_code(BARE))
    bare_ms = statistics.median(s.wall_ms for s in bare)
    log(f"warm keys() against bare python ({bare_ms:.2f} ms), {rounds} rounds:")
    for package in packages:
        pk_ms = statistics.median(s.wall_ms for s in warm[package.name])
        log(
            f"  N={package.modules}, C={package.cost_ms:g} ms: {pk_ms:.2f} ms, "
            f"{pk_ms / bare_ms:.2f}x"
        )
    return {name: (samples, bare) for name, samples in warm.items()}


def measure_once(runner: ChildRunner, package: PluginPackage, state: str, operation: str) -> Sample:
    """One timed run, checked: it really was cold or warm, and it answered correctly."""
    if state == "cold":
        runner.clear_cache(package)
    before = runner.cache_fingerprint(package)
    if state == "warm" and not before:
        raise BenchError(f"{package.name}: no cache before a warm run")
    sample = runner.run_operation(package, operation)
    after = runner.cache_fingerprint(package)
    where = f"{package.name} {state} {operation}"
    if state == "cold" and not after:
        raise BenchError(f"{where}: the run wrote no cache, so the next warm runs would be cold")
    if state == "warm" and after != before:
        raise BenchError(f"{where}: the cache was rewritten, so this run was not warm")
    if package.library == "platekit":
        hit = sample.cache_state == "hit"
        if hit != (state == "warm"):
            raise BenchError(f"{where}: platekit reports cache state {sample.cache_state!r}")
    expected = str(package.modules) if operation == "keys" else package.sample_key
    if sample.check != expected:
        raise BenchError(f"{where}: the child answered {sample.check!r}, expected {expected!r}")
    return sample


def machine_facts(args: argparse.Namespace, seconds: float, source: str) -> list[tuple[str, str]]:
    from importlib.metadata import version

    return [
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPUs", f"{os.cpu_count()} ({cpu_model()})"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("system", platform.platform()),
        ("platekit-registry", f"{version('platekit-registry')} (repository at {source})"),
        ("metaclass-registry", version("metaclass-registry")),
        (
            "runs per measurement",
            f"{args.repeats}, or {args.slow_repeats} when N x C >= {SLOW_CPU_MS:g} ms; "
            f"{args.floor_repeats} rounds against bare python",
        ),
        ("benchmark wall time", f"{seconds:.0f} s"),
    ]


def repository_state() -> str:
    """The commit this checkout is at, and whether packages/ has uncommitted edits."""
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        edited = git("status", "--porcelain", "--", "packages")
    except (OSError, subprocess.SubprocessError):
        return "an unknown commit"
    return f"{head}, with uncommitted edits in packages/" if edited else head


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown model"


def run(args: argparse.Namespace, folder: Path) -> tuple[list[Row], Floor]:
    runner = ChildRunner(folder)
    plans = [(n, c) for n in args.sizes for c in args.costs]
    packages = {
        (n, c): {lib: write_package(runner.packages, lib, n, c) for lib in LIBRARIES}
        for n, c in plans
    }
    log(f"plugin packages in {runner.packages}; children run {runner.python}")
    floor = measure_floor(runner, 2 * args.repeats + 1)
    floor_series = measure_floor_series(
        runner, [packages[plan]["platekit"] for plan in plans], args.floor_repeats
    )
    rows = []
    for n, c in plans:
        repeats = args.slow_repeats if n * c >= SLOW_CPU_MS else args.repeats
        log(f"N={n}, C={c:g} ms: {repeats} runs per measurement")
        pk = packages[(n, c)]["platekit"]
        rows.extend(measure_packages(runner, packages[(n, c)], repeats, floor_series[pk.name]))
    return rows, floor


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_libraries()
    if missing:
        print(
            f"cannot import {', '.join(missing)}: install platekit-registry and "
            "metaclass-registry==0.4.1 into this environment (python -m nox -s bench does)",
            file=sys.stderr,
        )
        return 2
    # Read before the runs, as close as possible to when the packages were installed.
    source = repository_state()
    started = time.perf_counter()
    try:
        if args.workdir is not None:
            args.workdir.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix="registry-bench-", dir=args.workdir))
            rows, floor = run(args, folder)
        else:
            with tempfile.TemporaryDirectory(prefix="registry-bench-") as name:
                rows, floor = run(args, Path(name))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    targets: list[Target] = evaluate_targets(rows, floor)
    log("")
    log(text_report(rows, floor, targets))
    log(f"\nbenchmark wall time {seconds:.0f} s")
    if args.rst is not None:
        args.rst.write_text(rst_page(rows, floor, targets, machine_facts(args, seconds, source)))
        log(f"wrote {args.rst}")
    if args.fail_on_miss and any(t.passed is False for t in targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
