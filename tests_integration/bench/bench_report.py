"""The benchmark's results: medians, ratios, the targets, a text table and the reST page."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from child_runs import Sample

OPERATION_LABELS = {"keys": "keys()", "key": "[key]"}

# The plain-interpreter runs, by the code each child runs.
BARE = "pass"
IMPORT_PLATEKIT = "import platekit.registry"
IMPORT_PEER = "import metaclass_registry"


@dataclass
class Row:
    """One (N, C, cache state, operation) with both libraries' runs."""

    modules: int
    cost_ms: float
    state: str
    operation: str
    platekit: list[Sample] = field(default_factory=list)
    peer: list[Sample] = field(default_factory=list)
    #: Warm keys() rows only: platekit's runs and the bare interpreter's in the
    #: series of every package against it (the floor a warm start is held to).
    floor_platekit: list[Sample] = field(default_factory=list)
    bare: list[Sample] = field(default_factory=list)

    def inner(self, library: str) -> float:
        return statistics.median(s.inner_ms or 0.0 for s in self._of(library))

    def wall(self, library: str) -> float:
        return statistics.median(s.wall_ms for s in self._of(library))

    def floor_wall(self) -> float:
        """Median whole-process time of platekit in the series against bare python."""
        return statistics.median(s.wall_ms for s in self.floor_platekit)

    def loaded(self, library: str) -> str:
        """Plugin modules imported: one number, or the range when runs differed."""
        counts = [s.loaded for s in self._of(library) if s.loaded is not None]
        low, high = min(counts), max(counts)
        return str(low) if low == high else f"{low}-{high}"

    def _of(self, library: str) -> list[Sample]:
        return {"platekit": self.platekit, "peer": self.peer, BARE: self.bare}[library]

    @property
    def label(self) -> str:
        return (
            f"N={self.modules}, C={self.cost_ms:g} ms, {self.state} "
            f"{OPERATION_LABELS[self.operation]}"
        )


@dataclass
class Target:
    """One goal of the issue: met (True), missed (False) or not measured in this run (None)."""

    goal: str
    passed: bool | None
    measured: str

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "SKIP"}[self.passed]

    def line(self) -> str:
        return f"{self.verdict}  {self.goal}: {self.measured}"


#: Each import, measured in a series alternating with the bare interpreter:
#: code -> (its runs, the bare runs of its series).
Floor = dict[str, tuple[list[Sample], list[Sample]]]


def floor_medians(floor: Floor) -> dict[str, tuple[float, float]]:
    """code -> (median of its runs, median of the bare runs alternating with them)."""
    return {
        code: (
            statistics.median(s.wall_ms for s in runs),
            statistics.median(s.wall_ms for s in bare),
        )
        for code, (runs, bare) in floor.items()
    }


def ms(value: float) -> str:
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"


def factor(value: float) -> str:
    return ms(value) + "x"


TABLE_HEADERS = (
    "N",
    "C ms",
    "cache",
    "operation",
    "platekit ms",
    "peer ms",
    "platekit/peer",
    "speed-up",
    "platekit whole ms",
    "peer whole ms",
    "whole platekit/peer",
    "whole speed-up",
    "modules platekit",
    "modules peer",
)


def table_cells(rows: list[Row]) -> list[list[str]]:
    """The main table: in-process medians, whole-process medians, plugin modules imported."""
    cells = []
    for row in rows:
        inner_pk, inner_peer = row.inner("platekit"), row.inner("peer")
        wall_pk, wall_peer = row.wall("platekit"), row.wall("peer")
        cells.append(
            [
                str(row.modules),
                f"{row.cost_ms:g}",
                row.state,
                OPERATION_LABELS[row.operation],
                ms(inner_pk),
                ms(inner_peer),
                f"{inner_pk / inner_peer:.3f}",
                factor(inner_peer / inner_pk),
                ms(wall_pk),
                ms(wall_peer),
                f"{wall_pk / wall_peer:.3f}",
                factor(wall_peer / wall_pk),
                row.loaded("platekit"),
                row.loaded("peer"),
            ]
        )
    return cells


