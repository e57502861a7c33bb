"""The conversion's modules import in one direction: plan, well writing, output, executors, runs."""

from __future__ import annotations

import ast
from pathlib import Path

import platekit.microscopes

PACKAGE = Path(platekit.microscopes.__file__).parent
PREFIX = "platekit.microscopes."

#: Bottom to top: a module may import only those on its own layer's left.
LAYERS = [
    ["_plan"],
    ["_absent"],
    ["_lock", "_parent", "_progress"],
    ["_well_writer"],
    ["_output"],
    ["_executor"],
    ["executors", "executors.processes", "executors.dask"],
    ["_run"],
    ["_stream_wells"],
    ["_convert"],
]
CONVERSION = [name for layer in LAYERS for name in layer]


def imports(module: str) -> set[str]:
    """The conversion modules that ``module`` imports anywhere (top level, functions, typing)."""
    path = PACKAGE / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE / module.replace(".", "/") / "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name.startswith(PREFIX) and name[len(PREFIX) :] in CONVERSION:
                found.add(name[len(PREFIX) :])
    return found - {module}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph``, as the modules along it, or ``None``."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target] if target in path else [node, target]
            if target not in state:
                found = visit(target, [*path, target])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_conversion_modules_import_each_other_in_no_cycle() -> None:
    graph = {module: imports(module) for module in CONVERSION}
    assert cycle(graph) is None, f"import cycle: {' -> '.join(cycle(graph) or [])}"


def test_each_conversion_module_imports_only_the_layers_below_it() -> None:
    level = {name: index for index, layer in enumerate(LAYERS) for name in layer}
    upward = [
        f"{module} imports {target}"
        for module in CONVERSION
        for target in imports(module)
        if level[target] >= level[module] and not target.startswith(module.split(".")[0])
    ]
    assert not upward


def test_every_module_of_the_conversion_is_placed_in_a_layer() -> None:
    # A new conversion module must be given its layer here, or the checks above miss it.
    executors = {f"executors.{p.stem}" for p in (PACKAGE / "executors").glob("[!_]*.py")}
    assert executors <= set(CONVERSION)
    assert not (PACKAGE / "_workers.py").exists()
