"""Third-party plugins installed as real distributions, the way a user installs them.

The distributions in ``plugin_fixtures/`` are built and installed with uv into
the environment running these tests, and removed when the module is done:

- ``platekit-fixture-host``: an application whose ``fixture widget`` registry
  finds its own widgets (``plain``, ``framed``) in ``pk_fixture_host.widgets``
  and third-party ones in the entry-point group ``platekit_fixture.widgets``;
- ``platekit-fixture-thirdparty``: the widgets ``sparkle`` and ``glitter``;
- ``platekit-fixture-broken``: ``broken_glow``, whose module fails to import;
- ``platekit-fixture-microscope``: the ``acme`` microscope handler, for
  platekit-microscopes' ``platekit.microscopes`` entry-point group.

Every check runs in a fresh interpreter with its own cache folder, so "warm"
means a later process reading the index an earlier one wrote. Each test says
which fixture distributions it needs installed, so the tests run in any order.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent / "plugin_fixtures"
HOST_DIR = FIXTURES / "host"
THIRDPARTY_DIR = FIXTURES / "thirdparty"
BROKEN_DIR = FIXTURES / "thirdparty_broken"
MICROSCOPE_DIR = FIXTURES / "microscope"

HOST = "platekit-fixture-host"
THIRDPARTY = "platekit-fixture-thirdparty"
BROKEN = "platekit-fixture-broken"
MICROSCOPE = "platekit-fixture-microscope"

BUILT_IN = ["framed", "plain"]
GOOD = ["framed", "glitter", "plain", "sparkle"]
SPARKLE_ORIGIN = f"entry point sparkle ({THIRDPARTY})"
MISSING = "ModuleNotFoundError: No module named 'pk_fixture_missing_dependency'"
BROKEN_WARNING = (
    f"WARNING:platekit.registry:fixture widget registry: entry point 'broken_glow' of {BROKEN} "
    "failed to import and is left out"
)

# Building a fixture may fetch hatchling from the package index the first time.
UV_TIMEOUT = 300
PROCESS_TIMEOUT = 60

# Run in a fresh interpreter: import the host, ask its registry everything a
# user can ask, then look up each key given in argv[1]. Prints one JSON line.
PROBE = """
import json, logging, sys

logging.basicConfig(format="%(levelname)s:%(name)s:%(message)s")
PLUGINS = ("pk_fixture_thirdparty", "pk_fixture_broken", "pk_fixture_host.widgets")


def plugin_modules():
    return sorted(m for m in sys.modules if m.startswith(PLUGINS))


import pk_fixture_host

registry = pk_fixture_host.WIDGETS
keys = sorted(registry)
report = {
    "keys": keys,
    "cache": registry.cache_state,
    "origins": {key: registry.origin(key) for key in keys},
    "metadata": {key: registry.metadata(key) for key in keys},
    "errors": [
        {
            "entry_point": e.entry_point,
            "distribution": e.distribution,
            "module": e.module,
            "summary": e.summary,
        }
        for e in registry.errors
    ],
    "plugin_modules": plugin_modules(),
    "importlib_metadata": "importlib.metadata" in sys.modules,
    "got": {},
}
for key in json.loads(sys.argv[1]):
    before = set(plugin_modules())
    try:
        cls = registry[key]
    except Exception as exc:
        cause = exc.__cause__
        outcome = {
            "raised": [t.__name__ for t in type(exc).__mro__],
            "message": str(exc),
            "cause": None if cause is None else f"{type(cause).__name__}: {cause}",
        }
    else:
        outcome = {"class": f"{cls.__module__}.{cls.__qualname__}", "label": cls._label}
    outcome["imported"] = sorted(set(plugin_modules()) - before)
    report["got"][key] = outcome
