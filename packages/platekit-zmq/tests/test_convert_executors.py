"""The execution server's convert job runs on the executor it is given, on this machine only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from platekit.microscopes import convert
from platekit.microscopes.testing import write_plate
from platekit.registry._install import install_command
from platekit.zmq import launch_server
from platekit.zmq._protocol import ProtocolError
from platekit.zmq._submit import submit, wait
from platekit.zmq.jobs.builtin import ConvertJob


def checked(**more: object) -> dict[str, object]:
    return ConvertJob().check({"plate": "/p", "out": "/o.zarr", **more})


def test_the_processes_executor_with_one_worker_is_the_default() -> None:
    params = checked()
    assert params["executor"] == "processes" and params["workers"] == 1


@pytest.mark.parametrize(
    ("more", "named"),
    [
        ({"executor": "spark"}, "must be one of dask, processes, got 'spark'"),
        ({"executor": "backwards"}, "got 'backwards'"),
        ({"workers": 0}, "'workers' of the 'convert' job must be between 1 and"),
        ({"workers": (os.cpu_count() or 1) + 1}, "(the server's CPUs)"),
        ({"scheduler": "tcp://10.0.0.1:8786"}, "takes no parameter 'scheduler'"),
    ],
)
def test_an_executor_or_workers_it_may_not_use_are_invalid(
    more: dict[str, object], named: str
) -> None:
    with pytest.raises(ProtocolError) as refused:
        checked(**more)
    assert refused.value.code == "invalid"
    assert named in str(refused.value)


def test_dask_without_distributed_says_this_environments_install_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # find_spec then finds nothing
    with pytest.raises(ProtocolError) as refused:
        checked(executor="dask")
    assert refused.value.code == "invalid"
    assert install_command("platekit-microscopes", "dask") in str(refused.value)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".platekit-lock"
    }


@pytest.mark.slow
def test_a_submitted_conversion_on_dask_writes_what_a_local_one_writes(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    source = write_plate("imagexpress", tmp_path / "P", wells=["A01", "A02", "B01"], sites=2)
    out = tmp_path / "out.zarr"
    params = {"plate": str(source), "out": str(out), "executor": "dask", "workers": 1}
    with launch_server("execution", read_roots=[tmp_path], write_roots=[tmp_path]) as server:
        record = wait(server.address, submit(server.address, "convert", params)["job_id"])
    assert record["state"] == "completed", record
    assert record["result"]["wells_converted"] == 3
    convert(source, tmp_path / "alone.zarr")
    assert tree(out) == tree(tmp_path / "alone.zarr")