FLOOR_HEADERS = ("interpreter runs", "whole ms", "over bare python ms (alternating with it)")


def floor_cells(floor: Floor) -> list[list[str]]:
    every_bare = [s.wall_ms for _, bare in floor.values() for s in bare]
    cells = [[f'python -c "{BARE}"', ms(statistics.median(every_bare)), "baseline"]]
    for code, (value, bare) in floor_medians(floor).items():
        cells.append([f'python -c "{code}"', ms(value), f"{value - bare:+.2f}"])
    return cells


WARM_FLOOR_HEADERS = ("N", "C ms", "platekit warm keys() whole ms", "bare python ms", "ratio")


def warm_floor_cells(rows: list[Row]) -> list[list[str]]:
    return [
        [
            str(row.modules),
            f"{row.cost_ms:g}",
            ms(row.floor_wall()),
            ms(row.wall(BARE)),
            factor(row.floor_wall() / row.wall(BARE)),
        ]
        for row in rows
        if row.bare
    ]


def find(rows: list[Row], modules: int, cost_ms: float, state: str, operation: str) -> Row | None:
    for row in rows:
        if (row.modules, row.cost_ms, row.state, row.operation) == (
            modules,
            cost_ms,
            state,
            operation,
        ):
            return row
    return None


def evaluate_targets(rows: list[Row], floor: Floor) -> list[Target]:
    """The issue's targets, each against the peer or the bare interpreter of this same run."""
    targets = []
    for modules, wanted in ((50, 15.0), (500, 100.0)):
        goal = (
            f"warm keys() at N={modules}, C=5 ms at least {wanted:g}x faster than "
            "metaclass-registry (in-process)"
        )
        row = find(rows, modules, 5.0, "warm", "keys")
        if row is None:
            targets.append(Target(goal, None, "not measured in this run"))
            continue
        inner = row.inner("peer") / row.inner("platekit")
        whole = row.wall("peer") / row.wall("platekit")
        targets.append(
            Target(goal, inner >= wanted, f"{factor(inner)} in-process, {factor(whole)} whole")
        )

    warm_keys = [r for r in rows if r.bare]
    for row in warm_keys:
        ratio = row.floor_wall() / row.wall(BARE)
        targets.append(
            Target(
                f"warm keys() at N={row.modules}, C={row.cost_ms:g} ms within 1.6x of bare "
                "python (whole-process)",
                ratio <= 1.6,
                f"{factor(ratio)} ({ms(row.floor_wall())} ms; bare python "
                f"{ms(row.wall(BARE))} ms in the same series)",
            )
        )
    if not warm_keys:
        targets.append(
            Target(
                "warm keys() within 1.6x of bare python (whole-process)",
                None,
                "not measured in this run",
            )
        )

    warm_key = [r for r in rows if r.state == "warm" and r.operation == "key"]
    goal = "warm [key] imports exactly one plugin module"
    if warm_key:
        counts = sorted({s.loaded for r in warm_key for s in r.platekit if s.loaded is not None})
        targets.append(
            Target(
                goal,
                counts == [1],
                f"{', '.join(map(str, counts))} in {sum(len(r.platekit) for r in warm_key)} runs",
            )
        )
    else:
        targets.append(Target(goal, None, "not measured in this run"))

    cold = [r for r in rows if r.state == "cold"]
    goal = "cold discovery at most 5% slower than metaclass-registry (in-process, every row)"
    if cold:
        worst = max(cold, key=lambda r: r.inner("platekit") / r.inner("peer"))
        inner = worst.inner("platekit") / worst.inner("peer")
        whole = max(r.wall("platekit") / r.wall("peer") for r in cold)
        targets.append(
            Target(
                goal,
                inner <= 1.05,
                f"worst {inner:.3f}x ({worst.label}); whole-process worst {whole:.3f}x",
            )
        )
    else:
        targets.append(Target(goal, None, "not measured in this run"))

    value, bare = floor_medians(floor)[IMPORT_PLATEKIT]
    cost = value - bare
    targets.append(
        Target(
            "import platekit.registry costs at most 8 ms over bare python",
            cost <= 8.0,
            f"{cost:.2f} ms",
        )
    )
    return targets


