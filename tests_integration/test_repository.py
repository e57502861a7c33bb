"""The repository keeps its shape: layout, package conventions, layering, README and CI."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
LAYER_ORDER = ("cache", "registry", "storage", "microscopes", "zmq")
LAYERS = [layer for layer in LAYER_ORDER if (ROOT / "packages" / f"platekit-{layer}").is_dir()]
TOP_LEVEL = {"packages", "noxfile.py", "docs", "tests_integration", "README.md", "pyproject.toml"}


def tracked_files() -> list[str]:
    """Files git tracks, or every file when this is not a git checkout (an sdist, say)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [line for line in out.splitlines() if line]


def pyproject(layer: str) -> dict[str, object]:
    with open(ROOT / "packages" / f"platekit-{layer}" / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def test_top_level_holds_exactly_the_planned_entries() -> None:
    entries = {path.split("/", 1)[0] for path in tracked_files()}
    assert {e for e in entries if not e.startswith(".")} == TOP_LEVEL
    assert ".ci" in entries


def test_root_pyproject_is_tool_settings_only() -> None:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        config = tomllib.load(fh)
    assert "project" not in config and "build-system" not in config
    assert "--import-mode=importlib" in config["tool"]["pytest"]["ini_options"]["addopts"]
    assert config["tool"]["mypy"]["namespace_packages"] is True


@pytest.mark.parametrize("layer", LAYERS)
def test_package_follows_the_conventions(layer: str) -> None:
    folder = ROOT / "packages" / f"platekit-{layer}"
    config = pyproject(layer)
    project = config["project"]
    assert isinstance(project, dict)
    assert config["build-system"]["build-backend"] == "hatchling.build"  # type: ignore[index]
    assert project["name"] == f"platekit-{layer}"
    # The upper layers write through zarr-python 3, which needs Python 3.11.
    assert project["requires-python"] == (">=3.11" if layer in ("microscopes", "zmq") else ">=3.10")
    assert project["readme"] == "README.md" and (folder / "README.md").is_file()
    # One version, written once: hatchling reads it from the package's __init__.py.
    assert project["dynamic"] == ["version"]
    version_file = config["tool"]["hatch"]["version"]["path"]  # type: ignore[index]
    assert version_file == f"src/platekit/{layer}/__init__.py"
    assert re.search(r'^__version__ = "\d+\.\d+\.\d+"$', (folder / version_file).read_text(), re.M)
    # A PEP 420 namespace: no platekit/__init__.py, a typed package below it.
    assert not (folder / "src" / "platekit" / "__init__.py").exists()
    assert (folder / "src" / "platekit" / layer / "__init__.py").is_file()
    assert (folder / "src" / "platekit" / layer / "py.typed").is_file()
    assert any((folder / "tests").glob("test_*.py"))


@pytest.mark.parametrize("layer", LAYERS)
def test_platekit_dependencies_are_lower_layers_with_version_ranges(layer: str) -> None:
    project = pyproject(layer)["project"]
    assert isinstance(project, dict)
    below = LAYER_ORDER[: LAYER_ORDER.index(layer)]
    for requirement in project.get("dependencies", []):
        match = re.match(r"platekit-(\w+)\s*(.*)", requirement)
        if not match:
            continue
        dependency, spec = match.groups()
        assert dependency in below, f"platekit-{layer} depends upward on {requirement}"
        assert ">=" in spec and "<" in spec, f"{requirement} needs a version range"


def imported_platekit_layers(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return {name.split(".")[1] for name in names if name.startswith("platekit.")}


@pytest.mark.parametrize("layer", LAYERS)
def test_no_layer_imports_a_higher_one(layer: str) -> None:
    folder = ROOT / "packages" / f"platekit-{layer}"
    allowed = set(LAYER_ORDER[: LAYER_ORDER.index(layer) + 1])
    offenders = {
        f"{path.relative_to(ROOT)} imports platekit.{imported}"
        for path in folder.rglob("*.py")
        for imported in imported_platekit_layers(path)
        if imported not in allowed
    }
    assert not offenders


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the Quick start section has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_quick_start_has_exactly_two_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    assert commands[0].startswith("python -m pip install ")
    assert "nox" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script
    test_command = quick_start_commands()[1]
    assert any(line.startswith(test_command) for line in script.splitlines())
