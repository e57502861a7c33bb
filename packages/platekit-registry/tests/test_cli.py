"""The platekit command: its subcommands are a registry, its help costs no command import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLATEKIT = Path(sys.executable).with_name("platekit")


def platekit(
    *args: str, cache_root: Path, path: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root))
    if path is not None:
        env["PYTHONPATH"] = str(path)
    done = subprocess.run(
        [str(PLATEKIT), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def hello_command(tmp_path: Path) -> Path:
    """A third-party distribution adding ``platekit hello`` through an entry point."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "pk_hello.py").write_text(
        textwrap.dedent(
            """
            from platekit.registry._command import Command

            class HelloCommand(Command):
                name = "hello"
                help = "greet someone"

                def configure(self, parser):
                    parser.add_argument("who")

                def run(self, args):
                    print(f"hello, {args.who}")
                    return 0
            """
        )
    )
    dist = site / "pk_hello-0.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-hello\nVersion: 0.3\n")
    (dist / "entry_points.txt").write_text("[platekit.commands]\nhello = pk_hello:HelloCommand\n")
    return site


def test_help_lists_the_commands(cache_root: Path) -> None:
    out = platekit("--help", cache_root=cache_root).stdout
    assert "registries" in out and "cache" in out
    assert "list every registry" in out
    assert platekit("--version", cache_root=cache_root).stdout.startswith("platekit 0.")


def test_warm_help_imports_no_command_module(cache_root: Path, run_python: object) -> None:
    code = textwrap.dedent(
        """
        import contextlib, io, sys
        from platekit.registry._cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["--help"])
            except SystemExit:
                pass
        print("platekit.registry._builtin_commands" in sys.modules, "argparse" in sys.modules)
        """
    )
    env = dict(os.environ, PLATEKIT_CACHE_DIR=str(cache_root))

    def run() -> str:
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    assert run() == "True True"  # cold: the entry points are imported to discover
    assert run() == "False True"  # warm: help comes from the index


def test_registries_lists_keys_origins_and_cache_state(cache_root: Path) -> None:
    text = platekit("registries", cache_root=cache_root).stdout
    assert "the platekit command registry" in text
    assert "entry point registries (platekit-registry)" in text
    data = json.loads(platekit("registries", "--json", cache_root=cache_root).stdout)
    [commands] = [r for r in data["registries"] if r["announced_as"] == "commands"]
    keys = {entry["key"]: entry for entry in commands["keys"]}
    assert {"registries", "cache"} <= set(keys)
    assert keys["cache"]["origin"] == "entry point cache (platekit-registry)"
    assert keys["cache"]["qualname"] == "CacheCommand"
    assert commands["cache"] == "hit"
    assert commands["errors"] == []
    assert commands["index"].startswith(str(cache_root))
    refreshed = json.loads(
        platekit("registries", "commands", "--json", "--refresh", cache_root=cache_root).stdout
    )
    assert [r["announced_as"] for r in refreshed["registries"]] == ["commands"]
    assert refreshed["registries"][0]["cache"].startswith("miss: refresh()")


def test_registries_with_an_unknown_name(cache_root: Path) -> None:
    done = platekit("registries", "nonesuch", cache_root=cache_root, check=False)
    assert done.returncode == 2
    assert "no registry named nonesuch; known: commands" in done.stderr


def test_cache_info_and_clear(cache_root: Path) -> None:
    platekit("registries", cache_root=cache_root)
    info = platekit("cache", "info", cache_root=cache_root).stdout
    assert "registry.platekit.registry._command.Command.platekit_command" in info
    before = json.loads(platekit("cache", "info", "--json", cache_root=cache_root).stdout)
    count = len(before["records"])  # one index per installed registry
    cleared = platekit("cache", "clear", cache_root=cache_root).stdout
    assert f"removed {count} file" in cleared
    # Running platekit discovers its own commands again, and indexes them again.
    records = json.loads(platekit("cache", "info", "--json", cache_root=cache_root).stdout)
    assert [r["name"] for r in records["records"]] == [
        "registry.platekit.registry._command.Command.platekit_command"
    ]


def test_a_command_from_another_distribution(cache_root: Path, hello_command: Path) -> None:
    assert "greet someone" in platekit("--help", cache_root=cache_root, path=hello_command).stdout
    out = platekit("hello", "world", cache_root=cache_root, path=hello_command).stdout
    assert out == "hello, world\n"
    sub_help = platekit("hello", "--help", cache_root=cache_root, path=hello_command).stdout
    assert "who" in sub_help


