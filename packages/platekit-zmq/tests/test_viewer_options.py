"""The viewer offers none of the stream server's store options, which it would refuse.

Each command runs in a child process and stops at argparse: no viewer is opened.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("command", [["view"], ["serve", "viewer"]])
def test_help_lists_no_store_options(platekit: Any, command: list[str]) -> None:
    done = platekit(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "--hwm" in done.stdout and "--title" in done.stdout  # the others still offered
    assert "--store" not in done.stdout and "--root" not in done.stdout, done.stdout


@pytest.mark.parametrize("command", [["view"], ["serve", "viewer"]])
@pytest.mark.parametrize("option", [["--store", "disk"], ["--root", "/tmp/layers"]])
def test_a_store_option_is_argparses_one_line_refusal(
    platekit: Any, command: list[str], option: list[str]
) -> None:
    done = platekit(*command, *option)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    prog = "platekit " + " ".join(command)
    assert errors == [f"{prog}: error: unrecognized arguments: {' '.join(option)}"], done.stderr


def test_the_stream_server_still_offers_them(platekit: Any) -> None:
    done = platekit("serve", "stream", "--help")
    assert done.returncode == 0, done.stderr
    assert "--store" in done.stdout and "--root" in done.stdout
