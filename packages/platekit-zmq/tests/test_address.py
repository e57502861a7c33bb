"""Addresses: commands and the Python API refuse a mistyped one in a sentence, not a ZMQError."""

from __future__ import annotations

import pytest

from platekit.registry._cli import main
from platekit.zmq import Client, launch_server, submit
from platekit.zmq._address import AddressError, check_address, check_interface
from platekit.zmq._server import ZMQServer

# A mistyped address, and what the refusal must say about it.
BAD_ADDRESSES = [
    ("127.0.0.1:5999", "tcp://127.0.0.1:5999"),
    ("localhost:5999", "tcp://localhost:5999"),
    ("tcp://127.0.0.1", "no port"),
    ("tcp://localhost:", "no port"),
    ("tcp://127.0.0.1:port", "1 to 65535"),
    ("tcp://127.0.0.1:70000", "1 to 65535"),
    ("tcp://::1:5999", "brackets"),
    ("tcp://[nonsense]:5999", "IPv6"),
    ("tcp://bad host:5999", "host name"),
    ("http://127.0.0.1:5999", "tcp://HOST:PORT"),
    ("", "tcp://127.0.0.1:5999"),
]


@pytest.mark.parametrize(("address", "says"), BAD_ADDRESSES)
def test_a_mistyped_address_is_a_value_error_naming_it_and_the_right_form(
    address: str, says: str
) -> None:
    with pytest.raises(AddressError) as refused:
        check_address(address)
    assert isinstance(refused.value, ValueError)
    assert repr(address) in str(refused.value) and says in str(refused.value)
    # The Python API refuses it the same way, before any socket is made.
    with pytest.raises(ValueError, match=says.replace("[", r"\[")):
        Client(address)
    with pytest.raises(ValueError, match=says.replace("[", r"\[")):
        submit(address, "echo", {"value": 1})


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:5999", "tcp://localhost:1", "tcp://[::1]:5999", "ipc:///tmp/s"]
)
def test_addresses_of_the_right_form_pass(address: str) -> None:
    assert check_address(address) == address


@pytest.mark.parametrize("command", ["submit", "status"])
@pytest.mark.parametrize(("address", "says"), BAD_ADDRESSES[:3])
def test_submit_and_status_refuse_a_mistyped_address_in_one_line(
    capsys: pytest.CaptureFixture[str], command: str, address: str, says: str
) -> None:
    argv = [command, "--address", address, *(["echo", "value=1"] if command == "submit" else [])]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"platekit {command}: ") and err.count("\n") == 1, err
    assert repr(address) in err and says in err


@pytest.mark.parametrize("host", ["::1", "[::1]", "127.0.0.1", "localhost", "ipc", "0.0.0.0"])
def test_interfaces_a_server_can_bind_pass(host: str) -> None:
    assert check_interface(host) == host.strip("[]")


@pytest.mark.parametrize("host", ["127.0.0.1:5999", "tcp://127.0.0.1", "my laptop", ""])
def test_serve_refuses_a_bind_that_is_no_interface_in_one_line(
    capsys: pytest.CaptureFixture[str], host: str
) -> None:
    code = main(["serve", "stream", "--bind", host])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("platekit serve stream: --bind") and err.count("\n") == 1, err
    assert repr(host) in err and "--port" in err


def test_serve_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve", "stream", "--port", "70000"])
    err = capsys.readouterr().err
    assert code == 1 and "--port 70000" in err and err.count("\n") == 1, err


def test_serve_on_a_port_in_use_says_so_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "stream", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 1 and f"port {port}" in err and "--port" in err and err.count("\n") == 1, err


class _Plain(ZMQServer):
    """A server without requests of its own, to bind in this process."""


def test_a_server_bound_to_ipv6_loopback_answers_its_clients(run_server: object) -> None:
    server = run_server(_Plain(bind="::1"))  # type: ignore[operator]
    assert server.control_address.startswith("tcp://[::1]:")
    with Client(server.control_address, timeout=5) as client:
        assert client.ping()["ready"] is True


@pytest.mark.slow
def test_a_launched_server_on_ipv6_loopback_is_reached() -> None:
    with launch_server("stream", bind="::1") as server:
        assert server.address.startswith("tcp://[::1]:")
        assert server.ping()["server_type"] == "stream"
