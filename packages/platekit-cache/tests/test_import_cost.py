"""Importing platekit.cache, and reading a warm record, load almost nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

RunPython = Callable[..., str]

# Modules that would make a warm start slow (each costs milliseconds or more).
# json (with the re and enum it imports) is not among them: it reads the record.
HEAVY = {
    "importlib.metadata",
    "logging",
    "pathlib",
    "platformdirs",
    "typing",
    "dataclasses",
    "tempfile",
    "napari",
    "matplotlib",
}


# All a warm load may import: the record store's own modules, and 26 modules
# (27 from Python 3.13) of the standard library: json (which reads the record),
# threading (the store's locks) and math (the timestamp check), with the modules
# these import in turn, their private helpers among them.
WARM_RECORD_MODULES = {
    "math",
    "platekit",
    "platekit.cache",
    "platekit.cache._paths",
    "platekit.cache._record",
    "platekit.cache._stamps",
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


def modules_after(run_python: RunPython, code: str) -> set[str]:
    out = run_python(
        f"""
        import sys
        before = set(sys.modules)
        {code}
        added = sorted(set(sys.modules) - before)
        print(__import__("json").dumps(added))
        """
    )
    return set(json.loads(out.splitlines()[-1]))


def test_import_loads_nothing_heavy(run_python: RunPython) -> None:
    added = modules_after(run_python, "import platekit.cache")
    assert added <= {"platekit", "platekit.cache"}, added


def test_a_warm_record_loads_nothing_heavy(run_python: RunPython) -> None:
    run_python(
        "from platekit.cache import RegistryCacheManager as M; M('warm', version='1').save([1])"
    )
    added = modules_after(
        run_python,
        "from platekit.cache import RegistryCacheManager as M; "
        "assert M('warm', version='1').load() == [1]",
    )
    assert not added & HEAVY, added & HEAVY
    assert added - WARM_RECORD_MODULES == set(), sorted(added - WARM_RECORD_MODULES)


def test_a_warm_record_in_the_default_folder_loads_nothing_heavy(
    run_python: RunPython, tmp_path: Path
) -> None:
    # The default folder (no PLATEKIT_CACHE_DIR), moved under tmp_path through XDG.
    code_prefix = (
        "import os; os.environ.pop('PLATEKIT_CACHE_DIR'); "
        f"os.environ['XDG_CACHE_HOME'] = {str(tmp_path / 'xdg')!r}; "
    )
    run_python(
        code_prefix + "from platekit.cache import RegistryCacheManager as M; "
        "M('warm', version='1').save([1])"
    )
    assert (tmp_path / "xdg" / "platekit").is_dir()
    added = modules_after(
        run_python,
        code_prefix + "from platekit.cache import RegistryCacheManager as M; "
        "assert M('warm', version='1').load() == [1]",
    )
    assert not added & HEAVY, added & HEAVY
