"""The docs say what the code does: layers, detection messages and command options."""

from __future__ import annotations

import argparse
import ast
import json
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LAYERS = sorted(path.name.removeprefix("platekit-") for path in (ROOT / "packages").iterdir())


@pytest.fixture(autouse=True)
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache root; the real home is never touched."""
    root = tmp_path / "cache"
    monkeypatch.setenv("PLATEKIT_CACHE_DIR", str(root))
    return root


def words(text: str) -> str:
    """``text`` as one line of words, without reST quoting or commas, to compare docs and code."""
    return " ".join(text.replace("``", "").replace(",", "").split())


@pytest.mark.parametrize("layer", LAYERS)
def test_development_guide_names_every_package(layer: str) -> None:
    guide = (DOCS / "development.rst").read_text(encoding="utf-8")
    assert f"platekit-{layer}/ " in guide
    assert f'``nox -s "package({layer})"``' in guide


def test_the_unknown_plate_example_is_what_detection_says(tmp_path: Path) -> None:
    microscopes = pytest.importorskip("platekit.microscopes")
    guide = (DOCS / "microscopes.rst").read_text(encoding="utf-8")
    example = re.search(r"   UnknownPlateError: '/data/notes' (.*?)\n\n", guide, re.S)
    assert example, "microscopes.rst has no unknown-plate example for '/data/notes'"
    documented = [line.strip() for line in example.group(1).splitlines()[1:]]
    (tmp_path / "notes").mkdir()
    with pytest.raises(microscopes.UnknownPlateError) as caught:
        microscopes.detect_microscope(tmp_path / "notes")
    said = [line.strip() for line in str(caught.value).splitlines()[1:]]
    assert documented == said


def test_convert_options_say_in_help_what_the_docs_say() -> None:
    from platekit.microscopes._commands import ConvertCommand

    parser = argparse.ArgumentParser()
    ConvertCommand().configure(parser)
    helps = {a.option_strings[0]: a.help for a in parser._actions if a.option_strings}
    guide = (DOCS / "microscopes.rst").read_text(encoding="utf-8")
    section = guide.split("platekit convert\n~~~~~~~~~~~~~~~~", 1)[1]
    for option in ("--overwrite", "--skip-bad-planes", "--workers", "--levels"):
        entry = re.search(rf"^``{option}[^`]*``\n((?:   .*\n)+)", section, re.M)
        assert entry, f"{option} is not described under 'platekit convert'"
        documented = words(entry.group(1)).rstrip(".")
        assert documented.lower() == words(str(helps[option])).lower(), option


def python_examples() -> list[tuple[str, str]]:
    """Every Python example in the README and the docs, as (where, code)."""
    found = []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in re.findall(r"```python\n(.*?)```", readme, re.S):
        found.append(("README.md", code))
    for page in sorted(DOCS.glob("*.rst")):
        text = page.read_text(encoding="utf-8")
        for _indent, body in re.findall(
            r"^( *)\.\. code-block:: python\n\n((?:\1   .*\n|\n)+)", text, re.M
        ):
            found.append((page.name, textwrap.dedent(body)))
    return found


def unguarded_parallel_converts(code: str) -> list[int]:
    """Lines of ``convert(..., workers=N)`` calls (N > 1) outside ``if __name__ == "__main__":``."""
    tree = ast.parse(code)
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            guarded |= {id(inner) for inner in ast.walk(node)}
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and ast.unparse(node.func).endswith("convert")
        and any(k.arg == "workers" and ast.unparse(k.value) != "1" for k in node.keywords)
        and id(node) not in guarded
    ]


def test_examples_that_convert_with_workers_are_guarded() -> None:
    parallel = [(where, code) for where, code in python_examples() if "workers=" in code]
    assert any(where == "README.md" for where, _ in parallel)
    for where, code in parallel:
        assert not unguarded_parallel_converts(code), (
            f"{where}: convert(workers=...) outside if __name__ == '__main__' in\n{code}"
        )


def test_the_conversion_record_is_where_the_docs_place_it(tmp_path: Path) -> None:
    pytest.importorskip("platekit.microscopes")
    from platekit.microscopes import convert
    from platekit.microscopes.testing import write_plate

    source = write_plate("imagexpress", tmp_path / "plate", wells=["A01"], shape=(8, 8))
    convert(source, tmp_path / "out.zarr")
    root = json.loads((tmp_path / "out.zarr" / "zarr.json").read_text(encoding="utf-8"))
    guide = words((DOCS / "microscopes.rst").read_text(encoding="utf-8"))
    assert "attributes.platekit.conversion" in guide
    assert root["attributes"]["platekit"]["conversion"]["state"] == "complete"
    assert "platekit" not in root["attributes"]["ome"]
