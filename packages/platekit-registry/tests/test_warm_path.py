"""Cold discovery writes an index; a warm process answers from it without importing plugins."""

from __future__ import annotations

import json
import os
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from conftest import PluginTree, RunPython

    MakeTree = Callable[..., PluginTree]

REPORT = """
import json, sys
import {name} as root
registry = root.REGISTRY
before = set(sys.modules)
result = {{
    "keys": list(registry.keys()),
    "contains": "alpha" in registry,
    "missing": "nope" in registry,
    "len": len(registry),
    "iter": sorted(registry),
    "metadata": registry.metadata("gpu_gamma"),
    "origin": registry.origin("alpha"),
    "cache": registry.cache_state,
}}
result["imported"] = sorted(m for m in sys.modules if m.startswith("{name}.plugins."))
result["metadata_module"] = "importlib.metadata" in sys.modules
if {getitem!r}:
    cls = registry[{getitem!r}]
    result["got"] = cls.__qualname__
    result["imported_after_get"] = sorted(
        m for m in sys.modules if m.startswith("{name}.plugins.")
    )
print(json.dumps(result))
"""


def report(
    run_python: RunPython, plugins: PluginTree, getitem: str | None = None, **kw: object
) -> dict[str, object]:
    out = run_python(REPORT.format(name=plugins.name, getitem=getitem), path=plugins.folder, **kw)
    return json.loads(out.strip().splitlines()[-1])


def test_cold_discovers_everything_and_warm_imports_nothing(
    plugins: PluginTree, run_python: RunPython
) -> None:
    cold = report(run_python, plugins)
    assert cold["keys"] == ["alpha", "beta", "gpu_gamma"]
    assert cold["cache"] == "miss: no record yet"
    assert len(cold["imported"]) == 3  # type: ignore[arg-type]

    warm = report(run_python, plugins)
    assert warm["cache"] == "hit"
    assert warm["keys"] == ["alpha", "beta", "gpu_gamma"]
    assert warm["contains"] is True and warm["missing"] is False
    assert warm["len"] == 3
    assert warm["iter"] == ["alpha", "beta", "gpu_gamma"]
    assert warm["metadata"] == {"_label": "GPU_GAMMA", "_needs_gpu": ["gpu"]}
    assert warm["origin"] == f"package {plugins.name}.plugins"
    assert warm["imported"] == []
    assert warm["metadata_module"] is False


def test_warm_getitem_imports_only_that_module(plugins: PluginTree, run_python: RunPython) -> None:
    report(run_python, plugins)
    warm = report(run_python, plugins, getitem="beta")
    assert warm["got"] == "BetaPlugin"
    assert warm["imported_after_get"] == [plugins.module("mod_beta")]


def test_secondary_registry_resolves_lazily(plugins: PluginTree, run_python: RunPython) -> None:
    code = f"""
        import json, sys
        from {plugins.name} import EXTRAS
        keys = sorted(EXTRAS)
        before = sorted(m for m in sys.modules if m.startswith("{plugins.name}.plugins."))
        extra = EXTRAS["alpha"].__qualname__
        after = sorted(m for m in sys.modules if m.startswith("{plugins.name}.plugins."))
        print(json.dumps([keys, before, extra, after]))
    """
    # Touching only the secondary registry in a fresh process discovers the primary.
    cold = json.loads(run_python(code, path=plugins.folder))
    assert cold[0] == ["alpha", "beta", "gpu_gamma"]
    assert cold[2] == "AlphaPluginExtra"
    warm = json.loads(run_python(code, path=plugins.folder))
    assert warm == [
        ["alpha", "beta", "gpu_gamma"],
        [],
        "AlphaPluginExtra",
        [plugins.module("mod_alpha")],
    ]


def test_after_import_and_warm_keys_importlib_metadata_is_not_loaded(
    plugins: PluginTree, run_python: RunPython
) -> None:
    code = f"""
        import sys
        import platekit.registry
        import {plugins.name} as root
        list(root.REGISTRY.keys())
        print(root.REGISTRY.cache_state, "importlib.metadata" in sys.modules)
    """
    run_python(code, path=plugins.folder)
    assert run_python(code, path=plugins.folder).split() == ["hit", "False"]


