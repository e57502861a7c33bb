"""The commands platekit-zmq adds: ``platekit serve``, ``submit``, ``status`` and ``zmq keys``."""

from __future__ import annotations

import argparse
import sys

from platekit.registry._command import Command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ServeCommand(Command):
    name = "serve"
    help = "run a platekit server (execution, stream) in this process"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        from platekit.zmq._server import ZMQ_SERVERS

        parser.usage = "platekit serve KIND [options]"
        parser.description = "Run a platekit ZeroMQ server until it is shut down or interrupted."
        kinds = ", ".join(
            f"{kind} ({ZMQ_SERVERS.metadata(kind).get('help', '')})" for kind in sorted(ZMQ_SERVERS)
        )
        parser.epilog = f"Servers: {kinds}. 'platekit serve KIND --help' lists a server's options."
        # Optional here so that a missing KIND is one line naming the servers (run says so).
        parser.add_argument("kind", nargs="?", metavar="KIND", help="the server to run")
        parser.add_argument("options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(self, args: argparse.Namespace) -> int:
        from platekit.zmq._serve import serve

        return serve(args.kind, args.options)


class ViewCommand(Command):
    name = "view"
    help = "open a napari viewer that shows the images streamed to it (napari_stream)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        from platekit.zmq._serve import add_server_options
        from platekit.zmq._server import ZMQ_SERVERS

        parser.description = (
            "Open a napari viewer that is also a stream server: arrays sent to its data address "
            "(the napari_stream storage backend, PLATEKIT_NAPARI_STREAM) become layers named by "
            "their paths. It takes the options of 'platekit serve viewer' and runs until its "
            "window is closed or it is interrupted."
        )
        # Without a viewer server installed there are no options to take; run says so.
        if "viewer" in ZMQ_SERVERS:
            add_server_options(parser, "viewer")

    def run(self, args: argparse.Namespace) -> int:
        from platekit.zmq._serve import run_server, serve

        options = {key: value for key, value in vars(args).items() if key != "command"}
        if not options:
            return serve("viewer", [])
        return run_server("viewer", options, command="platekit view")


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
            "--clients",
            type=int,
            default=1,
            metavar="N",
            help="client key pairs, 1 or more (default 1)",
        )

    def run(self, args: argparse.Namespace) -> int:
        from platekit.zmq._security import make_keys

        try:
            made = make_keys(args.folder, clients=args.clients)
        except ValueError as exc:
            print(f"platekit zmq keys: {exc}", file=sys.stderr)
            return 2
        except FileExistsError as exc:
            print(f"platekit zmq keys: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(
                f"platekit zmq keys: cannot write the keys into {args.folder!r} "
                f"({exc.strerror or exc}); choose a folder you can write to",
                file=sys.stderr,
            )
            return 1
        for name, path in made.items():
            print(f"{name:<18} {path}")
        print(f"start the server with: platekit serve KIND --bind ADDR --keys {args.folder}")
        return 0


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every job client command takes: where the server is, and how to reach it."""
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="the server's control address, as 'platekit serve execution' prints it "
        "(tcp://127.0.0.1:PORT)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for each reply before taking the server for gone, a number "
        "above 0 (default 10)",
    )
    parser.add_argument(
        "--client-key",
        metavar="FILE",
        help="this client's .key_secret file, for a server started with --keys",
    )
    parser.add_argument(
        "--server-key",
        metavar="FILE",
        help="the server's public key file (FOLDER/server.key), with --client-key",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the server-side traceback of a failed job after its error line",
    )


def _connection(args: argparse.Namespace, command: str) -> tuple[str, dict[Any, Any] | None]:
    """The address and CURVE options from ``args``; ``ValueError`` saying what is missing."""
    if not args.address:
        raise ValueError(
            f"which server? pass --address with the control address that 'platekit serve "
            f"execution' printed, e.g. 'platekit {command} --address tcp://127.0.0.1:5555 ...'"
        )
    from platekit.zmq._address import check_address
    from platekit.zmq._client import check_timeout

    check_address(args.address)
    check_timeout(args.timeout)
    if (args.client_key is None) != (args.server_key is None):
        raise ValueError("--client-key and --server-key go together; give both or neither")
    if args.client_key is None:
        return args.address, None
    from platekit.zmq._security import client_keys

    return args.address, client_keys(args.client_key, args.server_key)


class SubmitCommand(Command):
    name = "submit"
    help = "submit a job (convert, sleep, echo, ...) to an execution server"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.usage = "platekit submit --address ADDR [--wait] [options] JOB [KEY=VALUE ...]"
        parser.description = (
            "Submit the job JOB to the execution server at ADDR, with parameters KEY=VALUE "
            "(a value is read as JSON when it is JSON: 2, true, null, [1,2], and as text "
            "otherwise; each KEY once). Paths must be absolute, since the server does not share "
            "your working directory, and inside the folders the server was given (--read-root, "
            "--write-root)."
        )
        from platekit.zmq._jobs import ZMQ_JOBS

        jobs = "; ".join(
            f"{job} ({ZMQ_JOBS.metadata(job).get('help', '')})" for job in sorted(ZMQ_JOBS)
        )
        parser.epilog = (
            f"Jobs installed here: {jobs or 'none'}. Example: platekit submit --address "
            "tcp://127.0.0.1:5555 --wait convert plate=/data/plate1 out=/data/plate1.zarr levels=3"
        )
        _connection_arguments(parser)
        parser.add_argument(
            "--wait",
            action="store_true",
            help="follow the job with a progress bar until it ends; exit 0 only if it completed "
            "(Ctrl-C cancels it)",
        )
        parser.add_argument("job", metavar="JOB", help="the job to run")
        parser.add_argument("params", nargs="*", metavar="KEY=VALUE", help="the job's parameters")

    def run(self, args: argparse.Namespace) -> int:
        from platekit.zmq._client import ServerError, ServerGone
        from platekit.zmq._submit import ServerBusy, cancel, parse_params, submit

        try:
            address, curve = _connection(args, "submit")
            params = parse_params(args.params)
        except (ValueError, OSError) as exc:
            print(f"platekit submit: {exc}", file=sys.stderr)
            return 2
        try:
            accepted = submit(address, args.job, params, timeout=args.timeout, curve=curve)
        except ServerBusy as exc:
            print(f"platekit submit: {exc}", file=sys.stderr)
            return 1
        except (ServerError, ServerGone) as exc:
            print(f"platekit submit: {exc}", file=sys.stderr)
            return 1
        job_id = accepted["job_id"]
        position = accepted.get("position", 0)
        where = "running" if position == 0 else f"queued, number {position} in the queue"
        # From here on Ctrl-C cancels the job: from the line that says it was
        # accepted, not only once the wait has begun.
        try:
            print(f"job {job_id} accepted ({where})", flush=True)
            if not args.wait:
                print(f"follow it with: platekit status --address {address} {job_id}")
                return 0
            return _follow(args, address, curve, job_id)
        except KeyboardInterrupt:
            if not args.wait:
                return 130
            try:
                cancel(address, job_id, timeout=args.timeout, curve=curve)
                print(f"\nplatekit submit: cancelled job {job_id}", file=sys.stderr)
            except (ServerError, ServerGone) as exc:
                print(f"\nplatekit submit: could not cancel job {job_id}: {exc}", file=sys.stderr)
            return 130


def _follow(
    args: argparse.Namespace, address: str, curve: dict[Any, Any] | None, job_id: str
) -> int:
    """Wait for the job with a progress bar, then show how it ended; the exit code."""
    from platekit.zmq._client import ServerError, ServerGone
    from platekit.zmq._submit import ProgressBar, describe_job, wait

    bar = ProgressBar(label=args.job)
    try:
        record = wait(address, job_id, on_progress=bar, timeout=args.timeout, curve=curve)
    except (ServerError, ServerGone) as exc:
        bar.close()
        print(f"platekit submit: lost job {job_id}: {exc}", file=sys.stderr)
        return 1
    bar.close()
    text = describe_job(record, params=False, traceback=args.verbose)
    if record["state"] == "completed":
        print(text)
        return 0
    print(text, file=sys.stderr)
    return 1


class StatusCommand(Command):
    name = "status"
    help = "show a platekit server's status and jobs, or one job's state"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.description = (
            "Show the status of the server at ADDR (its queue and jobs), or, given JOB_ID, "
            "that job's state, progress, result or error."
        )
        _connection_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print the replies as JSON")
        parser.add_argument("job_id", nargs="?", metavar="JOB_ID", help="the job to show")

    def run(self, args: argparse.Namespace) -> int:
        import json

        from platekit.zmq._client import Client, ServerError, ServerGone
        from platekit.zmq._submit import describe_job, describe_server

        try:
            address, curve = _connection(args, "status")
        except (ValueError, OSError) as exc:
            print(f"platekit status: {exc}", file=sys.stderr)
            return 2
        try:
            with Client(address, timeout=args.timeout, curve=curve) as client:
                if args.job_id is not None:
                    record = client.request("job", job_id=args.job_id)
                    shown = describe_job(record, traceback=args.verbose)
                    print(json.dumps(record, indent=2) if args.json else shown)
                    return 0
                status = client.status()
                jobs: list[dict[str, object]] | None = None
                try:
                    jobs = client.request("jobs")["jobs"]
                except ServerError as exc:
                    if exc.code != "unknown_type":
                        raise
        except (ServerError, ServerGone) as exc:
            print(f"platekit status: {exc}", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps({"server": status, "jobs": jobs}, indent=2))
        else:
            print(describe_server(status, jobs))
        return 0
