"""Run a peer project's own test suite against platekit's compat layer; count the results.

    python run_suite.py SDIST WORK_FOLDER [--shims FOLDER] [--differences FILE] [pytest arguments]

Unpacks the sdist's ``tests/`` into WORK_FOLDER, puts the shim packages in
FOLDER on the path (by default this file's folder, which holds the
``metaclass_registry`` shim), runs pytest in this process, and sorts every
test into passed, failed, intended difference or out of scope, the last two as
listed in FILE (by default ``differences.txt`` beside this file). Exits with 1
when a test outside those lists fails, or when a listed test passes (take it
off the list).

FILE may also name, as ``stand-in`` lines, modules or names of the peer that
platekit does not offer (``polystore.roi``, ``polystore.base.ImageSamplingRequest``).
Each is put in place for this run only, and every use of it raises
:class:`OutOfScopeError` with the line's reason, so a test file that imports
one at its top is still collected and its other tests run. For polystore::

    python run_suite.py polystore-0.6.3.tar.gz WORK --shims polystore_shim \\
        --differences polystore_differences.txt
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shutil
import sys
import tarfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("intended", "out of scope")
STAND_IN = "stand-in"


def read_lists(path: Path) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """``({test id: (kind, reason)}, {stand-in name: reason})`` from lines ``kind | id | reason``.

    A test id ending in ``.py`` names a whole file, which is not run.
    """
    listed: dict[str, tuple[str, str]] = {}
    stand_ins: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|", 2)]
        if len(parts) != 3 or parts[0] not in (*KINDS, STAND_IN) or not parts[2]:
            sys.exit(
                f"{path}:{number}: expected 'intended | test id | reason', "
                "'out of scope | ...' or 'stand-in | module or name | reason'"
            )
        if parts[0] == STAND_IN:
            stand_ins[parts[1]] = parts[2]
        else:
            listed[parts[1]] = (parts[0], parts[2])
    return listed, stand_ins


class OutOfScopeError(NotImplementedError):
    """A stand-in for a feature platekit does not offer was used."""


class _StandInType(type):
    """Classes that raise :class:`OutOfScopeError` when called or asked for an attribute."""

    _message: str

    def __call__(cls, *args: object, **kwargs: object) -> object:
        raise OutOfScopeError(cls._message)

    def __getattr__(cls, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)  # introspection (pytest's, copy's) sees a plain class
        raise OutOfScopeError(cls._message)


def stand_in_name(qualified: str, reason: str) -> type:
    """A class named like ``qualified`` whose every use raises, saying it is out of scope."""
    module, _, name = qualified.rpartition(".")
    message = f"{qualified} is out of scope for platekit's compat layer: {reason}"
    return _StandInType(name, (), {"_message": message, "__module__": module})


class _StandInModule(types.ModuleType):
    """A module whose every name is a :func:`stand_in_name`."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, f"Stand-in: {reason}")
        self.__reason = reason

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        return stand_in_name(f"{self.__name__}.{name}", self.__reason)


def install_stand_ins(stand_ins: dict[str, str]) -> None:
    """Put each stand-in in place: a module of a package, or a missing name of a module.

    Exits naming a stand-in that is not missing (take it off the list), or one whose
    module or package cannot be imported.
    """
    for qualified, reason in stand_ins.items():
        owner_name, _, name = qualified.rpartition(".")
        if owner_name in stand_ins:
            continue  # a name in a stand-in module is one already
        try:
            owner = importlib.import_module(owner_name)
        except ImportError as exc:
            sys.exit(f"stand-in {qualified}: {owner_name} cannot be imported ({exc}); fix the line")
        if hasattr(owner, name) or (
            hasattr(owner, "__path__") and importlib.util.find_spec(qualified) is not None
        ):
            sys.exit(f"stand-in {qualified} exists: take it off the list")
        if hasattr(owner, "__path__"):
            stand_in: object = _StandInModule(qualified, reason)
            sys.modules[qualified] = stand_in  # type: ignore[assignment]
        else:
            stand_in = stand_in_name(qualified, reason)
        setattr(owner, name, stand_in)


def unpack_tests(sdist: Path, work: Path, shims: Path) -> Path:
    """The sdist's ``<name>/tests/`` files, written to ``work/tests``; only regular files.

    A ``suite_conftest.py`` in ``shims`` becomes the suite's ``conftest.py``
    when the sdist ships none: the fixtures its tests take from a conftest
    left out of the sdist.
    """
    target = work / "tests"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            parts = Path(member.name).parts
            if len(parts) != 3 or parts[1] != "tests" or not member.isfile():
                continue  # the suite is flat: <name>/tests/<file>
            source = archive.extractfile(member)
            assert source is not None
            (target / parts[2]).write_bytes(source.read())
    if not any(target.glob("test_*.py")):
        sys.exit(f"{sdist} holds no tests/test_*.py")
    fixtures = shims / "suite_conftest.py"
    if fixtures.is_file() and not (target / "conftest.py").exists():
        shutil.copyfile(fixtures, target / "conftest.py")
    (work / "pytest.ini").write_text("[pytest]\npython_files = test_*.py\n")
    return target


