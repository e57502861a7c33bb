"""``platekit submit`` and ``platekit status``: what a person at a terminal sees and gets back."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from platekit.microscopes.testing import write_plate
from platekit.registry._cli import main
from platekit.zmq import launch_server
from platekit.zmq._submit import (
    ProgressBar,
    describe_progress,
    job_status,
    parse_params,
    submit,
    wait,
)


def platekit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``platekit ARGV`` in this process: exit code, standard output, standard error."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- without a server ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["submit", "status"])
def test_without_an_address_the_command_says_to_pass_the_one_serve_printed(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    argv = [command, "echo", "value=1"] if command == "submit" else [command]
    code, out, err = platekit(capsys, *argv)
    assert code == 2 and out == ""
    assert "--address" in err and "platekit serve" in err


def test_a_parameter_without_a_value_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = platekit(capsys, "submit", "--address", "tcp://127.0.0.1:1", "echo", "value")
    assert code == 2 and "KEY=VALUE" in err and "'value'" in err


def test_a_server_that_does_not_answer_is_an_error_within_the_timeout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    for argv in (["submit", "echo", "value=1"], ["status"]):
        code, _, err = platekit(
            capsys, argv[0], "--address", address, "--timeout", "0.3", *argv[1:]
        )
        assert code == 1 and "no reply" in err and address in err


def test_parameters_are_json_when_they_parse_and_text_otherwise() -> None:
    params = parse_params(
        [
            "levels=2",
            "overwrite=true",
            "plate=/data/plate 1",
            "x=null",
            "ids=[1, 2]",
            "n=1e3",
            'q="2"',
        ]
    )
    assert params == {
        "levels": 2,
        "overwrite": True,
        "plate": "/data/plate 1",
        "x": None,
        "ids": [1, 2],
        "n": 1000.0,
        "q": "2",
    }
    assert parse_params(["path=a=b"]) == {"path": "a=b"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_params(["=1"])


def test_the_progress_bar_draws_on_a_terminal_and_writes_lines_elsewhere() -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    bar = ProgressBar(terminal, width=10)
    bar(5, 10, 0.5)
    bar(10, 10, 0.5)
    bar.close()
    assert "\r[#####-----] 5/10, 0.5/s, ETA 0:10" in terminal.getvalue()
    assert "\r[##########] 10/10, 0.5/s" in terminal.getvalue()
    assert terminal.getvalue().endswith("\n")

    log = io.StringIO()
    bar = ProgressBar(log, label="convert", interval=3600)
    for done in range(11):
        bar(done, 10, 1.0)
    bar.close()
    # The first report and the last, not one line per call.
    assert log.getvalue().splitlines() == [
        "convert: 0/10, 1.0/s, ETA 0:10",
        "convert: 10/10, 1.0/s",
    ]
    assert describe_progress(0, 0, 0.0) == "0/0"


# -- against a server ----------------------------------------------------------------------


@pytest.mark.slow
def test_submit_wait_converts_a_plate_with_a_progress_bar(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write_plate(
        "imagexpress", tmp_path / "plate", wells=["A01", "B02"], sites=2, shape=(32, 32)
    )
    out = tmp_path / "out.zarr"
    with launch_server("execution", read_roots=[tmp_path], write_roots=[tmp_path]) as server:
        code, stdout, stderr = platekit(
            capsys,
            "submit",
            "--address",
            server.address,
            "--wait",
            "convert",
            f"plate={source}",
            f"out={out}",
            "levels=2",
        )
    assert code == 0, stderr
    assert "accepted (running)" in stdout
    assert ": completed" in stdout and "planes_written: 4" in stdout
    # Not a terminal here: plain progress lines, the last one complete.
    assert stderr.splitlines()[-1].startswith("convert: 4/4")
    levels = json.loads((out / "A" / "1" / "0" / "zarr.json").read_text())
    assert len(levels["attributes"]["ome"]["multiscales"][0]["datasets"]) == 2


@pytest.mark.slow
def test_submit_wait_exits_1_with_the_error_when_the_job_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    job = ["convert", f"plate={tmp_path / 'nothing-here'}", f"out={tmp_path / 'o.zarr'}"]
    with launch_server("execution", read_roots=[tmp_path], write_roots=[tmp_path]) as server:
        code, _, stderr = platekit(capsys, "submit", "--address", server.address, "--wait", *job)
        assert code == 1
        assert ": failed" in stderr and "error:" in stderr and "nothing-here" in stderr
        # The server-side traceback only on request.
        assert "Traceback" not in stderr
        job_id = next(line.split()[1] for line in stderr.splitlines() if ": failed" in line)
        code, stdout, _ = platekit(capsys, "status", "--address", server.address, job_id)
        assert code == 0 and "error:" in stdout and "Traceback" not in stdout
        code, stdout, _ = platekit(
            capsys, "status", "--address", server.address, "--verbose", job_id
        )
        assert code == 0 and "Traceback" in stdout
        code, _, stderr = platekit(
            capsys, "submit", "--address", server.address, "--wait", "--verbose", *job
        )
    assert code == 1
    assert "error:" in stderr and "Traceback" in stderr


@pytest.mark.slow
def test_submit_without_wait_prints_the_job_id_and_status_follows_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with launch_server("execution") as server:
        code, stdout, _ = platekit(
            capsys, "submit", "--address", server.address, "echo", 'value={"a": [1, 2]}'
        )
        assert code == 0
        job_id = stdout.split()[1]
        assert f"platekit status --address {server.address} {job_id}" in stdout
        wait(server.address, job_id)

        code, stdout, _ = platekit(capsys, "status", "--address", server.address, job_id, "--json")
        assert code == 0
        record = json.loads(stdout)
        assert record["state"] == "completed" and record["result"] == {"value": {"a": [1, 2]}}

        code, stdout, _ = platekit(capsys, "status", "--address", server.address, job_id)
        assert code == 0
        assert f"job {job_id} (echo): completed" in stdout and 'value: {"a": [1, 2]}' in stdout

        code, stdout, _ = platekit(capsys, "status", "--address", server.address)
        assert code == 0
        assert stdout.startswith("execution server, pid")
        assert "capacity 16, 1 workers" in stdout and job_id in stdout

        code, stdout, _ = platekit(capsys, "status", "--address", server.address, "--json")
        shown = json.loads(stdout)
        assert shown["server"]["server_type"] == "execution"
        assert [job["job_id"] for job in shown["jobs"]] == [job_id]

        code, _, stderr = platekit(capsys, "status", "--address", server.address, "feedfacecafe")
        assert code == 1 and "no job 'feedfacecafe'" in stderr


@pytest.mark.slow
def test_submit_to_a_full_server_says_busy_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with launch_server("execution", workers=1, queue=0) as server:
        first = submit(server.address, "sleep", {"seconds": 60})
        assert first["position"] == 0
        code, _, stderr = platekit(
            capsys, "submit", "--address", server.address, "sleep", "seconds=1"
        )
        assert code == 1 and "busy" in stderr and "(0)" in stderr
        code, _, stderr = platekit(
            capsys, "submit", "--address", server.address, "sleep", "seconds=soon"
        )
        assert code == 1 and "'seconds'" in stderr and "number" in stderr


@pytest.mark.slow
def test_ctrl_c_during_submit_wait_cancels_the_job(tmp_path: Path) -> None:
    import signal

    with launch_server("execution") as server:
        client = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "platekit.zmq",
                "submit",
                "--address",
                server.address,
                "--wait",
                "sleep",
                "seconds=60",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert client.stdout is not None
            line = client.stdout.readline()
            job_id = line.split()[1]
            deadline = time.monotonic() + 20
            while job_status(server.address, job_id)["state"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            client.send_signal(signal.SIGINT)
            _, stderr = client.communicate(timeout=30)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        assert client.returncode == 130
        assert f"cancelled job {job_id}" in stderr
        record: dict[str, Any] = wait(server.address, job_id, timeout=10, max_wait=20)
        assert record["state"] == "cancelled"


@pytest.mark.slow
def test_a_server_started_with_keys_takes_jobs_from_clients_with_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from platekit.zmq import make_keys

    keys = tmp_path / "keys"
    make_keys(keys)
    curve = [
        "--client-key",
        str(keys / "client1.key_secret"),
        "--server-key",
        str(keys / "server.key"),
    ]
    with launch_server("execution", keys=str(keys)) as server:
        code, stdout, stderr = platekit(
            capsys, "submit", "--address", server.address, *curve, "--wait", "echo", "value=7"
        )
        assert code == 0, stderr
        assert "value: 7" in stdout
        code, stdout, _ = platekit(capsys, "status", "--address", server.address, *curve)
        assert code == 0 and "1 workers" in stdout
        # Without keys the server does not answer at all.
        code, _, stderr = platekit(
            capsys, "submit", "--address", server.address, "--timeout", "0.5", "echo", "value=7"
        )
        assert code == 1 and "no reply" in stderr
        # ... and the silence is explained: keys may be needed, and how to give them.
        assert "CURVE" in stderr and "--client-key" in stderr and "--server-key" in stderr
        code, _, stderr = platekit(
            capsys, "status", "--address", server.address, "--client-key", curve[1]
        )
        assert code == 2 and "--server-key" in stderr
