"""The commands platekit-zmq adds: ``platekit serve``, ``submit``, ``status`` and ``zmq keys``."""

from __future__ import annotations

import argparse
import sys

from platekit.registry._command import Command


class ServeCommand(Command):
    name = "serve"
    help = "run a platekit server (execution, stream) in this process"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        from platekit.zmq._server import ZMQ_SERVERS

        parser.description = "Run a platekit ZeroMQ server until it is shut down or interrupted."
        kinds = ", ".join(
            f"{kind} ({ZMQ_SERVERS.metadata(kind).get('help', '')})" for kind in sorted(ZMQ_SERVERS)
        )
        parser.epilog = f"Servers: {kinds}. 'platekit serve KIND --help' lists a server's options."
        parser.add_argument("kind", metavar="KIND", help="the server to run")
        parser.add_argument("options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(self, args: argparse.Namespace) -> int:
        from platekit.zmq._serve import serve

        return serve(args.kind, args.options)


class ZmqCommand(Command):
    name = "zmq"
    help = "platekit-zmq tools: make CURVE keys for servers bound beyond loopback"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.description = (
            "Make the CURVE keys a server needs to bind an address other than 127.0.0.1: a server "
            "key pair and client key pairs, whose public keys form the server's allow-list."
        )
        tools = parser.add_subparsers(dest="tool", metavar="TOOL", required=True)
        keys = tools.add_parser(
            "keys",
            help="write a server key pair and client key pairs into a folder",
            description="Write FOLDER/server.key(_secret), FOLDER/client<n>.key_secret and the "
            "allow-list FOLDER/clients/client<n>.key. Start the server with --keys FOLDER; give "
            "each client its .key_secret file and FOLDER/server.key.",
        )
        keys.add_argument("folder", metavar="FOLDER")
        keys.add_argument(
            "--clients", type=int, default=1, metavar="N", help="client key pairs (default 1)"
        )

    def run(self, args: argparse.Namespace) -> int:
        from platekit.zmq._security import make_keys

        try:
            made = make_keys(args.folder, clients=args.clients)
        except FileExistsError as exc:
            print(f"platekit zmq keys: {exc}", file=sys.stderr)
            return 1
        for name, path in made.items():
            print(f"{name:<18} {path}")
        print(f"start the server with: platekit serve KIND --bind ADDR --keys {args.folder}")
        return 0
