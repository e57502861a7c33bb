"""An execution server's jobs read and write inside its roots only, and overwrite if allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from platekit.microscopes.testing import write_plate
from platekit.registry._cli import main
from platekit.zmq import ServerError, launch_server
from platekit.zmq._launch import serve_arguments
from platekit.zmq._protocol import ProtocolError
from platekit.zmq._submit import cancel, job_status, submit, wait
from platekit.zmq.jobs.builtin import ConvertJob
from platekit.zmq.servers._roots import Roots


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    """A read root, a write root, and a folder outside both."""
    made = {name: tmp_path / name for name in ("plates", "outputs", "elsewhere")}
    for folder in made.values():
        folder.mkdir()
    return made


def convert(plate: Path, out: Path, **more: Any) -> dict[str, Any]:
    return ConvertJob().check({"plate": str(plate), "out": str(out), **more})


def refusal(roots: Roots, params: dict[str, Any]) -> str:
    with pytest.raises(ProtocolError) as refused:
        roots.check(ConvertJob(), params)
    assert refused.value.code == "forbidden"
    return str(refused.value)


# -- the check itself ----------------------------------------------------------------------


def test_paths_inside_the_roots_pass_resolved(folders: dict[str, Path]) -> None:
    roots = Roots([str(folders["plates"])], [str(folders["outputs"])])
    given = convert(folders["plates"] / "p1" / ".." / "p2", folders["outputs"] / "p2.zarr")
    checked = roots.check(ConvertJob(), given)
    assert checked["plate"] == str(folders["plates"].resolve() / "p2")
    assert checked["out"] == str(folders["outputs"].resolve() / "p2.zarr")


@pytest.mark.parametrize("escape", ["outside", "dotdot", "link", "root-of-read", "sibling-prefix"])
def test_a_path_outside_its_roots_is_refused_naming_it_and_the_roots(
    folders: dict[str, Path], escape: str
) -> None:
    roots = Roots([str(folders["plates"])], [str(folders["outputs"])])
    plate = folders["plates"] / "p1"
    out = {
        "outside": folders["elsewhere"] / "o.zarr",
        "dotdot": folders["outputs"] / ".." / "elsewhere" / "o.zarr",
        "link": folders["outputs"] / "link" / "o.zarr",
        # A read root is not a write root.
        "root-of-read": folders["plates"] / "o.zarr",
        # outputs-old shares a prefix with outputs, not a folder.
        "sibling-prefix": folders["outputs"].with_name("outputs-old") / "o.zarr",
    }[escape]
    (folders["outputs"] / "link").symlink_to(folders["elsewhere"], target_is_directory=True)
    message = refusal(roots, convert(plate, out))
    assert "'out'" in message and str(out) in message
    assert str(folders["outputs"].resolve()) in message and "--write-root" in message


def test_a_plate_reached_through_a_link_out_of_the_read_roots_is_refused(
    folders: dict[str, Path],
) -> None:
    roots = Roots([str(folders["plates"])], [str(folders["outputs"])])
    (folders["plates"] / "sneaky").symlink_to(folders["elsewhere"], target_is_directory=True)
    message = refusal(roots, convert(folders["plates"] / "sneaky", folders["outputs"] / "o.zarr"))
    assert "'plate'" in message and str(folders["elsewhere"].resolve()) in message
    assert "--read-root" in message


def test_a_path_with_a_nul_character_is_invalid(folders: dict[str, Path]) -> None:
    roots = Roots([str(folders["plates"])], [str(folders["outputs"])])
    with pytest.raises(ProtocolError) as refused:
        roots.check(ConvertJob(), convert(folders["plates"] / "p\0", folders["outputs"] / "o"))
    assert refused.value.code == "invalid" and "'plate'" in str(refused.value)


def test_without_roots_every_path_is_refused_saying_which_option_allows_it(
    folders: dict[str, Path],
) -> None:
    message = refusal(Roots(), convert(folders["plates"] / "p", folders["outputs"] / "o.zarr"))
    assert "reads from no folder" in message and "--read-root DIR" in message
    message = refusal(
        Roots([str(folders["plates"])]),
        convert(folders["plates"] / "p", folders["outputs"] / "o.zarr"),
    )
    assert "writes to no folder" in message and "--write-root DIR" in message


def test_overwrite_is_refused_unless_the_server_allows_it(folders: dict[str, Path]) -> None:
    read, write = [str(folders["plates"])], [str(folders["outputs"])]
    params = convert(folders["plates"] / "p", folders["outputs"] / "o.zarr", overwrite=True)
    message = refusal(Roots(read, write), params)
    assert "overwrite" in message and "--allow-overwrite" in message
    assert Roots(read, write, allow_overwrite=True).check(ConvertJob(), params)["overwrite"]
    # overwrite false asks for nothing to be deleted.
    assert Roots(read, write).check(ConvertJob(), {**params, "overwrite": False})


def test_a_root_that_is_no_folder_is_refused_when_the_server_is_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"--write-root .*missing.* not an existing folder"):
        Roots([str(tmp_path)], [str(tmp_path / "missing")])


def test_launch_options_given_as_lists_repeat_their_option() -> None:
    assert serve_arguments("execution", {"read_roots": ["/a", Path("/b")], "workers": 2}) == [
        "execution",
        "--read-root",
        "/a",
        "--read-root",
        "/b",
        "--workers",
        "2",
    ]


def test_serve_with_a_missing_root_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["serve", "execution", "--read-root", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "--read-root" in err and "nope" in err, err


# -- through a server ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_server_refuses_jobs_outside_its_roots_before_they_run(
    folders: dict[str, Path],
) -> None:
    source = write_plate("imagexpress", folders["plates"] / "p", wells=["A01"], shape=(16, 16))
    kept = folders["elsewhere"] / "precious.zarr"
    kept.mkdir()
    (kept / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    (folders["outputs"] / "link").symlink_to(folders["elsewhere"], target_is_directory=True)
    existing = folders["outputs"] / "existing.zarr"
    existing.mkdir()
    (existing / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    with launch_server(
        "execution", read_roots=[folders["plates"]], write_roots=[folders["outputs"]]
    ) as server:
        for out, overwrite in (
            (kept, True),
            (folders["outputs"] / "link" / "precious.zarr", True),
            (folders["outputs"] / "link" / "new.zarr", False),
            (existing, True),
        ):
            params = {"plate": str(source), "out": str(out), "overwrite": overwrite}
            with pytest.raises(ServerError) as refused:
                submit(server.address, "convert", params)
            assert refused.value.code == "forbidden", refused.value
            assert str(out) in str(refused.value) or "--allow-overwrite" in str(refused.value)
        # Nothing was queued, nothing outside was touched, the existing output is whole.
        assert server.request("jobs")["jobs"] == []
        assert sorted(p.name for p in folders["elsewhere"].iterdir()) == ["precious.zarr"]
        assert [p.name for p in kept.iterdir()] == ["zarr.json"]
        assert [p.name for p in existing.iterdir()] == ["zarr.json"]
        status = server.status()
        assert status["write_roots"] == [str(folders["outputs"].resolve())]
        assert status["allow_overwrite"] is False
        # Inside the roots, the conversion runs.
        out = folders["outputs"] / "p.zarr"
        done = wait(
            server.address,
            submit(server.address, "convert", {"plate": str(source), "out": str(out)})["job_id"],
        )
        assert done["state"] == "completed", done
        assert (out / "zarr.json").is_file()


@pytest.mark.slow
def test_a_link_made_while_a_job_waits_is_caught_as_it_starts(folders: dict[str, Path]) -> None:
    source = write_plate("imagexpress", folders["plates"] / "p", wells=["A01"], shape=(16, 16))
    inside = folders["outputs"] / "inside"
    inside.mkdir()
    link = folders["outputs"] / "link"
    link.symlink_to(inside, target_is_directory=True)
    with launch_server(
        "execution", workers=1, read_roots=[folders["plates"]], write_roots=[folders["outputs"]]
    ) as server:
        blocker = submit(server.address, "sleep", {"seconds": 60})["job_id"]
        queued = submit(
            server.address, "convert", {"plate": str(source), "out": str(link / "o.zarr")}
        )
        assert queued["position"] == 1
        # Accepted with the link resolved: the job is to write where the check looked.
        resolved = job_status(server.address, queued["job_id"])["params"]["out"]
        assert resolved == str(inside.resolve() / "o.zarr")
        # While it waits, a folder on that path becomes a link out of the roots.
        inside.rmdir()
        inside.symlink_to(folders["elsewhere"], target_is_directory=True)
        cancel(server.address, blocker)
        record = wait(server.address, queued["job_id"], timeout=10, max_wait=60)
    assert record["state"] == "failed", record
    assert record["error"]["type"] == "Forbidden" and "--write-root" in record["error"]["message"]
    assert list(folders["elsewhere"].iterdir()) == []


@pytest.mark.slow
def test_a_source_inside_its_output_is_refused_and_left_intact(tmp_path: Path) -> None:
    out = tmp_path / "Holder.zarr"
    out.mkdir()
    (out / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    source = write_plate("imagexpress", out / "plate", wells=["A01"], shape=(16, 16))
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    assert before
    with launch_server(
        "execution", read_roots=[tmp_path], write_roots=[tmp_path], allow_overwrite=True
    ) as server:
        params = {"plate": str(source), "out": str(out), "overwrite": True}
        try:
            record = wait(server.address, submit(server.address, "convert", params)["job_id"])
        except ServerError as refused:
            message = str(refused)
        else:
            assert record["state"] == "failed", record
            message = record["error"]["message"]
    assert str(source) in message or str(out) in message, message
    assert sorted(p.relative_to(source) for p in source.rglob("*")) == before
