"""run_suite.py's lists: tests left out, and stand-ins for a peer's modules platekit lacks."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def load_runner():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("compat_run_suite", HERE / "run_suite.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = load_runner()


@pytest.fixture
def peer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package ``peerpkg`` whose module ``base`` holds ``Real``; forgotten afterwards."""
    package = tmp_path / "peerpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "base.py").write_text("class Real:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "peerpkg"
    for name in [name for name in sys.modules if name.partition(".")[0] == "peerpkg"]:
        del sys.modules[name]


def test_lists_separate_stand_ins_from_tests(tmp_path: Path) -> None:
    lists = tmp_path / "d.txt"
    lists.write_text(
        "# a comment\n"
        "intended | tests/test_a.py::test_x | platekit says otherwise\n"
        "out of scope | tests/test_b.py | a feature platekit has not\n"
        "stand-in | peer.roi | ROIs are not platekit's\n"
    )
    listed, stand_ins = runner.read_lists(lists)
    assert listed == {
        "tests/test_a.py::test_x": ("intended", "platekit says otherwise"),
        "tests/test_b.py": ("out of scope", "a feature platekit has not"),
    }
    assert stand_ins == {"peer.roi": "ROIs are not platekit's"}
    lists.write_text("stand-in | peer.roi |\n")
    with pytest.raises(SystemExit, match="stand-in \\| module or name \\| reason"):
        runner.read_lists(lists)


def test_stand_in_module_and_name_raise_when_used(peer: str) -> None:
    runner.install_stand_ins(
        {f"{peer}.roi": "ROIs are not platekit's", f"{peer}.base.Sampling": "no sampling"}
    )
    from peerpkg.base import Real, Sampling  # type: ignore[import-not-found]
    from peerpkg.roi import ROI, PointShape  # type: ignore[import-not-found]

    assert Real.__name__ == "Real"  # the real names of a module stay as they are
    for stand_in, reason in ((ROI, "ROIs are not platekit's"), (Sampling, "no sampling")):
        with pytest.raises(runner.OutOfScopeError, match=f"is out of scope.*{reason}"):
            stand_in()
        with pytest.raises(runner.OutOfScopeError, match="out of scope"):
            stand_in.from_json  # noqa: B018
        assert not isinstance(object(), stand_in)
    assert PointShape.__name__ == "PointShape" and ROI.__module__ == f"{peer}.roi"
    assert isinstance(ROI, type) and issubclass(runner.OutOfScopeError, NotImplementedError)


def test_a_stand_in_for_what_exists_is_refused(peer: str) -> None:
    with pytest.raises(SystemExit, match=f"stand-in {peer}.base exists"):
        runner.install_stand_ins({f"{peer}.base": "it is real"})
    with pytest.raises(SystemExit, match=f"stand-in {peer}.base.Real exists"):
        runner.install_stand_ins({f"{peer}.base.Real": "it is real"})


def test_a_stand_in_under_no_module_is_one_line(peer: str) -> None:
    with pytest.raises(SystemExit, match=f"stand-in {peer}.nowhere.Thing: {peer}.nowhere cannot"):
        runner.install_stand_ins({f"{peer}.nowhere.Thing": "misspelt"})