# Every module a warm start imports costs it time: these are all it may import,
# besides the root's own package. Each further one needs a reason.
WARM_MODULES = {
    "platekit",
    "platekit.cache",
    "platekit.cache._paths",
    "platekit.cache._record",
    "platekit.cache._stamps",
    "platekit.registry",
    "platekit.registry._claims",
    "platekit.registry._config",
    "platekit.registry._index",
    "platekit.registry._lazy",
    "platekit.registry._meta",
    "platekit.registry._secondary",  # this root declares a secondary registry
    "platekit.registry._sources",
}
# And 27 modules (28 from Python 3.13) of the standard library: json (which
# reads the index), threading (the locks of registries and of the cache),
# collections.abc (the registries' Mapping bases) and math (the record's
# timestamp check), with the modules these import in turn, their own private
# helpers among them.
STANDARD_MODULES = {
    "math",
    "json",
    "json.decoder",
    "json.encoder",
    "json.scanner",
    "re",
    "re._casefix",
    "re._compiler",
    "re._constants",
    "re._parser",
    "enum",
    "copyreg",
    "_json",
    "_sre",
    "threading",
    "collections.abc",
    "collections",
    "functools",
    "itertools",
    "keyword",
    "operator",
    "reprlib",
    "types",
    "_collections",
    "_functools",
    "_operator",
    "_weakrefset",
    # Imported by threading from Python 3.13 on.
    "warnings",
}


def test_a_warm_start_imports_nothing_beyond_its_budget(
    plugins: PluginTree, run_python: RunPython
) -> None:
    code = f"""
        import sys
        before = set(sys.modules)
        import {plugins.name} as root
        list(root.REGISTRY.keys())
        added = set(sys.modules) - before
        import json
        print(root.REGISTRY.cache_state, json.dumps(sorted(added)))
    """
    run_python(code, path=plugins.folder)
    state, added = run_python(code, path=plugins.folder).split(" ", 1)
    assert state == "hit"
    # __future__ too: each is an import a warm start would pay for. So is any
    # module of the plugin package below the root's own.
    extra = set(json.loads(added)) - {plugins.name} - WARM_MODULES - STANDARD_MODULES
    assert extra == set(), f"a warm start imported {sorted(extra)}"


def test_a_same_second_edit_of_a_plugin_invalidates(
    plugins: PluginTree, run_python: RunPython
) -> None:
    source = plugins.package / "plugins" / "mod_beta.py"
    second = int(time.time()) - 30
    os.utime(source, ns=(second * 10**9, second * 10**9))
    report(run_python, plugins)
    assert report(run_python, plugins)["cache"] == "hit"
    # Same size, same second: only the nanoseconds tell.
    source.write_text(source.read_text().replace("'BETA'", "'BEtA'"))
    os.utime(source, ns=(second * 10**9 + 500, second * 10**9 + 500))
    edited = report(run_python, plugins)
    assert edited["cache"] == f"miss: {source} changed"
    assert report(run_python, plugins)["cache"] == "hit"


def test_adding_and_removing_a_plugin_file_invalidates(
    plugins: PluginTree, run_python: RunPython
) -> None:
    report(run_python, plugins)
    added = plugins.plugin("mod_delta", "delta")
    after_add = report(run_python, plugins)
    assert "is new among the files" in str(after_add["cache"])
    assert "delta" in after_add["keys"]  # type: ignore[operator]
    added.unlink()
    after_remove = report(run_python, plugins)
    assert str(after_remove["cache"]).startswith("miss")
    assert "delta" not in after_remove["keys"]  # type: ignore[operator]


DAMAGE = {
    "garbage bytes": b"\x00\xff garbage",
    "empty": b"",
    "a list": b"[]",
}


def package_entries(items: dict[str, Any]) -> dict[str, Any]:
    """The index's entries of the plugin package (its only origin)."""
    [entries] = items["origins"].values()
    return entries


# Valid records whose index is not: what each does to the record's items.
BAD_INDEXES: dict[str, Callable[[dict[str, Any]], None]] = {
    "an entry that is not a reference": lambda items: package_entries(items).update(alpha=3),
    "an entry without a class": lambda items: package_entries(items).update(alpha="nocolon"),
    "a key under two origins": lambda items: items["origins"].update(
        {"entry point alpha (elsewhere)": {"alpha": "elsewhere:Alpha"}}
    ),
    "origins that are a list": lambda items: items.update(origins=[]),
    "metadata that is not an object": lambda items: items.update(metadata=[1]),
    "no secondary section": lambda items: items.pop("secondary"),
    "missing modules without the installed list": lambda items: items.update(missing=["x"]),
}