print(json.dumps(report))
"""


def uv_command() -> list[str]:
    """uv as the nox session installs it (a module), or the uv on PATH."""
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    found = shutil.which("uv")
    if found is None:
        pytest.skip("these tests install distributions with uv: pip install uv")
    return [found]


class Site:
    """The fixture distributions installed in this environment, and from where."""

    def __init__(self, uv: list[str]) -> None:
        self._uv = uv
        #: distribution → (source folder, editable)
        self.installed: dict[str, tuple[Path, bool]] = {}

    def _pip(self, *args: str) -> None:
        done = subprocess.run(
            [*self._uv, "pip", *args, "--python", sys.executable],
            capture_output=True,
            text=True,
            timeout=UV_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"uv pip {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def install(self, name: str, source: Path, *, editable: bool = False) -> None:
        # No dependencies: platekit comes from this checkout, and the resolver
        # must not go looking for it (or the host fixture) on an index.
        # Reinstalling rebuilds from the folder, so an edited fixture is never stale.
        self._pip(
            "install",
            "--no-deps",
            "--reinstall-package",
            name,
            *(["--editable"] if editable else []),
            str(source),
        )
        self.installed[name] = (source, editable)

    def uninstall(self, *names: str) -> None:
        self._pip("uninstall", *names)
        for name in names:
            self.installed.pop(name, None)

    def use(self, *wanted: tuple[str, Path]) -> None:
        """Have exactly these fixture distributions installed, from these folders."""
        wanted_names = {name for name, _ in wanted}
        extra = [name for name in self.installed if name not in wanted_names]
        if extra:
            self.uninstall(*extra)
        for name, source in wanted:
            if self.installed.get(name) != (source, False):
                self.install(name, source)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """Installs fixture distributions on request; removes them all at the end."""
    if sys.prefix == sys.base_prefix:
        pytest.skip(
            "these tests install distributions into the running environment; "
            "run them in a virtual environment (python -m nox -s tests)"
        )
    installer = Site(uv_command())
    # Leftovers of an interrupted run would make the first results wrong.
    installer.uninstall(HOST, THIRDPARTY, BROKEN, MICROSCOPE)
    try:
        yield installer
    finally:
        installer.uninstall(HOST, THIRDPARTY, BROKEN, MICROSCOPE)


Run = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def fresh(tmp_path: Path) -> Run:
    """Run a fresh process with this test's own cache folder (never the user's)."""
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(tmp_path / "platekit-cache"))
    env.pop("PLATEKIT_DISABLE_REGISTRY_CACHE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    work = tmp_path / "work"
    work.mkdir()

    def run(
        *argv: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            env={**env, **(extra_env or {})},
            cwd=work,
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT,
            check=False,
        )

    return run


def probe(fresh: Run, *get: str) -> tuple[dict[str, Any], str]:
    """A fresh process's view of the fixture registry, and its stderr."""
    done = fresh(sys.executable, "-c", PROBE, json.dumps(list(get)))
    assert done.returncode == 0, f"the process failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def platekit_command() -> list[str]:
    """The ``platekit`` console script installed next to this interpreter."""
    script = shutil.which("platekit", path=str(Path(sys.executable).parent))
    if script is not None:
        return [script]
    return [
        sys.executable,
        "-c",
        "import sys; from platekit.registry._cli import main; sys.exit(main())",
    ]


def imported_by(importtime_log: str) -> set[str]:
    """Module names from ``-X importtime`` output."""
    names = set()
    for line in importtime_log.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", line)
        if match:
            names.add(match.group(1))
    return names


# -- found without being imported -------------------------------------------------------


def test_installed_plugin_is_found_and_a_warm_start_imports_none(site: Site, fresh: Run) -> None:
    site.use((HOST, HOST_DIR), (THIRDPARTY, THIRDPARTY_DIR))

    # Nobody imports pk_fixture_thirdparty: the registry finds it by its entry point.
    cold, _ = probe(fresh)
    assert cold["cache"].startswith("miss")
    assert cold["keys"] == GOOD
    assert cold["origins"]["sparkle"] == SPARKLE_ORIGIN
    assert cold["origins"]["plain"] == "package pk_fixture_host.widgets"
    assert cold["errors"] == []

    warm, _ = probe(fresh, "sparkle")
    assert warm["cache"] == "hit"
    assert warm["keys"] == GOOD
    assert warm["origins"]["sparkle"] == SPARKLE_ORIGIN
    assert warm["metadata"]["sparkle"] == {"_label": "Sparkle", "_colors": ["gold", "silver"]}
    assert warm["plugin_modules"] == []
    assert warm["importlib_metadata"] is False
    # The lookup imports the one module defining the key (and its package), nothing else.
    assert warm["got"]["sparkle"] == {
        "class": "pk_fixture_thirdparty.sparkle.SparkleWidget",
        "label": "Sparkle",
        "imported": ["pk_fixture_thirdparty", "pk_fixture_thirdparty.sparkle"],
    }