class Outcomes:
    """A pytest plugin that keeps each test's outcome: failed if any phase failed."""

    def __init__(self) -> None:
        self.results: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: object) -> None:
        nodeid: str = report.nodeid  # type: ignore[attr-defined]
        outcome: str = report.outcome  # type: ignore[attr-defined]
        when: str = report.when  # type: ignore[attr-defined]
        if outcome == "failed":
            self.results[nodeid] = "failed"
        elif when == "call" or (outcome == "skipped" and nodeid not in self.results):
            self.results.setdefault(nodeid, outcome)

    def pytest_collectreport(self, report: object) -> None:
        if report.outcome == "failed":  # type: ignore[attr-defined]
            self.results[report.nodeid] = "failed"  # type: ignore[attr-defined]


def parse(argv: list[str]) -> tuple[Path, Path, Path, Path, list[str]]:
    """``(sdist, work, shims, differences, pytest arguments)``; relative paths from here."""
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("sdist", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--shims", type=Path, default=HERE)
    parser.add_argument("--differences", type=Path, default=HERE / "differences.txt")
    known, rest = parser.parse_known_args(argv)
    shims, differences = (
        path if path.is_absolute() else HERE / path for path in (known.shims, known.differences)
    )
    for path in (shims, differences):
        if not path.exists():
            sys.exit(f"{path} does not exist: pass a shim folder and a differences list that do")
    return known.sdist.resolve(), known.work.resolve(), shims, differences, rest


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.exit(__doc__)
    sdist, work, shims, differences, pytest_args = parse(argv)
    listed, stand_ins = read_lists(differences)
    tests = unpack_tests(sdist, work, shims)

    # The suite reads the default cache folder (~/.cache): give it a home of its own.
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    os.environ["HOME"] = str(home)
    for name in ("PLATEKIT_CACHE_DIR", "XDG_CACHE_HOME", "PLATEKIT_DISABLE_REGISTRY_CACHE"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(shims))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(shims), os.environ.get("PYTHONPATH")])
    )

    install_stand_ins(stand_ins)

    import pytest

    outcomes = Outcomes()
    os.chdir(work)
    skipped_files = [f"--ignore={work / nodeid}" for nodeid in listed if nodeid.endswith(".py")]
    pytest.main(
        [
            str(tests),
            "-c",
            str(work / "pytest.ini"),
            "-p",
            "no:cacheprovider",
            "-q",
            "--continue-on-collection-errors",  # a file that cannot import fails alone
            *skipped_files,
            *pytest_args,
        ],
        plugins=[outcomes],
    )
    return report(outcomes.results, listed, differences.name, sdist.name)


def report(
    results: dict[str, str], listed: dict[str, tuple[str, str]], lists: str, suite: str
) -> int:
    counts = {"passed": 0, "failed": 0, "intended": 0, "out of scope": 0, "skipped": 0}
    unexpected, stale = [], []
    for nodeid, outcome in sorted(results.items()):
        kind = listed.get(nodeid, (None, ""))[0]
        if outcome == "failed":
            if kind is None:
                counts["failed"] += 1
                unexpected.append(nodeid)
            else:
                counts[kind] += 1
        elif kind is not None:
            stale.append(f"{nodeid} ({kind}) {outcome}")
            counts[outcome] += 1
        else:
            counts[outcome] += 1
    files = [nodeid for nodeid in listed if nodeid.endswith(".py")]
    missing = sorted(set(listed) - set(results) - set(files))
    print()
    print(f"{suite}'s tests against platekit's compat layer: {len(results)} tests")
    for nodeid in unexpected:
        print(f"  FAILED, and not listed: {nodeid}")
    for line in stale:
        print(f"  listed in {lists} but {line}: take it off the list")
    for nodeid in missing:
        print(f"  listed in {lists} but not in the suite: {nodeid}")
    print(
        f"compat: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['intended']} intended differences, {counts['out of scope']} out of scope"
        + (f", {counts['skipped']} skipped" if counts["skipped"] else "")
        + (f"; {len(files)} test files out of scope, not run" if files else "")
    )
    return 1 if unexpected or stale or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
