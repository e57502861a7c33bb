"""Every way to build, test, check, document and release platekit.

    nox -s tests            every package together, with the integration tests (CI runs this)
    nox -s package          each layer alone, with only the layers below it installed
    nox -s lint typecheck docs release
    nox -s matrix           the test suite on every Python from 3.10 to 3.13 found here
    nox -s bench            the benchmarks, written into docs/benchmarks.rst
    nox -s compat           metaclass-registry 0.4.1's and polystore 0.6.3's test suites against
                            platekit's compat layers

Sessions use uv to make their environments when it is installed (``nox[uv]``)
and virtualenv otherwise. No session downloads a Python: only interpreters
already on this machine are used. Installs compile bytecode, as pip does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import nox

os.environ["UV_PYTHON_DOWNLOADS"] = "never"
# pip compiles every module's bytecode as it installs; uv does not, unless told. Without it,
# a process that may not write bytecode (PYTHONDONTWRITEBYTECODE) compiles every module it
# imports, every time: a Dask worker then takes 1 s to import distributed instead of 0.4 s.
os.environ["UV_COMPILE_BYTECODE"] = "1"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
nox.options.reuse_venv = "no"

ROOT = Path(__file__).resolve().parent
PACKAGES = ROOT / "packages"

# The layers, lowest first. Each depends on the ones before it only.
LAYER_ORDER = ("cache", "registry", "storage", "microscopes", "zmq")
LAYERS = [layer for layer in LAYER_ORDER if (PACKAGES / f"platekit-{layer}").is_dir()]

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
LINT_REQUIREMENTS = ["ruff>=0.6"]
TYPECHECK_REQUIREMENTS = ["mypy>=1.11", "pytest>=8", "hypothesis>=6.100"]
DOCS_REQUIREMENTS = ["sphinx>=7"]
# tests_integration/ installs plugin distributions into the session's environment with uv.
INTEGRATION_REQUIREMENTS = ["uv>=0.4"]
# The peer the registry benchmark measures platekit-registry against.
# moto runs the local S3 server the object-storage benchmark writes into; uv makes the
# environments of the converters the peers benchmark runs side by side with platekit.
BENCH_REQUIREMENTS = ["metaclass-registry==0.4.1", "moto[server]>=5", "uv>=0.4"]


def package_dir(layer: str) -> Path:
    return PACKAGES / f"platekit-{layer}"


def with_layers_below(layer: str) -> list[str]:
    return LAYERS[: LAYERS.index(layer) + 1]


# Optional extras the full test runs install; a layer's own session leaves them out.
OPTIONAL_EXTRAS = {
    "storage": "zarr,png,images,mat,s3",
    "microscopes": "xlsx,overview,arrays,s3,dask,napari",
}
# Layers that need a newer Python than the rest (zarr-python 3 needs 3.11).
NEEDS_PYTHON_311 = ("microscopes", "zmq")
# What the test extras bring, for the release session, which installs wheels without extras.
RELEASE_TEST_REQUIREMENTS = [
    "pytest>=8",
    "hypothesis>=6.100",
    "ome-zarr>=0.11",
    "ome-zarr-models>=1.0",
    "openpyxl>=3.1",
    "dask[array]>=2024.1",
    "xarray>=2024.1",
    "moto[server]>=5",
    "s3fs>=2023.6",
]


def install_from_source(
    session: nox.Session, layers: list[str], *extra: str, optional: bool = True
) -> None:
    """Install the given layers from this checkout, with their test extras.

    One install call, so the resolver takes each sibling from here rather
    than looking for it on the index. ``optional`` adds each layer's optional
    extras (zarr for storage).
    """
    requirements = []
    for layer in layers:
        extras = ["test"]
        if optional and layer in OPTIONAL_EXTRAS:
            extras.append(OPTIONAL_EXTRAS[layer])
        requirements.append(f"{package_dir(layer)}[{','.join(extras)}]")
    session.install(*requirements, *extra)


def test_paths(layers: list[str], *, integration: bool) -> list[str]:
    paths = [str(package_dir(layer) / "tests") for layer in layers]
    if integration:
        paths.append(str(ROOT / "tests_integration"))
    return paths


def run_pytest(session: nox.Session, paths: list[str]) -> None:
    """Run pytest from the repository root, with the cache in the session's own folder."""
    cache = Path(session.create_tmp()).resolve() / "platekit-cache"
    shutil.rmtree(cache, ignore_errors=True)
    session.run(
        "python",
        "-m",
        "pytest",
        *paths,
        *session.posargs,
        env={"PLATEKIT_CACHE_DIR": str(cache)},
    )