def test_installing_a_plugin_invalidates_a_warm_index(site: Site, fresh: Run) -> None:
    site.use((HOST, HOST_DIR))
    probe(fresh)
    before, _ = probe(fresh)
    assert before["cache"] == "hit" and before["keys"] == BUILT_IN

    site.install(THIRDPARTY, THIRDPARTY_DIR)
    after, _ = probe(fresh)
    assert after["cache"].startswith("miss")
    assert "platekit_fixture_thirdparty-0.1.0.dist-info" in after["cache"]
    assert after["keys"] == GOOD
    assert after["origins"]["sparkle"] == SPARKLE_ORIGIN


# -- forgotten when uninstalled --------------------------------------------------------------


def test_uninstalling_a_plugin_invalidates_the_index(site: Site, fresh: Run) -> None:
    site.use((HOST, HOST_DIR), (THIRDPARTY, THIRDPARTY_DIR))
    probe(fresh)
    warm, _ = probe(fresh)
    assert warm["cache"] == "hit" and "sparkle" in warm["keys"]

    site.uninstall(THIRDPARTY)
    after, _ = probe(fresh, "sparkle")
    assert after["cache"].startswith("miss")
    assert "platekit_fixture_thirdparty-0.1.0.dist-info" in after["cache"]
    assert after["keys"] == BUILT_IN
    assert after["errors"] == []
    gone = after["got"]["sparkle"]
    assert gone["raised"][0] == "KeyError"
    assert "Known: framed, plain." in gone["message"]

    again, _ = probe(fresh)
    assert again["cache"] == "hit" and again["keys"] == BUILT_IN


# -- a broken plugin is contained --------------------------------------------------------------


def check_broken_plugin_is_contained(report: dict[str, Any]) -> None:
    assert report["keys"] == GOOD
    assert report["errors"] == [
        {
            "entry_point": "broken_glow",
            "distribution": BROKEN,
            "module": "pk_fixture_broken.glow",
            "summary": MISSING,
        }
    ]
    broken = report["got"]["broken_glow"]
    assert broken["raised"][0] == "PluginImportError"
    assert "ImportError" in broken["raised"]
    assert f"entry point 'broken_glow' of {BROKEN}" in broken["message"]
    assert broken["cause"] == MISSING
    # The other plugins still work, and an unknown key names what failed.
    assert report["got"]["sparkle"]["class"] == "pk_fixture_thirdparty.sparkle.SparkleWidget"
    unknown = report["got"]["nope"]
    assert unknown["raised"][0] == "KeyError"
    assert f"Failed to import: entry point 'broken_glow' of {BROKEN}" in unknown["message"]


def test_broken_plugin_is_isolated_cold_and_warm(site: Site, fresh: Run) -> None:
    site.use((HOST, HOST_DIR), (THIRDPARTY, THIRDPARTY_DIR), (BROKEN, BROKEN_DIR))

    cold, stderr = probe(fresh, "broken_glow", "sparkle", "nope")
    assert cold["cache"].startswith("miss")
    check_broken_plugin_is_contained(cold)
    # Logged once, as a warning, with the traceback of the original failure.
    assert stderr.count(BROKEN_WARNING) == 1, stderr
    warning = stderr[stderr.index(BROKEN_WARNING) :]
    assert "Traceback (most recent call last):" in warning
    assert "pk_fixture_broken/glow.py" in warning.replace(os.sep, "/")
    assert MISSING in warning

    warm, _ = probe(fresh, "broken_glow", "sparkle", "nope")
    assert warm["cache"] == "hit"
    assert warm["plugin_modules"] == []
    check_broken_plugin_is_contained(warm)