@pytest.mark.parametrize("kind", [*DAMAGE, *BAD_INDEXES])
def test_a_damaged_index_is_rebuilt_and_never_breaks_a_start(
    plugins: PluginTree, run_python: RunPython, cache_root: Path, kind: str
) -> None:
    report(run_python, plugins)
    [index] = list(cache_root.glob("*/registry.*.json"))
    if kind in DAMAGE:
        index.write_bytes(DAMAGE[kind])
    else:
        record = json.loads(index.read_text())
        BAD_INDEXES[kind](record["items"])
        index.write_text(json.dumps(record))
    damaged = report(run_python, plugins)
    assert damaged["keys"] == ["alpha", "beta", "gpu_gamma"]
    assert str(damaged["cache"]).startswith("miss")
    if kind in BAD_INDEXES:
        assert str(damaged["cache"]).startswith("miss: the index is malformed")
    assert report(run_python, plugins)["cache"] == "hit"


def test_an_index_naming_a_module_that_moved_rediscovers(
    plugins: PluginTree, run_python: RunPython, cache_root: Path
) -> None:
    report(run_python, plugins)
    [index] = list(cache_root.glob("*/registry.*.json"))
    record = json.loads(index.read_text())
    # A valid-looking index pointing "beta" at a module that does not define it.
    [group] = record["items"]["origins"].values()
    group["beta"] = f"{plugins.module('mod_alpha')}:BetaPlugin"
    index.write_text(json.dumps(record))
    out = report(run_python, plugins, getitem="beta")
    assert out["got"] == "BetaPlugin"


UNRESOLVABLE = {
    "a malformed reference": "::::",
    "a module that does not exist": "pk_no_such_module.plugins:BetaPlugin",
    "a submodule that does not exist": "{package}.plugins.mod_gone:BetaPlugin",
}


@pytest.mark.parametrize("kind", UNRESOLVABLE)
def test_an_index_entry_that_does_not_resolve_is_rebuilt_once(
    plugins: PluginTree, run_python: RunPython, cache_root: Path, kind: str
) -> None:
    report(run_python, plugins)
    [index] = list(cache_root.glob("*/registry.*.json"))
    record = json.loads(index.read_text())
    bad = UNRESOLVABLE[kind].format(package=plugins.name)
    package_entries(record["items"]).update(beta=bad, ghost=bad)
    index.write_text(json.dumps(record))
    code = f"""
        import json
        import {plugins.name} as root
        registry = root.REGISTRY
        found = {{"keys": sorted(registry)}}
        for key in ("beta", "ghost"):
            try:
                found[key] = registry[key].__qualname__
            except Exception as exc:
                found[key] = type(exc).__name__
            found[key + " state"] = registry.cache_state
        print(json.dumps(found))
    """
    first = json.loads(run_python(code, path=plugins.folder))
    assert first["keys"] == ["alpha", "beta", "ghost", "gpu_gamma"]
    assert first["beta"] == "BetaPlugin"
    assert first["beta state"].startswith("miss: the index entry for 'beta'")
    # Rediscovered once: the key the plugins do not define is unknown now.
    assert first["ghost"] == "KeyError"
    assert first["ghost state"] == first["beta state"]
    # A later process starts from the rebuilt index.
    later = json.loads(run_python(code, path=plugins.folder))
    assert later == {
        "keys": ["alpha", "beta", "gpu_gamma"],
        "beta": "BetaPlugin",
        "beta state": "hit",
        "ghost": "KeyError",
        "ghost state": "hit",
    }


def test_two_registries_with_the_same_name_never_share_an_index(
    make_tree: MakeTree, run_python: RunPython, cache_root: Path
) -> None:
    first = make_tree("one", registry_name="plugin")
    first.plugin("mod_a", "a")
    second = make_tree("two", registry_name="plugin")
    second.plugin("mod_b", "b")
    code = "import {name} as r; print(sorted(r.REGISTRY), r.REGISTRY.cache_state)"
    for _ in range(2):
        assert run_python(code.format(name=first.name), path=first.folder).startswith("['a']")
        assert run_python(code.format(name=second.name), path=second.folder).startswith("['b']")
    assert len(list(cache_root.glob("*/registry.*.json"))) == 2