def test_an_unknown_command_is_an_error(cache_root: Path) -> None:
    done = platekit("frobnicate", cache_root=cache_root, check=False)
    assert done.returncode == 2
    assert "invalid choice: 'frobnicate'" in done.stderr


def test_a_subcommand_usage_error_shows_that_subcommand(cache_root: Path) -> None:
    def usage(done: subprocess.CompletedProcess[str]) -> str:
        assert done.returncode == 2
        [line] = [line for line in done.stderr.splitlines() if line.startswith("usage:")]
        return line

    done = platekit("registries", "--jsn", cache_root=cache_root, check=False)
    assert usage(done).startswith("usage: platekit registries [-h]")
    assert "platekit registries: error: unrecognized arguments: --jsn" in done.stderr
    cache = platekit("cache", "info", "--jsn", cache_root=cache_root, check=False)
    assert usage(cache).startswith("usage: platekit cache info [-h]")


def test_options_are_never_abbreviated(cache_root: Path) -> None:
    done = platekit("registries", "--jso", cache_root=cache_root, check=False)
    assert done.returncode == 2
    assert "unrecognized arguments: --jso" in done.stderr
    platekit("registries", cache_root=cache_root)
    cleared = platekit("cache", "clear", "--all", cache_root=cache_root, check=False)
    assert cleared.returncode == 2
    assert "unrecognized arguments: --all" in cleared.stderr
    assert any(cache_root.glob("*/*.json"))


@pytest.fixture
def broken_registry(tmp_path: Path) -> Path:
    """A distribution announcing a registry whose one plugin fails to import."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "pk_shaky.py").write_text(
        textwrap.dedent(
            """
            from platekit.registry import AutoRegisterMeta, LazyDiscoveryDict, RegistryConfig

            class Shaky(metaclass=AutoRegisterMeta):
                __registry_config__ = RegistryConfig(
                    registry_dict=LazyDiscoveryDict(),
                    key_attribute="_kind",
                    skip_if_no_key=True,
                    registry_name="shaky thing",
                    entry_point_group="pk_shaky.things",
                )
                _kind = None

            class Steady(metaclass=AutoRegisterMeta):
                __registry_config__ = RegistryConfig(
                    registry_dict=LazyDiscoveryDict(),
                    key_attribute="_kind",
                    skip_if_no_key=True,
                    registry_name="steady thing",
                    entry_point_group="pk_shaky.steady",
                )
                _kind = None

            class Rock(Steady):
                _kind = "rock"
            """
        )
    )
    (site / "pk_shaky_broken.py").write_text("import pk_shaky_missing_dependency\n")
    dist = site / "pk_shaky-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-shaky\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[platekit.registries]\nshaky = pk_shaky:Shaky\nsteady = pk_shaky:Steady\n\n"
        "[pk_shaky.things]\nbroken = pk_shaky_broken:Thing\n\n"
        "[pk_shaky.steady]\nrock = pk_shaky:Rock\n"
    )
    return site


def test_strict_registries_fail_on_a_broken_plugin(cache_root: Path, broken_registry: Path) -> None:
    lenient = platekit("registries", "shaky", cache_root=cache_root, path=broken_registry)
    assert "ERROR entry point 'broken' of pk-shaky" in lenient.stdout
    for _ in range(2):  # cold, then warm
        strict = platekit(
            "registries",
            "shaky",
            "steady",
            "--strict",
            cache_root=cache_root,
            path=broken_registry,
            check=False,
        )
        assert strict.returncode == 1, strict.stdout + strict.stderr
        assert "ERROR entry point 'broken' of pk-shaky" in strict.stdout
        assert "platekit registries --strict: 1 plugin failed to import" in strict.stderr
    as_json = platekit(
        "registries",
        "shaky",
        "--json",
        "--strict",
        cache_root=cache_root,
        path=broken_registry,
        check=False,
    )
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["registries"][0]["errors"]
    # Only the registries shown count.
    steady = platekit(
        "registries", "steady", "--strict", cache_root=cache_root, path=broken_registry
    )
    assert "rock" in steady.stdout and steady.stderr == ""


def test_strict_registries_fail_on_a_broken_announcement(cache_root: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "pk_gone-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pk-gone\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[platekit.registries]\ngone = pk_gone:Root\n")
    assert platekit("registries", cache_root=cache_root, path=site).returncode == 0
    strict = platekit("registries", "--strict", cache_root=cache_root, path=site, check=False)
    assert strict.returncode == 1
    assert "ERROR gone (pk-gone)" in strict.stdout
