"""Discovery beyond the index: duplicates in a package, selective imports, plugins' logging."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from platekit.registry import (
    DuplicateKeyError,
    discover_registry_classes,
    discover_registry_classes_recursive,
    import_module_preserving_root_logging,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from conftest import PluginTree

    MakeTree = Callable[..., PluginTree]


def _import(tree: PluginTree, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.syspath_prepend(str(tree.folder))
    __import__(tree.name)
    return sys.modules[tree.name]


def test_two_classes_of_the_discovery_package_claiming_one_key_raise(
    make_tree: MakeTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = make_tree("site")
    tree.plugin("mod_first", "same")
    tree.plugin("mod_second", "same")
    tree.plugin("mod_other", "other")
    root = _import(tree, monkeypatch)
    registry = root.REGISTRY  # type: ignore[attr-defined]
    for _ in range(2):  # not recorded as discovered: the next use raises again
        with pytest.raises(DuplicateKeyError) as caught:
            len(registry)
        message = str(caught.value)
        assert "'same' is claimed twice" in message
        assert tree.module("mod_first") in message and tree.module("mod_second") in message
        assert not registry.is_discovered
    assert registry.cache_path is not None and not registry.cache_path.exists()


def test_a_third_party_plugin_colliding_with_a_first_party_key_is_contained(
    make_tree: MakeTree, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tree = make_tree("site", group="pk_collide.plugins")
    tree.plugin("mod_alpha", "alpha")
    (tree.folder / "pk_third.py").write_text(
        f"from {tree.name} import Base\n\nclass Third(Base):\n    _kind = 'alpha'\n"
    )
    dist = tree.folder / "pk_third-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-third\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pk_collide.plugins]\nthird = pk_third:Third\n")
    root = _import(tree, monkeypatch)
    registry = root.REGISTRY  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, "platekit.registry"):
        assert list(registry) == ["alpha"]
    assert registry["alpha"].__module__ == tree.module("mod_alpha")
    [error] = registry.errors
    assert error.entry_point == "third" and error.distribution == "pk-third"
    assert error.summary.startswith("DuplicateKeyError: test plugin key 'alpha' is claimed twice")
    assert "entry point 'third' of pk-third failed to import" in caplog.text
    sys.modules.pop("pk_third", None)


def test_discover_matching_imports_only_the_accepted_modules(
    plugins: PluginTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _import(plugins, monkeypatch)
    registry = root.REGISTRY  # type: ignore[attr-defined]
    wanted = plugins.module("mod_beta")
    assert registry.discover_matching(lambda name: name == wanted) == [wanted]
    assert wanted in sys.modules
    assert plugins.module("mod_alpha") not in sys.modules
    assert not registry.is_discovered
    assert sorted(registry) == ["alpha", "beta", "gpu_gamma"]  # the first full use discovers


def test_discover_matching_walks_subpackages_without_importing_the_others(
    make_tree: MakeTree, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tree = make_tree("site", recursive=True)
    tree.plugin("deep.inner.mod_one", "one")
    tree.plugin("deep.mod_two", "two")
    tree.plugin("mod_broken", "broken", body="raise RuntimeError('broken on purpose')\n")
    root = _import(tree, monkeypatch)
    registry = root.REGISTRY  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, "platekit.registry"):
        imported = registry.discover_matching(lambda name: name.endswith(("mod_one", "broken")))
    assert imported == [tree.module("deep.inner.mod_one")]
    assert tree.module("deep.mod_two") not in sys.modules
    assert "mod_broken failed to import" in caplog.text  # contained, as in a discovery
    assert dict.fromkeys(registry) == dict.fromkeys(["one", "two"])


def test_discovery_leaves_the_applications_root_logger_alone(
    plugins: PluginTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins.plugin(
        "mod_loud",
        "loud",
        body="import logging, sys\nlogging.basicConfig(level=logging.DEBUG, force=True)\n",
    )
    root_logger = logging.getLogger()
    mine = logging.NullHandler()
    monkeypatch.setattr(root_logger, "handlers", [mine])
    monkeypatch.setattr(root_logger, "level", logging.ERROR)
    root = _import(plugins, monkeypatch)
    assert "loud" in root.REGISTRY  # type: ignore[attr-defined]
    assert root_logger.handlers == [mine]
    assert root_logger.level == logging.ERROR


def test_import_module_preserving_root_logging_restores_after_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pk_loud_fail.py").write_text(
        "import logging\nlogging.basicConfig(force=True)\nraise RuntimeError('after configuring')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    root_logger = logging.getLogger()
    mine = logging.NullHandler()
    monkeypatch.setattr(root_logger, "handlers", [mine])
    monkeypatch.setattr(root_logger, "disabled", True)
    monkeypatch.setattr(root_logger.manager, "disable", logging.CRITICAL)
    with pytest.raises(RuntimeError, match="after configuring"):
        import_module_preserving_root_logging("pk_loud_fail")
    assert root_logger.handlers == [mine]
    assert root_logger.disabled is True
    assert root_logger.manager.disable == logging.CRITICAL


def _scan_tree(root: Path, name: str) -> None:
    files = {
        "__init__.py": "",
        "base.py": "class Base:\n    enabled = True\n",
        "one.py": "from .base import Base\nclass One(Base):\n    pass\n",
        "off.py": "from .base import Base\nclass Off(Base):\n    enabled = False\n",
        "broken.py": "import a_module_nobody_installed\n",
        "sub/__init__.py": "",
        "sub/deep.py": "from ..base import Base\nclass Deep(Base):\n    pass\n",
    }
    for relative, text in files.items():
        path = root / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_discover_registry_classes_flat_and_recursive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"pk_scan_{id(tmp_path)}"
    _scan_tree(tmp_path, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    package = __import__(name)
    base = __import__(f"{name}.base").base.Base
    try:
        with pytest.raises(ModuleNotFoundError, match="a_module_nobody_installed"):
            discover_registry_classes(package.__path__, f"{name}.", base)
        flat = discover_registry_classes(
            package.__path__,
            f"{name}.",
            base,
            exclude_modules={"base", "broken"},
            validation_func=lambda cls: cls.enabled,
        )
        assert [cls.__name__ for cls in flat] == ["One"]
        deep = discover_registry_classes_recursive(
            package.__path__, f"{name}.", base, exclude_modules={"broken"}
        )
        assert sorted(cls.__name__ for cls in deep) == ["Deep", "Off", "One"]
        assert f"{name}.broken" not in sys.modules
    finally:
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]