# Run inside a session's environment: every installed platekit distribution
# must have come from the place given, and exactly the expected ones are there.
PROVENANCE_CHECK = """
import json, sys
from importlib.metadata import distributions
from urllib.parse import unquote, urlparse

expected_names = set(sys.argv[1].split(","))
allowed = [p.rstrip("/") for p in sys.argv[2:]]
found, problems = set(), []
for dist in distributions():
    name = dist.metadata["Name"]
    if not name.lower().startswith("platekit"):
        continue
    found.add(name)
    direct = dist.read_text("direct_url.json")
    url = json.loads(direct)["url"] if direct else ""
    origin = unquote(urlparse(url).path) if url.startswith("file:") else url or "an index"
    if not any(origin == p or origin.startswith(p + "/") for p in allowed):
        problems.append(f"{name} came from {origin}, not from {' or '.join(allowed)}")
if found != expected_names:
    problems.append(
        f"installed platekit distributions {sorted(found)}, expected {sorted(expected_names)}"
    )
if problems:
    sys.exit("\\n".join(problems))
print("platekit distributions from", ", ".join(allowed) + ":", ", ".join(sorted(found)))
"""


def check_provenance(session: nox.Session, layers: list[str], *origins: Path) -> None:
    script = Path(session.create_tmp()).resolve() / "check_provenance.py"
    script.write_text(PROVENANCE_CHECK)
    names = ",".join(f"platekit-{layer}" for layer in layers)
    session.run("python", str(script), names, *(str(o.resolve()) for o in origins))


# Debian packages the napari viewer tests need: an X server (Xvfb), Mesa's software OpenGL and
# the libraries Qt's xcb platform loads. The tests session installs those missing, with apt-get.
DISPLAY_PACKAGES = [
    "xvfb", "libgl1", "libgl1-mesa-dri", "libegl1", "libfontconfig1", "libdbus-1-3",
    "libxkbcommon-x11-0", "libxcb-cursor0", "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1",
    "libxcb-randr0", "libxcb-render-util0", "libxcb-shape0", "libxcb-xfixes0", "libxcb-xinerama0",
]  # fmt: skip