# -- the platekit command ------------------------------------------------------------------------


def test_platekit_registries_shows_the_fixture_registry(site: Site, fresh: Run) -> None:
    site.use((HOST, HOST_DIR), (THIRDPARTY, THIRDPARTY_DIR), (BROKEN, BROKEN_DIR))
    platekit = platekit_command()

    everything = fresh(*platekit, "registries", "--json")
    assert everything.returncode == 0, everything.stderr
    listed = json.loads(everything.stdout)
    assert listed["problems"] == []
    reports = {r["announced_as"]: r for r in listed["registries"]}
    assert {"commands", "fixture"} <= set(reports)
    fixture = reports["fixture"]
    assert fixture["name"] == "fixture widget"
    assert fixture["root"] == "pk_fixture_host.Widget"
    origins = {entry["key"]: entry["origin"] for entry in fixture["keys"]}
    assert origins == {
        "framed": "package pk_fixture_host.widgets",
        "plain": "package pk_fixture_host.widgets",
        "glitter": f"entry point glitter ({THIRDPARTY})",
        "sparkle": SPARKLE_ORIGIN,
    }
    assert [e["source"] for e in fixture["errors"]] == [f"entry point 'broken_glow' of {BROKEN}"]

    # By the name it is announced under or by the registry's own name; warm,
    # it imports none of the plugins it lists.
    for name in ("fixture", "fixture widget"):
        only = fresh(
            *platekit, "registries", name, "--json", extra_env={"PYTHONPROFILEIMPORTTIME": "1"}
        )
        assert only.returncode == 0, only.stderr
        report = json.loads(only.stdout)
        assert [r["announced_as"] for r in report["registries"]] == ["fixture"]
        assert report["registries"][0]["cache"] == "hit"
        assert sorted(e["key"] for e in report["registries"][0]["keys"]) == GOOD
        imported = imported_by(only.stderr)
        assert "pk_fixture_host" in imported
        assert not {
            m for m in imported if m.startswith(("pk_fixture_thirdparty", "pk_fixture_host."))
        }

    text = fresh(*platekit, "registries", "fixture")
    assert text.returncode == 0, text.stderr
    assert re.search(
        r"^  sparkle +entry point sparkle \(platekit-fixture-thirdparty\)$", text.stdout, re.M
    )
    assert f"ERROR entry point 'broken_glow' of {BROKEN}: {MISSING}" in text.stdout


# -- versions and edits --------------------------------------------------------------------------


def test_new_version_of_the_host_invalidates_the_index(
    site: Site, fresh: Run, tmp_path: Path
) -> None:
    site.use((HOST, HOST_DIR), (THIRDPARTY, THIRDPARTY_DIR))
    probe(fresh)
    assert probe(fresh)[0]["cache"] == "hit"

    bumped = tmp_path / "host-0.2.0"
    shutil.copytree(HOST_DIR, bumped)
    pyproject = bumped / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert 'version = "0.1.0"' in text
    pyproject.write_text(text.replace('version = "0.1.0"', 'version = "0.2.0"'), encoding="utf-8")

    # Reinstalling rewrites the host's modules too, and that alone would make a
    # miss; give them back their stamps so that only the version differs.
    package = Path(sysconfig.get_paths()["purelib"]) / "pk_fixture_host"
    stamps = {path: path.stat() for path in package.rglob("*.py")}
    site.install(HOST, bumped)
    for path, stat in stamps.items():
        assert path.stat().st_size == stat.st_size
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    after, _ = probe(fresh)
    assert after["cache"].startswith("miss")
    assert "platekit_fixture_host-0.1.0.dist-info" in after["cache"]
    assert after["keys"] == GOOD
    assert probe(fresh)[0]["cache"] == "hit"


