"""Who may talk to a server: loopback by default, CURVE-authenticated clients beyond it."""

from __future__ import annotations

import ipaddress
import itertools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.auth

from platekit.zmq import (
    Client,
    InsecureBindError,
    ServerGone,
    ServerStartError,
    ZMQServer,
    client_keys,
    launch_server,
    make_keys,
)
from platekit.zmq._security import check_bind, is_loopback, server_keys

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")


def _own_addresses() -> list[str]:
    """This machine's non-loopback addresses, read from /proc (nothing is sent anywhere)."""
    found: set[str] = set()
    try:
        lines = Path("/proc/net/fib_trie").read_text(encoding="ascii").splitlines()
    except OSError:
        lines = []
    for previous, line in itertools.pairwise(lines):
        if line.strip() == "/32 host LOCAL":
            found.add(previous.strip().removeprefix("|-- "))
    try:
        for line in Path("/proc/net/if_inet6").read_text(encoding="ascii").splitlines():
            digits = line.split()[0]
            found.add(str(ipaddress.ip_address(int(digits, 16))))
    except (OSError, ValueError, IndexError):
        pass
    own = sorted(
        address
        for address in found
        if not ipaddress.ip_address(address).is_loopback
        and not ipaddress.ip_address(address).is_link_local
    )
    return own or ["0.0.0.0"]


OWN = _own_addresses()[0]


class Guarded(ZMQServer):
    """An in-process server (no key: it joins no registry)."""

    data_socket = "PUB"


def _make_stranger(folder: Path) -> Path:
    """A client key pair the server never heard of; its secret file."""
    folder.mkdir()
    _, secret = zmq.auth.create_certificates(str(folder), "stranger")
    return Path(secret)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    folder = tmp_path / "keys"
    make_keys(folder, clients=2)
    return folder


# -- where a server may bind -------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "ipc"])
def test_loopback_and_ipc_need_no_keys(host: str) -> None:
    check_bind(host, None)
    assert host == "ipc" or is_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "192.0.2.10", "10.1.2.3", "fd00::5", "server.example", OWN]
)
def test_any_other_address_without_keys_is_refused_saying_how_to_make_them(host: str) -> None:
    with pytest.raises(InsecureBindError) as refused:
        check_bind(host, None)
    message = str(refused.value)
    assert f"binding {host} " in message
    assert "platekit zmq keys KEYS_FOLDER" in message
    assert "--keys KEYS_FOLDER" in message
    check_bind(host, "keys")  # with keys, any address


def test_a_server_refuses_a_public_address_before_it_binds() -> None:
    with pytest.raises(InsecureBindError):
        Guarded(bind=OWN)
    with pytest.raises(InsecureBindError):
        Guarded(bind="0.0.0.0")


def test_a_server_binds_loopback_by_default_and_ipc_on_request(
    run_server: Callable[[Any], Any],
) -> None:
    server = run_server(Guarded())
    assert server.control_address.startswith("tcp://127.0.0.1:")
    over_ipc = run_server(Guarded(bind="ipc"))
    assert over_ipc.control_address.startswith("ipc://")
    with Client(over_ipc.control_address, timeout=5) as client:
        assert client.ping()["data_address"].startswith("ipc://")


def test_an_ipc_server_removes_its_socket_files_when_it_stops() -> None:
    server = Guarded(bind="ipc")
    server.start()
    paths = [
        Path(address[len("ipc://") :]) for address in (server.control_address, server.data_address)
    ]
    assert all(path.exists() for path in paths)
    server.shutdown()
    assert not [path for path in paths if path.exists()]


@pytest.mark.slow
def test_launching_on_a_public_address_without_keys_fails_saying_how_to_make_them(
    probe_plugin: Path,
) -> None:
    with pytest.raises(ServerStartError) as failed:
        launch_server("probe", bind=OWN, timeout=30)
    message = str(failed.value)
    assert "the probe server exited with code 1" in message
    assert "platekit zmq keys" in message