def test_enable_cache_false_and_the_environment_switch_write_no_index(
    make_tree: MakeTree, run_python: RunPython, cache_root: Path
) -> None:
    uncached = make_tree("site", enable_cache=False)
    uncached.plugin("mod_a", "a")
    code = f"import {uncached.name} as r; print(sorted(r.REGISTRY), r.REGISTRY.cache_state)"
    assert "disabled: enable_cache=False" in run_python(code, path=uncached.folder)
    cached = make_tree("site2")
    cached.plugin("mod_a", "a")
    code = f"import {cached.name} as r; print(sorted(r.REGISTRY), r.REGISTRY.cache_state)"
    out = run_python(code, path=cached.folder, env={"PLATEKIT_DISABLE_REGISTRY_CACHE": "1"})
    assert "disabled: PLATEKIT_DISABLE_REGISTRY_CACHE" in out
    assert not list(cache_root.glob("*/registry.*.json"))


def test_refresh_rediscovers_and_rewrites_the_index(
    plugins: PluginTree, run_python: RunPython, cache_root: Path
) -> None:
    report(run_python, plugins)
    [index] = list(cache_root.glob("*/registry.*.json"))
    before = json.loads(index.read_text())["timestamp"]
    code = f"""
        import {plugins.name} as r
        list(r.REGISTRY)
        r.REGISTRY.refresh()
        print(r.REGISTRY.cache_state, sorted(r.REGISTRY))
    """
    out = run_python(code, path=plugins.folder)
    assert out.startswith("miss: refresh() asked for a new discovery")
    assert json.loads(index.read_text())["timestamp"] > before


def test_troubleshooting_attributes(plugins: PluginTree, run_python: RunPython) -> None:
    code = f"""
        import {plugins.name} as r
        reg = r.REGISTRY
        print(reg._config.discovery_package)
        print(reg.config.discovery_package)
        print(reg._cache_manager._cache_path == reg.cache_path)
        print(reg.cache_path.name)
    """
    lines = run_python(code, path=plugins.folder).splitlines()
    assert lines[:3] == [f"{plugins.name}.plugins", f"{plugins.name}.plugins", "True"]
    assert lines[3] == f"registry.{plugins.name}.Base.test_plugin.json"


def test_a_local_plugin_class_does_not_stop_caching(
    plugins: PluginTree, run_python: RunPython
) -> None:
    plugins.plugin(
        "mod_factory",
        "made",
        body="""
        def make():
            class Local(Base):
                _kind = "local"
            return Local

        LOCAL = make()
        """,
    )
    cold = report(run_python, plugins)
    assert "local" in cold["keys"]  # type: ignore[operator]
    warm = report(run_python, plugins)
    assert warm["cache"] == "hit"
    assert "made" in warm["keys"]  # type: ignore[operator]
    assert "local" not in warm["keys"]  # type: ignore[operator]


def test_recursive_discovery_walks_subpackages(make_tree: MakeTree, run_python: RunPython) -> None:
    tree = make_tree("site", recursive=True)
    tree.plugin("top", "top")
    tree.plugin("sub.deep", "deep")
    code = f"import {tree.name} as r; print(sorted(r.REGISTRY), r.REGISTRY.cache_state)"
    assert run_python(code, path=tree.folder).startswith("['deep', 'top'] miss")
    assert run_python(code, path=tree.folder).startswith("['deep', 'top'] hit")
    flat = make_tree("flat", recursive=False)
    flat.plugin("top", "top")
    flat.plugin("sub.deep", "deep")
    code = f"import {flat.name} as r; print(sorted(r.REGISTRY))"
    assert run_python(code, path=flat.folder).startswith("['top']")


def test_entry_points_from_an_installed_distribution(
    make_tree: MakeTree, tmp_path: Path, run_python: RunPython
) -> None:
    tree = make_tree("site", group="pk_test.plugins")
    tree.plugin("mod_alpha", "alpha")
    extra = tmp_path / "site" / "pk_extra_plugin.py"
    extra.write_text(
        textwrap.dedent(
            f"""
            from {tree.name} import Base

            class Extra(Base):
                _kind = "extra"
            """
        )
    )
    dist = tmp_path / "site" / "pk_extra-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-extra\nVersion: 1.0\n\n")
    (dist / "entry_points.txt").write_text(
        "[pk_test.plugins]\nextra = pk_extra_plugin:Extra\n\n[other.group]\nx = y\n"
    )
    code = f"""
        import json, sys
        import {tree.name} as r
        keys = sorted(r.REGISTRY)
        origin = r.REGISTRY.origin("extra") if "extra" in keys else None
        print(json.dumps([keys, origin, "pk_extra_plugin" in sys.modules]))
    """
    cold = json.loads(run_python(code, path=tree.folder))
    assert cold == [["alpha", "extra"], "entry point extra (pk-extra)", True]
    warm = json.loads(run_python(code, path=tree.folder))
    assert warm == [["alpha", "extra"], "entry point extra (pk-extra)", False]
    # Editing the entry point's module (as in an editable install) invalidates.
    extra.write_text(extra.read_text().replace('"extra"', '"extra_renamed"'))
    edited = json.loads(run_python(code, path=tree.folder))
    assert edited[0] == ["alpha", "extra_renamed"]
    # Removing the distribution invalidates the index.
    (dist / "entry_points.txt").unlink()
    (dist / "METADATA").unlink()
    dist.rmdir()
    assert json.loads(run_python(code, path=tree.folder))[0] == ["alpha"]


