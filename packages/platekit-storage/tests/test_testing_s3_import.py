"""platekit.storage.testing_s3 imports without pytest; only its fixtures need it."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Run in a child, where pytest can be made unimportable without touching this process.
WITHOUT_PYTEST = """
import sys
sys.modules["pytest"] = None
import platekit.storage.testing_s3 as helper
assert callable(helper.moto_server) and callable(helper.counted_requests)
assert helper.FAKE_CREDENTIALS["AWS_DEFAULT_REGION"] == "us-east-1"
try:
    helper.s3_endpoint
except ImportError as exc:
    print("fixtures:", exc)
"""


def test_the_helper_imports_without_pytest() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYTEST], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "fixtures:" in done.stdout and "pytest" in done.stdout


def test_the_fixtures_are_still_importable_from_the_helper() -> None:
    from platekit.storage import _s3_fixtures, testing_s3

    assert testing_s3.s3 is _s3_fixtures.s3
    assert testing_s3.s3_endpoint is _s3_fixtures.s3_endpoint
    assert {name for name in testing_s3.__all__ if getattr(testing_s3, name) is None} == set()
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        testing_s3.nothing  # noqa: B018