# -- keys ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_keys_command_writes_the_server_pair_and_the_clients_allow_list(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "keys"
    command = [sys.executable, "-m", "platekit.zmq", "zmq", "keys", str(folder), "--clients", "2"]
    made = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    assert f"--keys {folder}" in made.stdout
    assert sorted(path.name for path in folder.iterdir()) == [
        "client1.key_secret",
        "client2.key_secret",
        "clients",
        "server.key",
        "server.key_secret",
    ]
    assert sorted(path.name for path in (folder / "clients").iterdir()) == [
        "client1.key",
        "client2.key",
    ]
    public, secret, allowed = server_keys(folder)
    assert len(public) == len(secret) == 40 and allowed == folder / "clients"
    again = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_the_keys_command_says_in_one_line_a_folder_it_cannot_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from platekit.registry._cli import main

    (tmp_path / "afile").write_text("not a folder")
    folder = tmp_path / "afile" / "keys"
    assert main(["zmq", "keys", str(folder)]) == 1
    error = capsys.readouterr().err
    assert error == (
        f"platekit zmq keys: cannot write the keys into {str(folder)!r} (Not a directory); "
        "choose a folder you can write to\n"
    )


def test_a_folder_without_server_keys_says_how_to_make_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make them with 'platekit zmq keys "):
        server_keys(tmp_path)
    make_keys(tmp_path / "k")
    with pytest.raises(FileExistsError, match="already exists"):
        make_keys(tmp_path / "k")


def test_a_client_needs_its_secret_key_not_its_public_one(keys: Path) -> None:
    with pytest.raises(ValueError, match="holds no secret key"):
        client_keys(keys / "clients" / "client1.key", keys / "server.key")


# -- CURVE ----------------------------------------------------------------------------------


def test_with_curve_a_listed_client_is_served_and_others_are_not(
    run_server: Callable[[Any], Any], keys: Path, tmp_path: Path
) -> None:
    # Bound to loopback with keys: the handshake is the same, and nothing leaves this machine.
    server = run_server(Guarded(keys=str(keys)))
    address = server.control_address
    stranger = _make_stranger(tmp_path / "stranger")
    curve = client_keys(stranger, keys / "server.key")
    with Client(address, timeout=1, curve=curve) as client, pytest.raises(ServerGone):
        client.ping()
    with Client(address, timeout=1) as plain, pytest.raises(ServerGone):
        plain.ping()
    for name in ("client1", "client2"):
        curve = client_keys(keys / f"{name}.key_secret", keys / "server.key")
        with Client(address, timeout=10, curve=curve) as client:
            assert client.ping()["type"] == "pong"


@pytest.mark.slow
def test_a_launched_server_with_keys_answers_its_clients_only(
    probe_plugin: Path, keys: Path, tmp_path: Path
) -> None:
    with launch_server("probe", keys=str(keys)) as handle:
        # The handle reaches it with the folder's first client key pair.
        assert handle.ping()["server_type"] == "probe"
        stranger = _make_stranger(tmp_path / "stranger")
        curve = client_keys(stranger, keys / "server.key")
        with Client(handle.address, timeout=1, curve=curve) as client, pytest.raises(ServerGone):
            client.ping()
        assert handle.status()["type"] == "status"


@pytest.mark.slow
def test_a_launcher_with_an_unlisted_key_is_told_the_server_did_not_answer(
    probe_plugin: Path, keys: Path, tmp_path: Path
) -> None:
    curve = client_keys(_make_stranger(tmp_path / "stranger"), keys / "server.key")
    with pytest.raises(ServerStartError, match=r"the probe server did not answer within 3"):
        launch_server("probe", keys=str(keys), curve=curve, timeout=3)


def test_launching_with_keys_but_no_client_pair_asks_for_one(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    make_keys(folder, clients=1)
    os.remove(folder / "client1.key_secret")
    with pytest.raises(ValueError, match=r"pass curve=client_keys\("):
        launch_server("probe", keys=str(folder))
