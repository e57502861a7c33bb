"""What is installed, read from files: packages on sys.path, distributions, entry points.

A warm registry must validate its index without importing the plugins, their
packages, or ``importlib.metadata`` (tens of milliseconds on its own). Every
question here is answered with ``os.listdir``, ``os.path`` and small reads of
``.dist-info`` files.
"""

# On every warm start's path: no ``from __future__ import annotations`` (one more
# import to pay for), so annotations naming type-only names are quoted.

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

# One scan of sys.path per process and sys.path value; refresh() clears it.
_site_scans: dict[tuple[str, ...], list[tuple[str, list[str], list[str]]]] = {}

# Distribution metadata folders: wheels install .dist-info, older installs .egg-info.
_METADATA_SUFFIXES = (".dist-info", ".egg-info")


def _normalize(name: str) -> str:
    """PEP 503 normalization, with '_' (as dist-info folder names spell it)."""
    name = name.lower().replace("-", "_").replace(".", "_")
    while "__" in name:
        name = name.replace("__", "_")
    return name


def _path_dirs() -> list[tuple[str, list[str], list[str]]]:
    """``(folder, names in it, the metadata folders among them, sorted)`` for every
    folder on sys.path, listed once."""
    key = tuple(sys.path)
    scan = _site_scans.get(key)
    if scan is None:
        scan = []
        seen = set()
        for entry in key:
            folder = os.path.abspath(entry or ".")
            if folder in seen:
                continue
            seen.add(folder)
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            metadata = sorted(name for name in names if name.endswith(_METADATA_SUFFIXES))
            scan.append((folder, names, metadata))
        _site_scans[key] = scan
    return scan


def forget_scans() -> None:
    """Drop the memo of sys.path folders (after installing or removing distributions)."""
    _site_scans.clear()


def _dist_infos() -> "Iterator[tuple[str, str, str]]":
    """``(folder, metadata folder, normalized distribution name)``, first on sys.path first."""
    seen = set()
    for folder, _, metadata in _path_dirs():
        for name in metadata:
            dist = _normalize(name.rpartition(".")[0].partition("-")[0])
            if dist in seen:
                continue
            seen.add(dist)
            yield folder, name, dist


def package_dirs(package: str) -> list[str]:
    """The folders of an importable package, found on sys.path without importing it.

    More than one for a namespace package spread over several folders.
    """
    parts = package.split(".")
    found = []
    for folder, names, _ in _path_dirs():
        if parts[0] not in names:
            continue
        candidate = os.path.join(folder, *parts)
        if os.path.isdir(candidate):
            found.append(candidate)
    return found


def module_file(module: str) -> str | None:
    """Where a module's source would be on sys.path, found without importing it."""
    parts = module.split(".")
    for folder, names, _ in _path_dirs():
        if parts[0] not in names and f"{parts[0]}.py" not in names:
            continue
        base = os.path.join(folder, *parts)
        for candidate in (base + ".py", os.path.join(base, "__init__.py")):
            if os.path.isfile(candidate):
                return candidate
    return None


def owner_metadata(package: str) -> str | None:
    """The METADATA file of the distribution that owns ``package``, if one is installed.

    The owner is the distribution whose name is the longest dotted prefix of
    the package (``platekit.storage.backends`` → ``platekit-storage``). Its
    ``.dist-info`` folder name carries the version, so a new version shows as
    another path.
    """
    parts = package.split(".")
    candidates = {_normalize("_".join(parts[:n])): n for n in range(1, len(parts) + 1)}
    best: tuple[int, str] | None = None
    for folder, name, dist in _dist_infos():
        length = candidates.get(dist)
        if length is not None and (best is None or length > best[0]):
            metadata = "METADATA" if name.endswith(".dist-info") else "PKG-INFO"
            best = (length, os.path.join(folder, name, metadata))
    return best[1] if best else None


def installation_stamp_paths() -> list[str]:
    """One path per installed distribution: its ``entry_points.txt`` (present or not).

    Installing or removing a distribution adds or removes a path; upgrading
    one renames its ``.dist-info`` folder (the version is in the name); and
    an edited ``entry_points.txt`` changes its mtime. Folder mtimes are not
    used: writing ``__pycache__`` or a cache file would change them.
    """
    return [
        os.path.join(folder, name, "entry_points.txt")
        for folder, _, metadata in _path_dirs()
        for name in metadata
    ]


def installed_distributions() -> list[str]:
    """The metadata folder of every distribution on sys.path (its name carries the
    version), in sys.path order: it changes when a distribution is installed,
    removed or upgraded."""
    return [name for _, _, metadata in _path_dirs() for name in metadata]


class EntryPoint:
    """One entry point as declared in a distribution's ``entry_points.txt``."""

    __slots__ = ("distribution", "group", "name", "value")

    def __init__(self, name: str, value: str, group: str, distribution: str) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.distribution = distribution

    @property
    def module(self) -> str:
        return self.value.partition("[")[0].partition(":")[0].strip()

    @property
    def attr(self) -> str | None:
        attr = self.value.partition("[")[0].partition(":")[2].strip()
        return attr or None

    @property
    def extras(self) -> tuple[str, ...]:
        """The bracketed extras of ``module:attr [gpu, viewer]``: tags discovery can read."""
        _, bracket, rest = self.value.partition("[")
        if not bracket:
            return ()
        return tuple(part.strip() for part in rest.partition("]")[0].split(",") if part.strip())

    def __repr__(self) -> str:
        return f"EntryPoint({self.name!r} = {self.value!r} from {self.distribution})"


def entry_points(group: str) -> list[EntryPoint]:
    """Every entry point of ``group`` from the distributions on sys.path."""
    found = []
    for folder, name, _ in _dist_infos():
        path = os.path.join(folder, name, "entry_points.txt")
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError):
            continue
        distribution = _distribution_name(os.path.join(folder, name), name)
        found.extend(_parse_group(text, group, distribution))
    return found


def _distribution_name(dist_info: str, folder_name: str) -> str:
    """The distribution's own spelling of its name, from METADATA's Name field."""
    for metadata in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(dist_info, metadata), encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("Name:"):
                        return line[5:].strip()
                    if not line.strip():
                        break
        except (OSError, UnicodeDecodeError):
            continue
    return folder_name.rpartition(".")[0].partition("-")[0]


def _parse_group(text: str, group: str, distribution: str) -> list[EntryPoint]:
    """The entries of one ``[group]`` section of an entry_points.txt (INI) file."""
    found = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        if current != group:
            continue
        name, sep, value = line.partition("=")
        if sep and name.strip() and value.strip():
            found.append(EntryPoint(name.strip(), value.strip(), group, distribution))
    return found
