"""A user's mistake at a platekit-zmq command is one line naming the value and what to do.

Each command runs in a child process and is refused before any server serves.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest


def refusal(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The one line ``done`` wrote to standard error, once it exited with ``code``."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("store", ["disk", "zarr"])
@pytest.mark.parametrize(
    ("under", "why"), [("afile/x", "Not a directory"), ("afile", "it is a file")]
)
def test_a_store_root_that_cannot_be_a_folder_is_named(
    platekit: Any, tmp_path: Path, store: str, under: str, why: str
) -> None:
    (tmp_path / "afile").write_text("not a folder")
    root = tmp_path / (under + (".zarr" if store == "zarr" else ""))
    if under == "afile" and store == "zarr":
        (tmp_path / "afile").rename(root)  # a file named like the store
    line = refusal(platekit("serve", "stream", "--store", store, "--root", str(root)))
    assert line == (
        f"platekit serve stream: cannot make the {store} store's root {str(root)!r} ({why}); "
        "choose a folder you can write to"
    )


@pytest.mark.parametrize("command", [["serve", "stream"], ["serve", "execution"], ["view"]])
@pytest.mark.parametrize("limit", ["-1", "0", "65535"])
def test_a_frame_limit_below_a_header_is_refused_naming_it(
    platekit: Any, command: list[str], limit: str
) -> None:
    line = refusal(platekit(*command, "--max-message-bytes", limit))
    assert line == (
        f"platekit {' '.join(command)}: --max-message-bytes {int(limit)} is not a limit the "
        "server can take; give a number of bytes from 65536 (the largest header) up, such as "
        "the default 268435456"
    )


def test_a_frame_limit_that_is_no_number_is_argparses_one_line(platekit: Any) -> None:
    done = platekit("serve", "stream", "--max-message-bytes", "1e6")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors == [
        "platekit serve stream: error: argument --max-message-bytes: invalid int value: '1e6'"
    ], done.stderr


@pytest.mark.slow
def test_the_smallest_frame_limit_is_taken(platekit_env: dict[str, str]) -> None:
    from platekit.zmq import launch_server

    with launch_server("stream", max_message_bytes=65536, env=platekit_env) as server:
        assert server.request("status")["type"] == "status"


@pytest.mark.parametrize("clients", ["-1", "0"])
def test_keys_for_no_client_are_refused_and_nothing_is_written(
    platekit: Any, tmp_path: Path, clients: str
) -> None:
    line = refusal(platekit("zmq", "keys", str(tmp_path / "keys"), "--clients", clients), code=2)
    assert line == (
        f"platekit zmq keys: --clients {int(clients)} would allow no client, and a server with "
        "keys answers only the clients it allows; give the number of client key pairs to make, "
        "1 or more"
    )
    assert not (tmp_path / "keys").exists()


@pytest.mark.parametrize("command", ["submit", "status"])
@pytest.mark.parametrize("timeout", ["nan", "inf", "0", "-1"])
def test_a_timeout_that_is_no_wait_is_refused_naming_it(
    platekit: Any, command: str, timeout: str
) -> None:
    argv = [command, "--address", "tcp://127.0.0.1:5999", "--timeout", timeout]
    line = refusal(platekit(*argv, *(["sleep"] if command == "submit" else [])), code=2)
    assert line == (
        f"platekit {command}: --timeout {float(timeout)!r} is not a time to wait; give the "
        "seconds to wait for each reply, a number above 0 (default 10)"
    )


@pytest.fixture
def keys(platekit: Any, tmp_path: Path) -> Path:
    """A keys folder made by ``platekit zmq keys``."""
    done = platekit("zmq", "keys", str(tmp_path / "keys"))
    assert done.returncode == 0, done.stderr
    return tmp_path / "keys"


@pytest.mark.parametrize("command", ["submit", "status"])
@pytest.mark.parametrize(
    ("client", "server", "said"),
    [
        (
            "missing",
            "keys/server.key",
            "--client-key {missing!r} is not a key file (no such file); give the client's "
            ".key_secret file that 'platekit zmq keys' wrote",
        ),
        (
            "afile",
            "keys/server.key",
            "--client-key {afile!r} is not a key file (it holds no key); give the client's "
            ".key_secret file that 'platekit zmq keys' wrote",
        ),
        (
            "keys/client1.key_secret",
            "keys",
            "--server-key {keys!r} is not a key file (Is a directory); give the server's public "
            "key, KEYS_FOLDER/server.key",
        ),
    ],
)
def test_a_key_file_that_holds_no_key_is_named(
    platekit: Any, keys: Path, tmp_path: Path, command: str, client: str, server: str, said: str
) -> None:
    (tmp_path / "afile").write_text("not a key\n")
    argv = [command, "--address", "tcp://127.0.0.1:5999"]
    argv += ["--client-key", str(tmp_path / client), "--server-key", str(tmp_path / server)]
    line = refusal(platekit(*argv, *(["sleep"] if command == "submit" else [])), code=2)
    names = {name: str(tmp_path / name) for name in ("missing", "afile", "keys")}
    assert line == f"platekit {command}: " + said.format(**names)


def test_serve_without_a_kind_names_the_servers(platekit: Any) -> None:
    line = refusal(platekit("serve"), code=2)
    assert line == (
        "platekit serve: which server? give its KIND, one of: execution, stream, viewer "
        "('platekit serve KIND --help' lists its options)"
    )


@pytest.mark.parametrize("store", [[], ["--store", "memory"]])
def test_a_root_for_the_memory_store_is_refused_not_ignored(
    platekit: Any, tmp_path: Path, store: list[str]
) -> None:
    root = str(tmp_path / "arrays")
    line = refusal(platekit("serve", "stream", *store, "--root", root))
    assert line == (
        f"platekit serve stream: --root {root!r} is for the disk and zarr stores, and the memory "
        "store keeps arrays in the server's process; add --store disk or --store zarr, or leave "
        "--root out"
    )


@pytest.mark.parametrize("command", [["serve", "stream"], ["serve", "execution"], ["view"]])
def test_a_port_for_ipc_sockets_is_refused_not_ignored(platekit: Any, command: list[str]) -> None:
    line = refusal(platekit(*command, "--bind", "ipc", "--port", "5999"))
    assert line == (
        f"platekit {' '.join(command)}: --port 5999 has no meaning with --bind ipc, whose "
        "sockets are files in the temporary folder, not ports; leave --port out, or bind an "
        "interface such as 127.0.0.1"
    )


@pytest.mark.parametrize("hwm", ["0", "-3", "2147483648"])
def test_a_queue_length_zeromq_cannot_take_is_refused_naming_it(platekit: Any, hwm: str) -> None:
    line = refusal(platekit("serve", "stream", "--hwm", hwm))
    assert line == (
        f"platekit serve stream: --hwm {hwm} is not a number of messages ZeroMQ can queue; "
        "give one from 1 to 2147483647 (default 64)"
    )


def test_a_frame_limit_beyond_zeromqs_count_is_refused_naming_it(platekit: Any) -> None:
    line = refusal(platekit("serve", "stream", "--max-message-bytes", str(2**63)))
    assert line == (
        f"platekit serve stream: --max-message-bytes {2**63} is more than ZeroMQ can count "
        f"({2**63 - 1}); give a smaller number of bytes, such as the default 268435456"
    )


def test_keys_into_an_empty_folder_name_are_refused_not_written_here(
    platekit: Any, tmp_path: Path
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    line = refusal(platekit("zmq", "keys", "", cwd=here), code=2)
    assert line == (
        "platekit zmq keys: FOLDER '' names no folder; give the folder to write the keys into"
    )
    assert not list(here.iterdir())


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
def test_an_empty_keys_folder_is_refused(platekit: Any, bind: str) -> None:
    line = refusal(platekit("serve", "stream", "--bind", bind, "--keys", ""))
    assert line == (
        "platekit serve stream: --keys '' names no folder; give the folder that "
        "'platekit zmq keys FOLDER' wrote"
    )


def test_a_job_parameter_given_twice_is_refused_naming_both(platekit: Any) -> None:
    argv = ["submit", "--address", "tcp://127.0.0.1:5999", "sleep", "seconds=1", "seconds=2"]
    line = refusal(platekit(*argv), code=2)
    assert line == (
        "platekit submit: parameter 'seconds' is given twice ('seconds=1' and 'seconds=2'); "
        "give it once"
    )


def test_a_key_file_given_for_the_keys_folder_points_at_its_folder(
    platekit: Any, keys: Path
) -> None:
    line = refusal(platekit("serve", "stream", "--keys", str(keys / "server.key")))
    assert line == (
        f"platekit serve stream: --keys {str(keys / 'server.key')!r} is a file; give the folder "
        f"that 'platekit zmq keys' wrote the keys into, such as {str(keys)!r}"
    )