def test_editing_an_editable_plugin_invalidates_the_index(
    site: Site, fresh: Run, tmp_path: Path
) -> None:
    # A plugin's author works on it installed in editable mode: the module is
    # their source file, and an edit to it is a new version of the plugin.
    site.use((HOST, HOST_DIR))
    source = tmp_path / "thirdparty"
    shutil.copytree(THIRDPARTY_DIR, source)
    site.install(THIRDPARTY, source, editable=True)
    probe(fresh)
    warm, _ = probe(fresh)
    assert warm["cache"] == "hit"
    assert warm["metadata"]["sparkle"]["_label"] == "Sparkle"

    module = source / "src" / "pk_fixture_thirdparty" / "sparkle.py"
    code = module.read_text(encoding="utf-8")
    module.write_text(code.replace('"Sparkle"', '"Sparkle, edited"'), encoding="utf-8")

    # The class itself has the new label; what the registry reports must agree.
    after, _ = probe(fresh, "sparkle")
    assert after["got"]["sparkle"]["label"] == "Sparkle, edited"
    assert after["metadata"]["sparkle"]["_label"] == "Sparkle, edited", after["cache"]
    assert after["cache"].startswith("miss")


# -- a third-party microscope handler --------------------------------------------------------

ACME_PROBE = """
import json, sys
from pk_fixture_microscope.acme import write_acme_plate
from platekit.microscopes import MICROSCOPE_HANDLERS, convert, detect_microscope, open_plate

write_acme_plate(sys.argv[1])
handler = detect_microscope(sys.argv[1])
plate = open_plate(sys.argv[1])
result = convert(sys.argv[1], sys.argv[2])
print(json.dumps({
    "detected": handler.name,
    "origin": MICROSCOPE_HANDLERS.origin("acme"),
    "wells": plate.metadata.wells,
    "planes": len(list(plate.planes())),
    "pixel": int(plate.read("B02", site=2, channel=1)[0, 0]),
    "written": result.planes_written,
}))
"""


def test_a_third_party_microscope_handler_is_detected_and_converts(
    site: Site, fresh: Run, tmp_path: Path
) -> None:
    if importlib.util.find_spec("platekit.microscopes") is None:
        pytest.skip("platekit-microscopes is not installed here")
    site.use((MICROSCOPE, MICROSCOPE_DIR))
    plate, out = tmp_path / "acme", tmp_path / "acme.zarr"
    done = fresh(sys.executable, "-c", ACME_PROBE, str(plate), str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {
        "detected": "acme",
        "origin": f"entry point acme ({MICROSCOPE})",
        "wells": ["A01", "B02"],
        "planes": 8,
        "pixel": 121,
        "written": 8,
    }
    listed = fresh(*platekit_command(), "registries", "microscopes")
    assert "acme" in listed.stdout and MICROSCOPE in listed.stdout, listed.stdout


ACME_EXECUTOR_PROBE = """
import json, sys
from pathlib import Path
from pk_fixture_microscope.acme import write_acme_plate
from platekit.microscopes import EXECUTORS, convert

def files(folder):
    found = sorted(Path(folder).rglob("*"))
    return {str(p.relative_to(folder)): p.read_bytes().hex() for p in found
            if p.is_file() and p.name != ".platekit-lock"}

write_acme_plate(sys.argv[1])
theirs = convert(sys.argv[1], sys.argv[2], executor="acme_reversed")
convert(sys.argv[1], sys.argv[3])
print(json.dumps({
    "origin": EXECUTORS.origin("acme_reversed"),
    "written": theirs.planes_written,
    "same": files(sys.argv[2]) == files(sys.argv[3]),
}))
"""


def test_a_third_party_executor_converts_as_the_built_in_one_does(
    site: Site, fresh: Run, tmp_path: Path
) -> None:
    if importlib.util.find_spec("platekit.microscopes") is None:
        pytest.skip("platekit-microscopes is not installed here")
    site.use((MICROSCOPE, MICROSCOPE_DIR))
    plate, theirs, ours = tmp_path / "acme", tmp_path / "theirs.zarr", tmp_path / "ours.zarr"
    done = fresh(sys.executable, "-c", ACME_EXECUTOR_PROBE, str(plate), str(theirs), str(ours))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {
        "origin": f"entry point acme_reversed ({MICROSCOPE})",
        "written": 8,
        "same": True,
    }
    listed = fresh(*platekit_command(), "registries", "executors")
    assert "acme_reversed" in listed.stdout and "processes" in listed.stdout, listed.stdout
