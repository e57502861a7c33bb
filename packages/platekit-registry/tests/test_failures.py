"""Broken plugins, unknown keys and failed discovery never take a registry down."""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from platekit.registry import DiscoveryError, PluginImportError, RegistryError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from conftest import PluginTree, RunPython

    MakeTree = Callable[..., PluginTree]


def break_module(
    tree: PluginTree, module: str, error: str = "RuntimeError('disk on fire')"
) -> None:
    (tree.package / "plugins" / f"{module}.py").write_text(f"raise {error}\n")


def test_a_broken_module_is_logged_once_and_the_rest_stay_available(
    plugins: PluginTree, caplog: pytest.LogCaptureFixture
) -> None:
    break_module(plugins, "mod_broken")
    root = __import__(plugins.name)
    with caplog.at_level(logging.WARNING, logger="platekit.registry"):
        keys = sorted(root.REGISTRY)
        sorted(root.REGISTRY)  # a second look logs nothing more
    assert keys == ["alpha", "beta", "gpu_gamma"]
    warnings = [r for r in caplog.records if r.name == "platekit.registry"]
    assert len(warnings) == 1
    assert plugins.module("mod_broken") in warnings[0].getMessage()
    assert warnings[0].exc_info is not None  # the traceback goes with it
    [error] = root.REGISTRY.errors
    assert error.module == plugins.module("mod_broken")
    assert error.summary == "RuntimeError: disk on fire"
    assert isinstance(error.exception, RuntimeError)
    assert "disk on fire" in error.traceback
    assert root.REGISTRY["beta"].__name__ == "BetaPlugin"


def test_unknown_key_lists_known_keys_and_close_matches(plugins: PluginTree) -> None:
    break_module(plugins, "mod_broken")
    root = __import__(plugins.name)
    with pytest.raises(KeyError) as caught:
        root.REGISTRY["alpah"]
    message = caught.value.args[0]
    assert "Did you mean 'alpha'?" in message
    assert "Known: alpha, beta, gpu_gamma." in message
    assert plugins.module("mod_broken") in message
    assert root.REGISTRY.get("alpah") is None
    assert root.REGISTRY.get("alpah", 7) == 7


def test_a_missing_discovery_package_fails_clearly_and_can_be_retried(
    make_tree: MakeTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = make_tree("site")
    monkeypatch.syspath_prepend(str(tree.folder))
    plugins_folder = tree.package / "plugins"
    (plugins_folder / "__init__.py").unlink()
    plugins_folder.rmdir()
    root = __import__(tree.name)
    with pytest.raises(DiscoveryError, match="discovery package") as caught:
        list(root.REGISTRY)
    assert isinstance(caught.value, (RegistryError, ImportError))
    assert not root.REGISTRY.is_discovered
    # Put the package in place: the same registry object now discovers.
    plugins_folder.mkdir()
    (plugins_folder / "__init__.py").write_text("")
    tree.plugin("mod_late", "late")
    import importlib

    importlib.invalidate_caches()
    assert list(root.REGISTRY) == ["late"]


BROKEN_ENTRY_POINT = """
import json, logging, sys
import {name} as root
from platekit.registry import PluginImportError
reg = root.REGISTRY
out = {{"keys": sorted(reg), "cache": reg.cache_state,
       "errors": [(e.entry_point, e.distribution, e.summary) for e in reg.errors]}}
try:
    reg["glow"]
except PluginImportError as exc:
    out["raised"] = [type(exc).__name__, isinstance(exc, ImportError),
                     type(exc.__cause__).__name__, str(exc.__cause__)]
print(json.dumps(out))
"""


def test_a_broken_entry_point_raises_plugin_import_error_with_its_cause(
    make_tree: MakeTree, tmp_path: Path, run_python: RunPython
) -> None:
    tree = make_tree("site", group="pk_broken.plugins")
    tree.plugin("mod_alpha", "alpha")
    (tree.folder / "pk_glow.py").write_text("import a_module_nobody_installed\n")
    dist = tree.folder / "pk_glow-2.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-glow\nVersion: 2.0\n")
    (dist / "entry_points.txt").write_text("[pk_broken.plugins]\nglow = pk_glow:Glow\n")

    code = BROKEN_ENTRY_POINT.format(name=tree.name)
    cold = run_python(code, path=tree.folder, check=False)
    assert "entry point 'glow' of pk-glow failed to import" in cold
    assert "Traceback" in cold
    for result in (
        json.loads(cold.splitlines()[0]),
        json.loads(run_python(code, path=tree.folder)),
    ):
        assert result["keys"] == ["alpha"]
        assert result["errors"] == [
            ["glow", "pk-glow", "ModuleNotFoundError: No module named 'a_module_nobody_installed'"]
        ]
        assert result["raised"] == [
            "PluginImportError",
            True,
            "ModuleNotFoundError",
            "No module named 'a_module_nobody_installed'",
        ]
    assert json.loads(run_python(code, path=tree.folder))["cache"] == "hit"


def test_a_plugin_that_breaks_after_indexing_raises_plugin_import_error(
    plugins: PluginTree, run_python: RunPython
) -> None:
    code = f"""
        import {plugins.name} as root
        from platekit.registry import PluginImportError
        keys = sorted(root.REGISTRY)
        try:
            root.REGISTRY["beta"]
        except PluginImportError as exc:
            print("raised", type(exc.__cause__).__name__)
        else:
            print("loaded", keys)
    """
    assert run_python(code, path=plugins.folder).startswith("loaded")
    # Now the module fails at import time for a reason its file does not show.
    module = plugins.package / "plugins" / "mod_beta.py"
    module.write_text(
        "import os\nif os.environ.get('PK_BREAK'):\n    raise OSError('no device')\n"
        + module.read_text()
    )
    run_python(code, path=plugins.folder)  # re-index after the edit
    out = run_python(code, path=plugins.folder, env={"PK_BREAK": "1"})
    assert out.strip() == "raised OSError"