def text_table(headers: tuple[str, ...], cells: list[list[str]]) -> str:
    """A plain table: first columns left-aligned, numbers right-aligned."""
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values: list[str] | tuple[str, ...]) -> str:
        parts = []
        for i, value in enumerate(values):
            numeric = value[:1].isdigit() or value[:1] in "+-"
            parts.append(value.rjust(widths[i]) if numeric else value.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(c) for c in cells)])


def rst_table(headers: tuple[str, ...], cells: list[list[str]]) -> str:
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [list(headers), *cells]:
        out.append(f"   * - {_rst_cell(row[0])}")
        out.extend(f"     - {_rst_cell(value)}" for value in row[1:])
    return "\n".join(out)


def _rst_cell(value: str) -> str:
    if value.startswith(("python ", "[", "keys(")):
        return f"``{value}``"
    return value


def text_report(rows: list[Row], floor: Floor, targets: list[Target]) -> str:
    return "\n\n".join(
        [
            text_table(FLOOR_HEADERS, floor_cells(floor)),
            text_table(TABLE_HEADERS, table_cells(rows)),
            text_table(WARM_FLOOR_HEADERS, warm_floor_cells(rows)),
            "\n".join(target.line() for target in targets),
        ]
    )


_INTRODUCTION = """\
``python -m nox -s bench`` compares platekit-registry with metaclass-registry
0.4.1 (the peer) on generated plugin packages of N modules, each costing C ms
of CPU to import, with the registry declared in the same words for both. Every
measurement is a fresh interpreter: *cold* starts with an empty registry cache,
*warm* with the cache an earlier run wrote; bytecode is compiled beforehand, so
no run compiles. For ``list(registry.keys())`` and ``registry[key]``, the table
gives medians of the in-process time (importing the registry's root module,
which imports the library, plus the operation, timed inside the child), of the
whole-process time (start to exit, timed by the parent), and the number of
plugin modules the child imported. A ratio platekit/peer below 1, or a speed-up
above 1, favours platekit.

The warm ``keys()`` of every package is also held against the bare
interpreter (``python -c "pass"``), in one series of their own: each round runs
every package in turn, each run followed by a bare one. It runs before any of
the peer's runs, after the machine was left alone for a few seconds: a process
started within seconds of a run that burns a second or more of CPU is slower,
and its ratio to the bare interpreter moves with it (1.58x against 1.52x at
N=500 in one check).
"""


def rst_page(
    rows: list[Row],
    floor: Floor,
    targets: list[Target],
    facts: list[tuple[str, str]],
) -> str:
    """The registry section of the benchmarks page (docs/benchmarks/registry.inc)."""
    parts = [
        "Plugin registries\n-----------------\n",
        ".. Written by tests_integration/bench/registry_bench.py; run the bench session again\n"
        "   rather than editing this file.\n",
        _INTRODUCTION,
        "Machine\n~~~~~~~\n",
        "\n".join(f"- {name}: {value}" for name, value in facts) + "\n",
        "Interpreter start and import cost\n~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n",
        rst_table(FLOOR_HEADERS, floor_cells(floor)) + "\n",
        "Registry operations\n~~~~~~~~~~~~~~~~~~~\n",
        "Times are medians in milliseconds.\n",
        rst_table(TABLE_HEADERS, table_cells(rows)) + "\n",
        "Warm start against the bare interpreter\n~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n",
        rst_table(WARM_FLOOR_HEADERS, warm_floor_cells(rows)) + "\n",
        "Targets\n~~~~~~~\n",
        "\n".join(f"- **{t.verdict}** {t.goal}: {t.measured}" for t in targets) + "\n",
    ]
    return "\n".join(parts)
