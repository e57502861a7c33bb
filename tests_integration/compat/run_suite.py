"""Run metaclass-registry's own test suite against platekit.registry.compat; count the results.

    python run_suite.py SDIST WORK_FOLDER [pytest arguments]

Unpacks the sdist's ``tests/`` into WORK_FOLDER, puts the ``metaclass_registry``
shim beside this file on the path, runs pytest in this process, and sorts every
test into passed, failed, intended difference or out of scope, the last two as
listed in ``differences.txt`` beside this file. Exits with 1 when a test
outside those lists fails, or when a listed test passes (take it off the list).
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LISTS = HERE / "differences.txt"
KINDS = ("intended", "out of scope")


def read_lists(path: Path) -> dict[str, tuple[str, str]]:
    """``{test id: (kind, reason)}`` from lines ``kind | test id | reason``."""
    listed: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|", 2)]
        if len(parts) != 3 or parts[0] not in KINDS or not parts[2]:
            sys.exit(
                f"{path}:{number}: expected 'intended | test id | reason' or 'out of scope | ...'"
            )
        listed[parts[1]] = (parts[0], parts[2])
    return listed


def unpack_tests(sdist: Path, work: Path) -> Path:
    """The sdist's ``<name>/tests/`` files, written to ``work/tests``; only regular files."""
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


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.exit(__doc__)
    sdist, work = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    listed = read_lists(LISTS)
    tests = unpack_tests(sdist, work)

    # The suite reads the default cache folder (~/.cache): give it a home of its own.
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    os.environ["HOME"] = str(home)
    for name in ("PLATEKIT_CACHE_DIR", "XDG_CACHE_HOME", "PLATEKIT_DISABLE_REGISTRY_CACHE"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(HERE))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(HERE), os.environ.get("PYTHONPATH")])
    )

    import pytest

    outcomes = Outcomes()
    os.chdir(work)
    pytest.main(
        [str(tests), "-c", str(work / "pytest.ini"), "-p", "no:cacheprovider", "-q", *argv[2:]],
        plugins=[outcomes],
    )
    return report(outcomes.results, listed)


def report(results: dict[str, str], listed: dict[str, tuple[str, str]]) -> int:
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
    missing = sorted(set(listed) - set(results))
    print()
    print(f"metaclass-registry's suite against platekit.registry.compat: {len(results)} tests")
    for nodeid in unexpected:
        print(f"  FAILED, and not listed: {nodeid}")
    for line in stale:
        print(f"  listed in {LISTS.name} but {line}: take it off the list")
    for nodeid in missing:
        print(f"  listed in {LISTS.name} but not in the suite: {nodeid}")
    print(
        f"compat: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['intended']} intended differences, {counts['out of scope']} out of scope"
        + (f", {counts['skipped']} skipped" if counts["skipped"] else "")
    )
    return 1 if unexpected or stale or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
