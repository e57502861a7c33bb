"""The viewer offers none of the stream server's store options, which it would refuse.

Each command runs in a child process and stops at argparse: no viewer is opened.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _platekit(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run the ``platekit`` command in a child process with no display, bounded in time.

    Without a display, a viewer that got past its options stops at once instead of opening.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    return subprocess.run(
        [sys.executable, "-m", "platekit.registry", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", [["view"], ["serve", "viewer"]])
def test_help_lists_no_store_options(command: list[str]) -> None:
    done = _platekit(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "--hwm" in done.stdout and "--title" in done.stdout  # the others still offered
    assert "--store" not in done.stdout and "--root" not in done.stdout, done.stdout


@pytest.mark.parametrize("command", [["view"], ["serve", "viewer"]])
@pytest.mark.parametrize("option", [["--store", "disk"], ["--root", "/tmp/layers"]])
def test_a_store_option_is_argparses_one_line_refusal(
    command: list[str], option: list[str]
) -> None:
    done = _platekit(*command, *option)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    prog = "platekit " + " ".join(command)
    assert errors == [f"{prog}: error: unrecognized arguments: {' '.join(option)}"], done.stderr


def test_the_stream_server_still_offers_them() -> None:
    done = _platekit("serve", "stream", "--help")
    assert done.returncode == 0, done.stderr
    assert "--store" in done.stdout and "--root" in done.stdout