@pytest.mark.parametrize("group", [None, "pk_test.plugins"])
def test_installing_a_distribution_matters_only_to_registries_with_entry_points(
    make_tree: MakeTree, tmp_path: Path, run_python: RunPython, group: str | None
) -> None:
    tree = make_tree("site", group=group)
    tree.plugin("mod_alpha", "alpha")
    code = f"import {tree.name} as r; print(sorted(r.REGISTRY), r.REGISTRY.cache_state)"
    run_python(code, path=tree.folder)
    assert run_python(code, path=tree.folder).split(" ", 1)[1].strip() == "hit"
    # An unrelated distribution, with no entry point in any group.
    dist = tmp_path / "site" / "pk_unrelated-2.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-unrelated\nVersion: 2.0\n\n")
    state = run_python(code, path=tree.folder).split(" ", 1)[1].strip()
    if group is None:
        assert state == "hit"
    else:
        # It could have brought entry points: the index is checked again.
        assert state == f"miss: {dist / 'entry_points.txt'} is new among the files it depends on"


def install(site: Path, name: str, version: str = "1.0") -> None:
    """Install a distribution ``name`` providing the module ``name`` into a sys.path folder."""
    (site / name).mkdir()
    (site / name / "__init__.py").write_text("")
    dist = site / f"{name}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n\n"
    )


# Plugins that need the module pk_later_dep, which is not installed yet.
NEEDS_LATER_DEP = {
    "left out without it": """
        try:
            import pk_later_dep
        except ImportError:
            pk_later_dep = None

        if pk_later_dep is not None:
            class Later(Base):
                _kind = "later"
        """,
    "left out, found by importlib": """
        import importlib
        try:
            pk_later_dep = importlib.import_module("pk_later_dep")
        except ImportError:
            pk_later_dep = None

        if pk_later_dep is not None:
            class Later(Base):
                _kind = "later"
        """,
    "failing without it": """
        import pk_later_dep

        class Later(Base):
            _kind = "later"
        """,
}


@pytest.mark.parametrize("kind", NEEDS_LATER_DEP)
def test_a_plugin_missing_a_dependency_returns_once_it_is_installed(
    make_tree: MakeTree, run_python: RunPython, kind: str
) -> None:
    tree = make_tree("site")  # a registry without an entry-point group
    # Another platform's module, probed for: no distribution installs it.
    tree.plugin(
        "mod_alpha", "alpha", body="try:\n    import _winapi\nexcept ImportError:\n    pass\n"
    )
    (tree.package / "plugins" / "mod_later.py").write_text(
        f"from {tree.name} import Base\n" + textwrap.dedent(NEEDS_LATER_DEP[kind])
    )
    code = f"""
        import json
        import {tree.name} as r
        print(json.dumps([sorted(r.REGISTRY), len(r.REGISTRY.errors), r.REGISTRY.cache_state]))
    """

    def state() -> list[Any]:
        return json.loads(run_python(code, path=tree.folder))

    errors = 1 if kind.startswith("failing") else 0
    assert state()[:2] == [["alpha"], errors]
    assert state() == [["alpha"], errors, "hit"]
    install(tree.folder, "pk_later_dep")
    after = state()
    assert after[:2] == [["alpha", "later"], 0]
    assert after[2] == (
        "miss: the installed distributions changed, and when it was written "
        "pk_later_dep could not be imported"
    )
    assert state() == [["alpha", "later"], 0, "hit"]
    # Nothing is missing now: installing another distribution leaves the index warm.
    install(tree.folder, "pk_unrelated_dep")
    assert state() == [["alpha", "later"], 0, "hit"]


