"""A benchmark's section of the reST benchmarks page: what it measures, its table, its targets."""

from __future__ import annotations


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
