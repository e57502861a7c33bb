"""Running one server in this process: ``platekit serve KIND [options]``."""

from __future__ import annotations

import argparse
import json
import sys

from platekit.zmq._launch import READY
from platekit.zmq._server import DEFAULT_MAX_MESSAGE_BYTES, ZMQ_SERVERS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


def server_parser(kind: str) -> argparse.ArgumentParser:
    """The options of ``platekit serve KIND``: the common ones, then the server's own."""
    cls = ZMQ_SERVERS[kind]
    parser = argparse.ArgumentParser(
        prog=f"platekit serve {kind}",
        description=f"Run the {kind} server: {cls.help}",
        allow_abbrev=False,
    )
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
        help=f"refuse messages larger than N bytes (default {DEFAULT_MAX_MESSAGE_BYTES})",
    )
    common.add_argument(
        "--detach",
        action="store_true",
        help="keep running when the launching process ends",
    )
    common.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    common.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    cls.add_arguments(parser.add_argument_group(f"the {kind} server"))
    return parser


def serve(kind: str, argv: Sequence[str]) -> int:
    """Run the server ``kind`` with the options in ``argv`` until it stops; the exit code."""
    from platekit.zmq._security import InsecureBindError

    if kind not in ZMQ_SERVERS:
        known = ", ".join(sorted(ZMQ_SERVERS)) or "none"
        print(f"platekit serve: no server {kind!r}; servers: {known}", file=sys.stderr)
        return 2
    parser = server_parser(kind)
    args = vars(parser.parse_args(list(argv)))
    announce = args.pop("announce")
    detach = args.pop("detach")
    if detach:
        args["parent_pid"] = None
    try:
        server = ZMQ_SERVERS[kind](**args)
        server.start()
    except (InsecureBindError, FileNotFoundError, ValueError, OSError) as exc:
        print(f"platekit serve {kind}: {exc}", file=sys.stderr)
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
