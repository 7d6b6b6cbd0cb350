"""`bcapp demo` walks the whole lifecycle against the simulator and exits 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.servers import REPO

pytestmark = pytest.mark.slow


def test_demo_exits_zero_and_prints_every_step() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bcapp.cli", "demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for step in (
        "install as the store owner",
        "open the app as a second user",
        "(forged)",
        "the uninstall was forged, reinstated: 200 as expected",
        "remove the second user",
        "uninstall",
        "a load payload issued before the uninstall is refused: 401 as expected",
        "re-install",
        "demo finished",
    ):
        assert step in result.stdout
    assert "signed_payload_jwt=" not in result.stdout + result.stderr
    assert "code=" not in result.stdout + result.stderr
