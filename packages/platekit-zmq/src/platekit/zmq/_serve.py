"""Running one server in this process: ``platekit serve KIND [options]``."""

from __future__ import annotations

import argparse
import json
import sys

from platekit.zmq._launch import READY
from platekit.zmq._protocol import MAX_HEADER_BYTES
from platekit.zmq._server import DEFAULT_MAX_MESSAGE_BYTES, ZMQ_SERVERS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


def server_parser(kind: str) -> argparse.ArgumentParser:
    """The options of ``platekit serve KIND``: the common ones, then the server's own."""
    parser = argparse.ArgumentParser(
        prog=f"platekit serve {kind}",
        description=f"Run the {kind} server: {ZMQ_SERVERS[kind].help}",
        allow_abbrev=False,
    )
    add_server_options(parser, kind)
    return parser


def add_server_options(parser: argparse.ArgumentParser, kind: str) -> None:
    """Add to ``parser`` the options every server takes, then those of the server ``kind``.

    Raises ``KeyError`` when no server ``kind`` is installed.
    """
    common = parser.add_argument_group("every server")
    common.add_argument(
        "--bind",
        default="127.0.0.1",
        metavar="ADDR",
        help="interface to bind (default 127.0.0.1; 'ipc' for ipc:// sockets; any other "
        "address needs --keys)",
    )
    common.add_argument(
        "--port",
        type=int,
        default=0,
        metavar="N",
        help="control port; the data socket takes N+1 (default: free ports)",
    )
    common.add_argument(
        "--keys", metavar="FOLDER", help="CURVE keys made by 'platekit zmq keys FOLDER'"
    )
    common.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        metavar="N",
        help=f"refuse frames larger than N bytes, N from {MAX_HEADER_BYTES} up "
        f"(default {DEFAULT_MAX_MESSAGE_BYTES}); a larger frame is dropped without a reply",
    )
    common.add_argument(
        "--detach",
        action="store_true",
        help="keep running when the launching process ends",
    )
    common.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    common.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    ZMQ_SERVERS[kind].add_arguments(parser.add_argument_group(f"the {kind} server"))


def serve(kind: str | None, argv: Sequence[str]) -> int:
    """Run the server ``kind`` with the options in ``argv`` until it stops; the exit code."""
    known = ", ".join(sorted(ZMQ_SERVERS)) or "none"
    if kind is None:
        print(
            f"platekit serve: which server? give its KIND, one of: {known} "
            "('platekit serve KIND --help' lists its options)",
            file=sys.stderr,
        )
        return 2
    if kind not in ZMQ_SERVERS:
        print(f"platekit serve: no server {kind!r}; servers: {known}", file=sys.stderr)
        return 2
    return run_server(kind, vars(server_parser(kind).parse_args(list(argv))))


def run_server(kind: str, options: dict[str, Any], command: str | None = None) -> int:
    """Run the server ``kind`` with the ``options`` parsed by :func:`add_server_options`.

    Runs until the server stops and returns the exit code: 1, after one line on standard
    error that starts with ``command`` (default ``platekit serve KIND``), when the server
    refuses its options or cannot start.
    """
    from platekit.zmq._security import InsecureBindError

    command = command or f"platekit serve {kind}"
    args = dict(options)
    announce = args.pop("announce")
    detach = args.pop("detach")
    if detach:
        args["parent_pid"] = None
    try:
        server = ZMQ_SERVERS[kind](**args)
        server.start()
    except (InsecureBindError, FileNotFoundError, ValueError, OSError) as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 1
    addresses = {"control": server.control_address, "data": server.data_address}
    if announce:
        import os

        print(READY + json.dumps({**addresses, "pid": os.getpid()}), flush=True)
        # The launcher reads no further than that line: what the server prints from now
        # on goes to its log, so a full pipe can never block it.
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    else:
        print(
            f"{kind} server listening: control {addresses['control']}, data {addresses['data']}",
            flush=True,
        )
    server.serve_forever()
    return 0
