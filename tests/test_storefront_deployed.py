"""Storefront scripts as deployed (issue 29, acceptance 1): gunicorn serves the install, a
`bcapp worker` process runs its task, which creates the declared script with its consent
category on each chosen channel of the simulated store; `bcapp reconcile`, run as cron would
with the app's next declarations, updates a changed one, reports (never re-creates) the one
the merchant deleted, and deletes an undeclared one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.helpers import DEFAULT_SCOPE, auth_query
from tests.servers import REPO, environment_for, gunicorn
from tests.test_worker_process import worker_process
from tests.workers import wait_until

pytestmark = pytest.mark.slow

SCOPES = f"{DEFAULT_SCOPE} store_v2_content"
DECLARATIONS = """
import os
from bcapp import storefront

if os.environ.get("BADGE_DECLARED", "1") == "1":
    storefront.script("badge", src="https://app.example.com/badge.js",
                      consent_category="functional", channels=(1, 2),
                      load_method=os.environ.get("BADGE_LOAD", "defer"))
"""


def placed(sim: SimulatorState) -> list[tuple[str, int, str, str]]:
    return sorted((s.name, s.channel_id, s.consent_category, s.load_method)
                  for s in sim.stores["abc123"].scripts)


def reconcile(env: dict[str, str], **changes: str) -> str:
    """`bcapp reconcile` in its own process, with the app's declarations as `changes` say."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("BC")} | env | changes
    command = [sys.executable, "-m", "bcapp.cli", "reconcile", "--store", "abc123"]
    done = subprocess.run(command, cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_install_through_gunicorn_places_the_script_and_reconcile_keeps_it_true(
    settings: Settings, sim: SimulatorState, tmp_path: Path
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "declared_scripts.py").write_text(DECLARATIONS)
    env = environment_for(settings) | {
        "BCAPP_RECEIVERS": "declared_scripts",
        "PYTHONPATH": f"{tmp_path / 'pkg'}{os.pathsep}{REPO}",
    }
    sim.stores["abc123"].channels = [1, 2]
    with gunicorn(env, tmp_path / "g.log") as url, worker_process(env, tmp_path / "w.log"):
        installed = requests.get(url + "/bigcommerce/auth?" + auth_query(sim, scope=SCOPES),
                                 allow_redirects=False, timeout=10)
        assert installed.status_code == 302
        wait_until(lambda: len(sim.stores["abc123"].scripts) == 2, timeout=30,
                   what="the install's task in the worker")
    assert placed(sim) == [("badge", 1, "functional", "defer"), ("badge", 2, "functional", "defer")]
    assert all(script.auto_uninstall for script in sim.stores["abc123"].scripts)

    store = sim.stores["abc123"]
    store.scripts = [script for script in store.scripts if script.channel_id != 2]  # the merchant
    output = reconcile(env, BADGE_LOAD="async")
    assert "storefront scripts updated badge (channel 1)" in output
    reported = "removed by the merchant (bcapp storefront restore puts them back) badge (channel 2)"
    assert reported in output
    assert placed(sim) == [("badge", 1, "functional", "async")], "reported, not re-created"
    output = reconcile(env, BADGE_DECLARED="0")
    assert "storefront scripts deleted badge (channel 1)" in output
    assert sim.stores["abc123"].scripts == []
