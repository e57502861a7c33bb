"""A benchmark's section of the reST benchmarks page: what it measures, its table, its targets."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


def list_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """The lines of a reST list-table: ``headers`` as its header row, then ``rows``."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [headers, *rows]:
        lines += [f"   * - {row[0]}", *(f"     - {cell}" for cell in row[1:])]
    return lines


def rst_section(title: str, intro: str, facts: str, body: list[str], verdicts: list[str]) -> str:
    """The section ``title``: ``intro``, the ``facts`` of the run, ``body`` and the verdicts."""
    lines = [
        "",
        title,
        "-" * len(title),
        "",
        intro,
        "",
        facts + ".",
        "",
        *body,
        "",
        "Target:",
        "",
        *(f"- {verdict}" for verdict in verdicts),
        "",
    ]
    return "\n".join(lines)
