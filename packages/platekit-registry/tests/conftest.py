from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_counter = itertools.count()


@pytest.fixture(autouse=True)
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache root; the real home is never touched."""
    root = tmp_path / "cache"
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(root))
    monkeypatch.delenv("PLATEKIT_DISABLE_REGISTRY_CACHE", raising=False)
    return root


class PluginTree:
    """A plugin package written into a folder of its own, importable in- and out-of-process.

    ``<name>/__init__.py`` declares the root class ``Base`` (registry
    ``REGISTRY``, discovery package ``<name>.plugins``) and each plugin is a
    module in ``<name>/plugins/``.
    """

    ROOT = textwrap.dedent(
        """
        from platekit.registry import (
            PRIMARY_KEY, AutoRegisterMeta, LazyDiscoveryDict, RegistryConfig,
            SecondaryRegistry, SecondaryRegistryDict,
        )

        REGISTRY = LazyDiscoveryDict({enable_cache})
        EXTRAS = SecondaryRegistryDict(REGISTRY)

        class Base(metaclass=AutoRegisterMeta):
            __registry_config__ = RegistryConfig(
                registry_dict=REGISTRY,
                key_attribute="_kind",
                skip_if_no_key=True,
                registry_name="{registry_name}",
                discovery_package="{name}.plugins",
                discovery_recursive={recursive},
                entry_point_group={group!r},
                metadata_attributes=("_label", "_needs_gpu"),
                secondary_registries=[SecondaryRegistry(EXTRAS, PRIMARY_KEY, "_extra")],
            )
            _kind = None
        """
    )

    def __init__(
        self,
        folder: Path,
        *,
        enable_cache: bool = True,
        recursive: bool = False,
        registry_name: str = "test plugin",
        group: str | None = None,
    ) -> None:
        self.name = f"pkplugins{next(_counter)}_{os.getpid()}"
        self.folder = folder
        self.package = folder / self.name
        (self.package / "plugins").mkdir(parents=True)
        (self.package / "__init__.py").write_text(
            self.ROOT.format(
                enable_cache="" if enable_cache else "enable_cache=False",
                registry_name=registry_name,
                name=self.name,
                recursive=recursive,
                group=group,
            )
        )
        (self.package / "plugins" / "__init__.py").write_text("")

    def plugin(self, module: str, key: str, *, body: str = "", label: str | None = None) -> Path:
        """Write a plugin module defining one class registered under ``key``."""
        path = self.package / "plugins" / f"{module.replace('.', '/')}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        init = path.parent / "__init__.py"
        if not init.exists():
            init.write_text("")
        class_name = "".join(part.title() for part in key.split("_")) + "Plugin"
        path.write_text(
            textwrap.dedent(
                f"""
                from {self.name} import Base

                class {class_name}Extra:
                    pass

                class {class_name}(Base):
                    _kind = {key!r}
                    _label = {(label or key.upper())!r}
                    _needs_gpu = ("gpu",) if {key!r}.startswith("gpu") else ()
                    _extra = {class_name}Extra
                """
            )
            + textwrap.dedent(body)
        )
        return path

    def module(self, plugin_module: str) -> str:
        return f"{self.name}.plugins.{plugin_module}"

    def unload(self) -> None:
        for name in [m for m in sys.modules if m == self.name or m.startswith(self.name + ".")]:
            del sys.modules[name]


@pytest.fixture
def make_tree(tmp_path: Path) -> Iterator[Callable[..., PluginTree]]:
    """Make more plugin packages: ``make_tree("folder", recursive=True, ...)``."""
    made: list[PluginTree] = []

    def make(folder: str, **options: object) -> PluginTree:
        tree = PluginTree(tmp_path / folder, **options)  # type: ignore[arg-type]
        made.append(tree)
        return tree

    yield make
    for tree in made:
        tree.unload()


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginTree]:
    """A fresh plugin package with three plugins: alpha, beta, gpu_gamma."""
    tree = PluginTree(tmp_path / "site")
    for key in ("alpha", "beta", "gpu_gamma"):
        tree.plugin(f"mod_{key}", key)
    monkeypatch.syspath_prepend(str(tree.folder))
    yield tree
    tree.unload()


RunPython = Callable[..., str]


@pytest.fixture
def run_python(cache_root: Path, tmp_path: Path) -> RunPython:
    """Run code in a fresh interpreter with the plugin folder on its path; return stdout."""

    def run(
        code: str,
        *,
        path: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        check: bool = True,
    ) -> str:
        full_env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root))
        full_env.pop("PYTHONDONTWRITEBYTECODE", None)
        if path is not None:
            full_env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(path), full_env.get("PYTHONPATH")])
            )
        full_env.update(env or {})
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=full_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"subprocess failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout + (done.stderr if not check else "")

    return run