def test_editing_the_root_declaration_invalidates(
    plugins: PluginTree, run_python: RunPython
) -> None:
    report(run_python, plugins)
    root = plugins.package / "__init__.py"
    root.write_text(root.read_text().replace('("_label", "_needs_gpu")', '("_label",)'))
    edited = report(run_python, plugins)
    assert str(edited["cache"]).startswith("miss: written for version")
    assert edited["metadata"] == {"_label": "GPU_GAMMA"}
    assert report(run_python, plugins)["cache"] == "hit"
    # Any other edit of the root's module counts too.
    root.write_text(root.read_text() + "\n# a comment\n")
    assert report(run_python, plugins)["cache"] == f"miss: {root} changed"


def test_a_plugin_imported_first_that_reads_its_registry_is_not_left_out(
    plugins: PluginTree, run_python: RunPython
) -> None:
    plugins.plugin(
        "mod_reader",
        "reader",
        body="",
    )
    reader = plugins.package / "plugins" / "mod_reader.py"
    reader.write_text(
        f"from {plugins.name} import Base, REGISTRY\n"
        "SEEN = sorted(REGISTRY)\n\n"
        "class Reader(Base):\n    _kind = 'reader'\n"
    )
    first = run_python(
        f"import {plugins.module('mod_reader')} as m, {plugins.name} as r; "
        "print(m.SEEN, sorted(r.REGISTRY), r.REGISTRY.cache_state)",
        path=plugins.folder,
    )
    assert "['alpha', 'beta', 'gpu_gamma', 'reader']" in first
    assert "index not written" in first
    code = f"import {plugins.name} as r; print(sorted(r.REGISTRY), r.REGISTRY.cache_state)"
    assert run_python(code, path=plugins.folder).startswith(
        "['alpha', 'beta', 'gpu_gamma', 'reader'] miss"
    )
    assert run_python(code, path=plugins.folder).strip().endswith("hit")


def test_refresh_after_a_plugin_file_was_deleted_does_not_index_it(
    plugins: PluginTree, run_python: RunPython
) -> None:
    temp = plugins.plugin("mod_temp", "temp")
    code = f"""
        import os, {plugins.name} as r
        list(r.REGISTRY)
        os.remove({str(temp)!r})
        r.REGISTRY.refresh()
    """
    run_python(code, path=plugins.folder)
    out = run_python(
        f"import {plugins.name} as r; print(sorted(r.REGISTRY), r.REGISTRY.cache_state)",
        path=plugins.folder,
    )
    assert out.strip() == "['alpha', 'beta', 'gpu_gamma'] hit"


class _NoBetaRegistry:
    """Source of a LazyDiscoveryDict subclass that leaves out entry points tagged [slow]."""

    CODE = """
import os
from platekit.registry import LazyDiscoveryDict

class Selective(LazyDiscoveryDict):
    def _accept_entry_point(self, entry_point):
        return not (os.environ.get("PK_SKIP_SLOW") and "slow" in entry_point.extras)

    def _index_variant(self):
        return ".fast" if os.environ.get("PK_SKIP_SLOW") else ""
"""


def test_subclasses_can_leave_entry_points_out_by_their_extras(
    make_tree: MakeTree, run_python: RunPython, cache_root: Path
) -> None:
    tree = make_tree("site", group="pk_sel.plugins")
    (tree.folder / "pk_selective.py").write_text(_NoBetaRegistry.CODE)
    root = tree.package / "__init__.py"
    root.write_text(
        "from pk_selective import Selective\n"
        + root.read_text().replace("LazyDiscoveryDict()", "Selective()")
    )
    (tree.folder / "pk_slow.py").write_text(
        "import sys\nprint('IMPORTED SLOW', file=sys.stderr)\n"
        f"from {tree.name} import Base\n\nclass Slow(Base):\n    _kind = 'slow'\n"
    )
    dist = tree.folder / "pk_slow-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-slow\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pk_sel.plugins]\nslow = pk_slow:Slow [slow]\n")
    code = f"import sys, {tree.name} as r; print(sorted(r.REGISTRY), 'pk_slow' in sys.modules)"
    for imported in (True, False):  # cold, then warm
        assert run_python(code, path=tree.folder).strip() == f"['slow'] {imported}"
        out = run_python(code, path=tree.folder, env={"PK_SKIP_SLOW": "1"}, check=False)
        assert out.strip() == "[] False"
    assert len(list(cache_root.glob("*/registry.*.json"))) == 2
