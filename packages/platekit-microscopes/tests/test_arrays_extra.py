"""Plates as arrays without the arrays extra: the methods say what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from platekit.microscopes.testing import write_plate


def test_without_dask_the_methods_say_what_to_install(tmp_path: Path) -> None:
    folder = write_plate("imagexpress", tmp_path / "plate", shape=(8, 8))
    script = textwrap.dedent(
        f"""
        import sys

        class NoDask:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("dask", "xarray"):
                    raise ImportError(f"No module named {{name!r}}")
                return None

        sys.meta_path.insert(0, NoDask())
        from platekit.microscopes import open_plate

        plate = open_plate({str(folder)!r})
        for method in (plate.to_dask, plate.to_xarray):
            try:
                method()
            except ImportError as exc:
                print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    for line in lines:
        assert "need dask and xarray" in line
        assert "pip install" in line and "[arrays]" in line