def test_plugin_import_error_is_catchable_as_import_error() -> None:
    error = PluginImportError("x")
    assert isinstance(error, ImportError) and isinstance(error, RegistryError)


def test_a_plugin_calling_sys_exit_is_contained(plugins: PluginTree) -> None:
    (plugins.package / "plugins" / "mod_exit.py").write_text(
        textwrap.dedent(
            """
            import sys
            sys.exit("this module is a script, not a plugin")
            """
        )
    )
    root = __import__(plugins.name)
    assert sorted(root.REGISTRY) == ["alpha", "beta", "gpu_gamma"]
    assert [e.summary for e in root.REGISTRY.errors] == [
        "SystemExit: this module is a script, not a plugin"
    ]


HALF = """
from {name} import Base

class HalfPlugin(Base):
    _kind = "half"

raise RuntimeError("failed after defining its class")
"""


def test_a_module_that_fails_after_registering_is_the_same_cold_and_warm(
    plugins: PluginTree, run_python: RunPython
) -> None:
    (plugins.package / "plugins" / "mod_half.py").write_text(HALF.format(name=plugins.name))
    code = f"""
        import json
        import {plugins.name} as root
        from platekit.registry import PluginImportError
        reg = root.REGISTRY
        out = {{"keys": sorted(reg), "in": "half" in reg, "cache": reg.cache_state,
               "error_keys": [e.keys for e in reg.errors]}}
        try:
            reg["half"]
        except PluginImportError as exc:
            out["raised"] = str(exc.__cause__)
        print(json.dumps(out))
    """
    cold = json.loads(run_python(code, path=plugins.folder, check=False).splitlines()[0])
    warm = json.loads(run_python(code, path=plugins.folder))
    assert warm["cache"] == "hit"
    for result in (cold, warm):
        assert result["keys"] == ["alpha", "beta", "gpu_gamma"]
        assert result["in"] is False
        assert result["error_keys"] == [["half"]]
        assert result["raised"] == "failed after defining its class"


def test_fixing_a_broken_entry_point_in_place_is_noticed(
    make_tree: MakeTree, run_python: RunPython
) -> None:
    tree = make_tree("site", group="pk_fix.plugins")
    tree.plugin("mod_alpha", "alpha")
    module = tree.folder / "pk_fixme.py"
    module.write_text("raise ImportError('not yet')\n")
    dist = tree.folder / "pk_fixme-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-fixme\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pk_fix.plugins]\nfixme = pk_fixme:Fixed\n")
    code = f"import {tree.name} as r; print(sorted(r.REGISTRY), r.REGISTRY.cache_state)"
    run_python(code, path=tree.folder, check=False)
    assert run_python(code, path=tree.folder).strip() == "['alpha'] hit"
    module.write_text(f"from {tree.name} import Base\n\nclass Fixed(Base):\n    _kind = 'fixme'\n")
    fixed = run_python(code, path=tree.folder)
    assert fixed.startswith("['alpha', 'fixme'] miss:")
    assert str(module) in fixed


def test_egg_info_distributions_provide_entry_points(
    make_tree: MakeTree, run_python: RunPython
) -> None:
    tree = make_tree("site", group="pk_egg.plugins")
    (tree.folder / "pk_eggy.py").write_text(
        f"from {tree.name} import Base\n\nclass Eggy(Base):\n    _kind = 'eggy'\n"
    )
    egg = tree.folder / "pk_eggy-0.9-py3.11.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.2\nName: pk-eggy\nVersion: 0.9\n")
    (egg / "entry_points.txt").write_text("[pk_egg.plugins]\neggy = pk_eggy:Eggy\n")
    code = f"import {tree.name} as r; print(sorted(r.REGISTRY), r.REGISTRY.origin('eggy'))"
    assert run_python(code, path=tree.folder).strip() == "['eggy'] entry point eggy (pk-eggy)"


def test_a_half_failed_plugin_stays_unavailable_on_every_access(plugins: PluginTree) -> None:
    (plugins.package / "plugins" / "mod_half.py").write_text(HALF.format(name=plugins.name))
    registry = __import__(plugins.name).REGISTRY
    for _ in range(3):
        with pytest.raises(PluginImportError):
            registry["half"]
        assert "half" not in registry
        assert "half" not in list(registry)
        assert "half" not in __import__(plugins.name).EXTRAS


def test_an_entry_point_naming_a_missing_attribute_drops_nothing_else(
    make_tree: MakeTree, run_python: RunPython
) -> None:
    tree = make_tree("site", group="pk_attr.plugins")
    tree.plugin("mod_good", "good")
    dist = tree.folder / "pk_attr-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-attr\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[pk_attr.plugins]\nbad = {tree.name}.plugins.mod_good:Nope\n"
    )
    code = f"""
        import {tree.name} as r
        print(sorted(r.REGISTRY), [(e.entry_point, e.keys) for e in r.REGISTRY.errors])
        print(r.REGISTRY["good"].__name__)
    """
    out = run_python(code, path=tree.folder, check=False)
    assert out.splitlines()[:2] == ["['good'] [('bad', [])]", "GoodPlugin"]