def install_display_packages(session: nox.Session) -> None:
    """Install the missing :data:`DISPLAY_PACKAGES` with apt-get (as root, or through sudo -n).

    Where there is no apt-get, or the install fails, the session goes on: the viewer tests then
    say why they cannot run (and fail under CI, which must run them).
    """
    if shutil.which("apt-get") is None or shutil.which("dpkg-query") is None:
        session.log("no apt-get here; the napari viewer tests need Xvfb and Mesa's OpenGL")
        return
    missing = [name for name in DISPLAY_PACKAGES if not _debian_package_installed(name)]
    if not missing:
        return
    as_root = [] if os.geteuid() == 0 else ["sudo", "-n"]
    session.log(f"installing {' '.join(missing)} with apt-get, for the napari viewer tests")
    quiet = {"stdout": subprocess.DEVNULL, "check": True}
    try:
        subprocess.run([*as_root, "apt-get", "update", "-qq"], timeout=300, **quiet)
        subprocess.run(
            [*as_root, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
             "-qq", "--no-install-recommends", *missing],
            timeout=600,
            **quiet,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        session.warn(f"could not install {' '.join(missing)} ({exc}); the viewer tests will say so")


def _debian_package_installed(name: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
    )
    return "install ok installed" in done.stdout


@nox.session
def tests(session: nox.Session) -> None:
    """Every package installed together; every package's tests and the integration tests.

    Installs the Debian packages the napari viewer tests need, when they are missing.
    """
    install_display_packages(session)
    install_from_source(session, LAYERS, *INTEGRATION_REQUIREMENTS)
    check_provenance(session, LAYERS, PACKAGES)
    run_pytest(session, test_paths(LAYERS, integration=True))


@nox.session(python=PYTHONS)
def matrix(session: nox.Session) -> None:
    """The whole suite on each supported Python here (on 3.10, the layers that run there)."""
    layers = LAYERS
    if session.python == "3.10":
        layers = [layer for layer in LAYERS if layer not in NEEDS_PYTHON_311]
    install_from_source(session, layers, *INTEGRATION_REQUIREMENTS)
    run_pytest(session, test_paths(layers, integration=True))


@nox.session
@nox.parametrize("layer", LAYERS, ids=LAYERS)
def package(session: nox.Session, layer: str) -> None:
    """One layer alone: only it and the layers below it installed, only its tests run."""
    layers = with_layers_below(layer)
    install_from_source(session, layers, optional=False)
    check_provenance(session, layers, PACKAGES)
    run_pytest(session, test_paths([layer], integration=False))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install(*LINT_REQUIREMENTS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package's source (one PEP 420 namespace)."""
    session.install(*TYPECHECK_REQUIREMENTS, *(str(package_dir(layer)) for layer in LAYERS))
    # Keep the third-party dependencies but not the installed copies of platekit,
    # which mypy would otherwise check instead of the source folders.
    session.run("uv", "pip", "uninstall", *(f"platekit-{layer}" for layer in LAYERS))
    sources = [str(package_dir(layer) / "src") for layer in LAYERS]
    cache = Path(session.create_tmp()).resolve() / "mypy"
    shutil.rmtree(cache, ignore_errors=True)
    session.run(
        "mypy", "--cache-dir", str(cache), *sources, env={"MYPYPATH": os.pathsep.join(sources)}
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx documentation; any warning fails the build."""
    # With the test and optional extras, so the zarr backend and the contract suite autodoc.
    install_from_source(session, LAYERS, *DOCS_REQUIREMENTS)
    out = ROOT / "docs" / "_build" / "html"
    cache = Path(session.create_tmp()).resolve() / "platekit-cache"
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "-b",
        "html",
        str(ROOT / "docs"),
        str(out),
        env={"PLATEKIT_CACHE_DIR": str(cache)},
    )
    session.log(f"documentation in {out / 'index.html'}")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks; each writes its section of docs/benchmarks.rst (docs/benchmarks/*.inc).

    The registry against metaclass-registry 0.4.1 in fresh processes, the
    storage backends against tifffile, numpy and zarr-python, the Zarr codecs
    per core on real and synthetic pixels, a big plate with and without
    shards, plate conversion against a raw tifffile-to-zarr copy, the same
    plates converted by fractal-uzh-converters and faim-ipa (in environments
    of their own, made with uv), then the zmq servers against bare pyzmq.
    Extra arguments go to every script: ``nox -s bench -- --quick``,
    ``-- --fail-on-miss``.
    """
    install_from_source(session, LAYERS, *BENCH_REQUIREMENTS)
    bench = ROOT / "tests_integration" / "bench"
    sections = ROOT / "docs" / "benchmarks"
    scripts = {
        "registry_bench.py": "registry.inc",
        "storage_bench.py": "storage.inc",
        "codec_bench.py": "codecs.inc",
        "sharding_bench.py": "sharding.inc",
        "peers_bench.py": "peers.inc",
        "microscopes_bench.py": "microscopes.inc",
        "zmq_bench.py": "zmq.inc",
    }
    for script, section in scripts.items():
        session.run(
            "python", str(bench / script), "--rst", str(sections / section), *session.posargs
        )


@nox.session
def release(session: nox.Session) -> None:
    """Build every wheel and sdist, then test the installed wheels, not the source tree."""
    dist = Path(session.create_tmp()).resolve() / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.install("uv")
    for layer in LAYERS:
        # uv builds the sdist, then the wheel from the sdist, so a file the
        # sdist forgets breaks the wheel here rather than for a user.
        session.run("uv", "build", "--quiet", "--out-dir", str(dist), str(package_dir(layer)))
    for layer in LAYERS:
        check_sdist(session, dist, layer)
    wheels = sorted(str(wheel) for wheel in dist.glob("platekit_*.whl"))
    if len(wheels) != len(LAYERS):
        session.error(f"expected {len(LAYERS)} wheels in {dist}, found {wheels}")
    # Only the wheels provide platekit; third-party dependencies come from the index.
    optional = ["zarr>=3; python_version >= '3.11'"] if "storage" in LAYERS else []
    session.install(*wheels, *RELEASE_TEST_REQUIREMENTS, *optional, *INTEGRATION_REQUIREMENTS)
    check_provenance(session, LAYERS, dist)
    run_pytest(session, test_paths(LAYERS, integration=True))
    session.log(f"wheels and sdists in {dist}")


def check_sdist(session: nox.Session, dist: Path, layer: str) -> None:
    """The sdist must carry the package's README, pyproject, py.typed and tests."""
    sdists = list(dist.glob(f"platekit_{layer}-*.tar.gz"))
    if len(sdists) != 1:
        session.error(f"expected one sdist for platekit-{layer} in {dist}, found {sdists}")
    with tarfile.open(sdists[0]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    required = {"README.md", "pyproject.toml", f"src/platekit/{layer}/py.typed"}
    missing = sorted(required - names)
    if not any(name.startswith("tests/test_") for name in names):
        missing.append("tests/test_*.py")
    if missing:
        session.error(f"{sdists[0].name} lacks {', '.join(missing)}")
    session.log(f"{sdists[0].name}: {len(names)} files, README, py.typed and tests present")


@nox.session
def compat(session: nox.Session) -> None:
    """Peers' own test suites against platekit's compat layers.

    metaclass-registry 0.4.1's against platekit.registry.compat, then
    polystore 0.6.3's against platekit.storage.compat: each sdist is
    downloaded, its tests run with a shim package that is platekit's compat
    layer, and passed / failed / intended differences / out of scope are
    printed. Fails when a test outside its list in tests_integration/compat/
    (differences.txt, polystore_differences.txt) fails, or a listed one
    passes. Extra arguments go to pytest: ``nox -s compat -- -x``.
    """
    session.install(
        *(f"{package_dir(layer)}[test]" for layer in ("cache", "registry")),
        # polystore's suite saves and loads PNG and MATLAB files: the png and mat extras.
        f"{package_dir('storage')}[test,zarr,png,mat]",
        "pip",
    )
    run_peer_suite(session, "metaclass-registry==0.4.1", "metaclass_registry-*.tar.gz")
    run_peer_suite(
        session,
        "polystore==0.6.3",
        "polystore-*.tar.gz",
        "--shims",
        "polystore_shim",
        "--differences",
        "polystore_differences.txt",
    )


def run_peer_suite(session: nox.Session, version: str, pattern: str, *options: str) -> None:
    """Download the sdist of ``version`` and run its suite with compat/run_suite.py."""
    work = Path(session.create_tmp()).resolve() / version.partition("==")[0]
    shutil.rmtree(work, ignore_errors=True)
    sdists = work / "sdist"
    session.run(
        "python", "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
        "--dest", str(sdists), version,
    )  # fmt: skip
    sdist = next(sdists.glob(pattern), None)
    if sdist is None:
        session.error(f"pip downloaded no sdist of {version} into {sdists}")
    runner = ROOT / "tests_integration" / "compat" / "run_suite.py"
    session.run("python", str(runner), str(sdist), str(work / "suite"), *options, *session.posargs)


if __name__ == "__main__":
    sys.exit("run this file with nox: python -m nox -s tests")
