"""The microscope handler registry, detection, and the component enums."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from platekit.microscopes import (
    METADATA_HANDLERS,
    MICROSCOPE_HANDLERS,
    AllComponents,
    AmbiguousPlateError,
    GroupBy,
    PlateFormatError,
    UnknownPlateError,
    VariableComponents,
    detect_microscope,
    open_plate,
)
from platekit.microscopes._xml import parse_xml
from platekit.microscopes.testing import write_plate

BUILT_IN = ["cellvoyager", "imagexpress", "omezarr", "opera_phenix"]


def run_fresh(code: str, cache: Path) -> dict[str, object]:
    """Run ``code`` in a new interpreter with ``cache`` as its cache; its last line as JSON."""
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_built_in_handlers_are_registered() -> None:
    assert sorted(MICROSCOPE_HANDLERS) == BUILT_IN
    assert sorted(METADATA_HANDLERS) == BUILT_IN
    for key in BUILT_IN:
        assert METADATA_HANDLERS[key] is MICROSCOPE_HANDLERS[key].metadata_handler
        assert MICROSCOPE_HANDLERS.metadata(key)["display_name"]


PROBE = """
import json, sys
from platekit.microscopes import METADATA_HANDLERS, MICROSCOPE_HANDLERS
handlers = [m for m in sys.modules if m.startswith("platekit.microscopes.handlers.")]
keys = sorted(METADATA_HANDLERS)
listed = [m for m in sys.modules if m.startswith("platekit.microscopes.handlers.")]
handler = METADATA_HANDLERS["opera_phenix"]
print(json.dumps({
    "keys": keys,
    "state": MICROSCOPE_HANDLERS.cache_state,
    "before": handlers,
    "listed": sorted(listed),
    "handler": f"{handler.__module__}.{handler.__qualname__}",
    "imported": sorted(m for m in sys.modules if m.startswith("platekit.microscopes.handlers.")),
}))
"""


def test_the_secondary_registry_discovers_its_primary_in_a_fresh_process(tmp_path: Path) -> None:
    cold = run_fresh(PROBE, tmp_path / "cache")
    assert cold["keys"] == BUILT_IN
    assert cold["before"] == []
    assert str(cold["state"]).startswith("miss")

    warm = run_fresh(PROBE, tmp_path / "cache")
    assert warm["keys"] == BUILT_IN
    assert warm["state"] == "hit"
    # Listing imports no handler; asking for one imports its own modules only.
    assert warm["listed"] == []
    assert warm["handler"].startswith("platekit.microscopes.handlers.opera.")
    assert all("opera" in m or "harmony" in m for m in warm["imported"]), warm["imported"]


# -- detection -----------------------------------------------------------------------------


def test_a_folder_of_no_plate_says_what_each_handler_looked_for(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a plate")
    with pytest.raises(UnknownPlateError) as raised:
        detect_microscope(tmp_path)
    message = str(raised.value)
    assert str(tmp_path) in message
    for key in BUILT_IN:
        assert f"  {key}: looked for {MICROSCOPE_HANDLERS.metadata(key)['looks_for']}" in message
    assert ".HTD" in message and "Index.idx.xml" in message and "MeasurementData.mlf" in message


def test_a_folder_of_two_formats_names_both_and_how_to_choose(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "Both", wells=["A01"])
    write_plate("cellvoyager", tmp_path / "cv", wells=["A01"])
    for name in ("MeasurementData.mlf", "MeasurementDetail.mrf"):
        (folder / name).write_bytes((tmp_path / "cv" / name).read_bytes())
    with pytest.raises(AmbiguousPlateError) as raised:
        detect_microscope(folder)
    message = str(raised.value)
    assert "cellvoyager (MeasurementData.mlf)" in message and "imagexpress (Both.HTD)" in message
    assert "microscope=" in message and "--microscope" in message
    assert open_plate(folder, microscope="imagexpress").microscope == "imagexpress"


def test_paths_that_are_no_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_plate(tmp_path / "nowhere")
    (tmp_path / "file.tif").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="give the plate's folder"):
        open_plate(tmp_path / "file.tif")
    with pytest.raises(KeyError, match="imagexpress"):
        open_plate(tmp_path, microscope="imagexpres")


# -- safe XML ------------------------------------------------------------------------------


def test_xml_with_an_external_entity_is_refused_without_reading_it(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    index = tmp_path / "Index.xml"
    index.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY s SYSTEM "file://{secret}">]>\n<r>&s;</r>\n'
    )
    with pytest.raises(PlateFormatError, match=r"Index.xml, line 2: declares a document type"):
        parse_xml(index)


def test_an_entity_expansion_bomb_is_refused(tmp_path: Path) -> None:
    lines = ['<!ENTITY a0 "lol">']
    lines += [f'<!ENTITY a{n} "{("&a" + str(n - 1) + ";") * 10}">' for n in range(1, 10)]
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(f"<?xml version='1.0'?>\n<!DOCTYPE r [{''.join(lines)}]>\n<r>&a9;</r>\n")
    with pytest.raises(PlateFormatError, match="refused"):
        parse_xml(bomb)


def test_malformed_xml_names_the_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "MeasurementData.mlf"
    broken.write_text("<a>\n<b>\n</a>\n")
    with pytest.raises(PlateFormatError, match=r"MeasurementData.mlf, line 3: is not well-formed"):
        parse_xml(broken)


def test_namespaces_and_a_bom_are_read(tmp_path: Path) -> None:
    index = tmp_path / "i.xml"
    index.write_bytes(b'\xef\xbb\xbf<r xmlns="urn:x" a="1"><c>text</c></r>')
    root = parse_xml(index)
    assert root.tag == "{urn:x}r" and root.get("a") == "1"
    assert root.find("{urn:x}c").text == "text"  # type: ignore[union-attr]


# -- component enums -----------------------------------------------------------------------


def test_component_enums() -> None:
    assert [m.value for m in AllComponents] == ["well", "site", "channel", "z_index", "timepoint"]
    assert "WELL" not in VariableComponents.__members__
    assert GroupBy.NONE.component is None
    assert GroupBy.CHANNEL.component is AllComponents.CHANNEL
    assert AllComponents.Z_INDEX.component == "z_index"
    assert AllComponents.WELL.is_spatial and not AllComponents.CHANNEL.is_spatial
    for member in (GroupBy.SITE, AllComponents.TIMEPOINT, VariableComponents.CHANNEL):
        assert pickle.loads(pickle.dumps(member)) is member


ENUMS = """
import json, pickle
from platekit.microscopes import AllComponents, GroupBy
from platekit.cache import RegistryCacheManager
print(json.dumps({
    "component": GroupBy.CHANNEL.component.name,
    "spatial": AllComponents.SITE.is_spatial,
    "pickled": pickle.loads(pickle.dumps(GroupBy.Z_INDEX)) is GroupBy.Z_INDEX,
    "cached": RegistryCacheManager("enum.GroupBy", version="1", max_age_days=30).load() is not None,
}))
"""


def test_enums_come_back_from_the_cache_with_their_methods(tmp_path: Path) -> None:
    first = run_fresh(ENUMS, tmp_path / "cache")
    assert first == {"component": "CHANNEL", "spatial": True, "pickled": True, "cached": True}
    records = list((tmp_path / "cache").rglob("enum.GroupBy*"))
    assert records, "the enum was not cached"
    second = run_fresh(ENUMS, tmp_path / "cache")
    assert second == first
