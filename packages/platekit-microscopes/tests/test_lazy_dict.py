"""LazyDict: filled on first use, compared by its contents, made again the same way."""

from __future__ import annotations

from platekit.microscopes.handlers._lazy_dict import LazyDict


def _counted(items: list[tuple[str, int]], runs: list[int]) -> LazyDict[str, int]:
    def fill() -> list[tuple[str, int]]:
        runs.append(1)
        return list(items)

    return LazyDict([("given", 0)], fill=fill)


def test_two_unfilled_dicts_compare_by_their_contents() -> None:
    runs: list[int] = []
    assert _counted([("a", 1)], runs) == _counted([("a", 1)], runs)
    assert _counted([("a", 1)], runs) != _counted([("a", 2)], runs)
    # A plain dict on the left: Python asks the LazyDict first.
    assert {"given": 0, "a": 1} == _counted([("a", 1)], runs)  # noqa: SIM300


def test_a_remade_dict_runs_its_fill_again_on_first_use() -> None:
    runs: list[int] = []
    items = [("a", 1)]
    first = _counted(items, runs)
    assert first["a"] == 1
    items[0] = ("a", 2)  # what fill reads has changed since
    again = first.remade()
    assert len(runs) == 1
    assert dict(again) == {"given": 0, "a": 2}
    assert len(runs) == 2
    assert first["a"] == 1
