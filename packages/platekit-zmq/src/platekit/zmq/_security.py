"""Who may bind where: loopback is open to this machine's users; anything else needs CURVE keys.

A server bound to another interface can be reached from the network, so
it must authenticate its clients and encrypt its traffic: ZeroMQ's CURVE,
with an allow-list of client public keys. ``platekit zmq keys FOLDER``
makes the keys this module reads.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Names in a keys folder: the server's key pair, and the allowed clients' public keys.
SERVER_KEY = "server"
CLIENTS = "clients"


class InsecureBindError(ValueError):
    """A non-loopback address without CURVE keys."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only reaches this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, keys: str | Path | None) -> None:
    """Refuse a bind that would expose a server without authentication.

    ``host`` is an interface address (``127.0.0.1``, ``0.0.0.0``, ``::1``)
    or ``ipc``; loopback and ``ipc`` need nothing, anything else needs
    ``keys``. Raises :class:`InsecureBindError` saying how to make keys, and
    ``ValueError`` for an empty ``keys``.
    """
    if keys is not None and not str(keys).strip():
        raise ValueError(
            "--keys '' names no folder; give the folder that 'platekit zmq keys FOLDER' wrote"
        )
    if host == "ipc" or is_loopback(host) or keys is not None:
        return
    raise InsecureBindError(
        f"binding {host} would let anyone who can reach this machine's network talk to the "
        "server; platekit servers bind 127.0.0.1 unless CURVE keys authenticate their clients. "
        "Make keys with 'platekit zmq keys KEYS_FOLDER', copy the client keys to the clients, "
        "and start the server with --keys KEYS_FOLDER"
    )


def make_keys(folder: str | Path, clients: int = 1) -> dict[str, Path]:
    """Write a server key pair and ``clients`` client key pairs into ``folder``.

    ``folder/server.key`` and ``server.key_secret`` are the server's;
    ``folder/clients/client<n>.key`` the allowed clients' public keys (the
    server's allow-list) and ``folder/client<n>.key_secret`` their secret
    keys, for the clients to use. Existing keys are not overwritten:
    ``FileExistsError`` names the first one. Raises ``ValueError`` for an
    empty ``folder``, and for fewer than one client: a server with an empty
    allow-list answers nobody.
    """
    import zmq.auth

    if not str(folder).strip():
        # Path("") is the working directory: keys would land wherever the command ran.
        raise ValueError("FOLDER '' names no folder; give the folder to write the keys into")
    if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
        raise ValueError(
            f"--clients {clients!r} would allow no client, and a server with keys answers only "
            "the clients it allows; give the number of client key pairs to make, 1 or more"
        )
    root = Path(folder)
    allowed = root / CLIENTS
    names = [SERVER_KEY] + [f"client{n}" for n in range(1, clients + 1)]
    for name in names:
        for suffix in (".key", ".key_secret"):
            if (root / f"{name}{suffix}").exists():
                raise FileExistsError(
                    f"{root / (name + suffix)} already exists; choose another folder or remove it"
                )
    allowed.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path] = {}
    for name in names:
        public, secret = zmq.auth.create_certificates(str(root), name)
        made[name] = Path(secret)
        if name != SERVER_KEY:
            Path(public).replace(allowed / f"{name}.key")
            made[name + " (public)"] = allowed / f"{name}.key"
    return made


def server_keys(folder: str | Path) -> tuple[bytes, bytes, Path]:
    """The server's public and secret keys, and the folder of allowed client keys.

    Raises ``FileNotFoundError`` saying how to make the keys when one is missing.
    """
    import zmq.auth

    root = Path(folder)
    secret_file = root / f"{SERVER_KEY}.key_secret"
    allowed = root / CLIENTS
    if root.is_file():
        # A key file given for its folder (--keys KEYS/server.key): point at the folder.
        raise FileNotFoundError(
            f"--keys {str(root)!r} is a file; give the folder that 'platekit zmq keys' wrote "
            f"the keys into, such as {str(root.parent)!r}"
        )
    if not secret_file.is_file() or not allowed.is_dir():
        raise FileNotFoundError(
            f"{root} holds no server keys ({secret_file.name} and {CLIENTS}/); make them with "
            f"'platekit zmq keys {root}'"
        )
    public, secret = zmq.auth.load_certificate(str(secret_file))
    if secret is None:
        raise ValueError(f"{secret_file} holds no secret key")
    return public, secret, allowed


def client_keys(secret_file: str | Path, server_public: str | Path) -> dict[Any, Any]:
    """Socket options for a CURVE client: its key pair and the server's public key.

    Raises ``ValueError`` naming a file that is missing or holds no key of the kind needed.
    """
    import zmq

    give_client = "give the client's .key_secret file that 'platekit zmq keys' wrote"
    public, secret = _certificate(secret_file, "--client-key", give_client)
    if secret is None:
        raise ValueError(f"{secret_file} holds no secret key; {give_client}")
    server, _ = _certificate(
        server_public, "--server-key", "give the server's public key, KEYS_FOLDER/server.key"
    )
    return {zmq.CURVE_PUBLICKEY: public, zmq.CURVE_SECRETKEY: secret, zmq.CURVE_SERVERKEY: server}


def _certificate(path: str | Path, option: str, give: str) -> tuple[bytes, bytes | None]:
    """The public and secret key in the file ``path``; ``ValueError`` saying what to ``give``."""
    import zmq.auth

    try:
        return zmq.auth.load_certificate(str(path))
    except ValueError:  # zmq.auth found no public key in it
        why = "it holds no key"
    except OSError as exc:  # zmq.auth says a plain OSError for a missing file
        why = "no such file" if not Path(path).exists() else (exc.strerror or str(exc))
    raise ValueError(f"{option} {str(path)!r} is not a key file ({why}); {give}")
