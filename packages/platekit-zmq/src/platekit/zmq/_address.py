"""Server addresses, checked before libzmq sees them: its own refusal is a bare "Invalid argument".

A client connects to ``tcp://HOST:PORT`` (an IPv4 address, a host name, or
an IPv6 address in brackets) or ``ipc://PATH``; a server binds an interface
address (``127.0.0.1``, ``::1``, ``localhost``) or ``ipc``. Every command,
client and server goes through :func:`check_address`, :func:`connect` and
:func:`check_interface`, so a mistyped address is one sentence that says
what to give instead.
"""

from __future__ import annotations

import ipaddress
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: A host name as DNS spells it: labels of letters, digits and hyphens, joined by dots.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_EXAMPLE = "tcp://127.0.0.1:5999"


class AddressError(ValueError):
    """An address that is not one a platekit server can be reached at or bound to."""


def check_address(address: object) -> str:
    """``address`` if it is ``tcp://HOST:PORT`` or ``ipc://PATH``; else :class:`AddressError`.

    The message names the address and gives one of the right form, such as
    ``tcp://127.0.0.1:5999`` for ``127.0.0.1:5999``.
    """
    if not isinstance(address, str) or not address.strip():
        raise AddressError(
            f"{address!r} is not a server address; give one like {_EXAMPLE} (the control "
            "address that 'platekit serve' prints)"
        )
    scheme, sep, rest = address.partition("://")
    if not sep:
        raise AddressError(
            f"{address!r} is not a server address: it lacks its scheme; give it as "
            f"tcp://{address}" + ("" if ":" in address else f":PORT (like {_EXAMPLE})")
        )
    if scheme == "ipc":
        if not rest:
            raise AddressError(f"{address!r} names no socket file; give one like ipc:///tmp/x.sock")
        return address
    if scheme != "tcp":
        raise AddressError(
            f"{address!r} uses the scheme {scheme!r}; platekit servers are reached at "
            f"tcp://HOST:PORT (like {_EXAMPLE}) or ipc://PATH"
        )
    host, colon, port = rest.rpartition(":")
    if not colon or not host or not port or (host.startswith("[") != host.endswith("]")):
        raise AddressError(
            f"{address!r} has no port; give an address like {_EXAMPLE} (the control address "
            "that 'platekit serve' prints)"
        )
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise AddressError(
            f"{address!r} has the port {port!r}; a port is a number from 1 to 65535, "
            f"as in {_EXAMPLE}"
        )
    if host.startswith("["):
        _ip(host[1:-1], address)
    elif ":" in host:
        raise AddressError(
            f"{address!r}: an IPv6 address goes in brackets, as in tcp://[::1]:{port}"
        )
    elif not _HOST_NAME.match(host):
        raise AddressError(
            f"{address!r} has the host {host!r}, which is neither an IP address nor a host "
            f"name; give an address like {_EXAMPLE}"
        )
    return address


def connect(socket: Any, address: str) -> None:
    """Connect ``socket`` to ``address`` once :func:`check_address` passed it.

    An IPv6 address needs the socket's IPv6 option, or ZeroMQ would accept
    the address and never connect.
    """
    import zmq

    check_address(address)
    if address.startswith("tcp://["):
        socket.setsockopt(zmq.IPV6, 1)
    socket.connect(address)


def check_interface(host: object) -> str:
    """The interface ``host`` a server may bind: ``ipc``, ``localhost`` or an IP address.

    Brackets around an IPv6 address are dropped. Raises :class:`AddressError`
    for anything else (a port, a scheme, a name ZeroMQ cannot bind).
    """
    if host in ("ipc", "localhost"):
        return str(host)
    text = str(host).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    raise AddressError(
        f"--bind {host!r} is not an interface address; give an IP address of this machine "
        "(127.0.0.1, the default; ::1; 0.0.0.0 with --keys), localhost, or ipc, without a "
        "scheme or port (the port goes in --port)"
    )


def _ip(text: str, address: str) -> None:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        raise AddressError(
            f"{address!r} has {text!r} in brackets, which is not an IPv6 address; "
            "give one like tcp://[::1]:5999"
        ) from None
