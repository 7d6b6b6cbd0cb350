"""Install end to end through gunicorn (as in production) against the simulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.store import embedded
from tests.conftest import CLIENT_SECRET
from tests.helpers import REQUIRED_IN_PRODUCTION, auth_query, installation_of
from tests.servers import environment_for, gunicorn

pytestmark = pytest.mark.slow


def test_install_through_gunicorn_stores_encrypted_token_and_logs_no_secrets(
    settings: Settings,
    sim: SimulatorState,
    snapshot: Callable[[], dict[str, Any]],
    tmp_path: Path,
    make_app: Callable[..., Flask],
) -> None:
    log_path = tmp_path / "gunicorn.log"
    with gunicorn(environment_for(settings), log_path) as url:
        first = requests.get(
            url + "/bigcommerce/auth?" + auth_query(sim), allow_redirects=False, timeout=10
        )
        first_token = sim.stores["abc123"].access_token
        second = requests.get(
            url + "/bigcommerce/auth?" + auth_query(sim), allow_redirects=False, timeout=10
        )
        cookie = second.headers["Set-Cookie"].split(";")[0]
        page = requests.get(url + "/", headers={"Cookie": cookie}, timeout=10)
        stale = requests.get(url + "/bigcommerce/auth?code=x", timeout=10)
        oversized = [
            requests.get(url + "/bigcommerce/load?signed_payload_jwt=" + "a" * size, timeout=10)
            for size in (3000, 9000, 65536)
        ]

    assert first.status_code == second.status_code == 302
    assert "Secure" in second.headers["Set-Cookie"]
    assert "SameSite=None" in second.headers["Set-Cookie"]
    assert "Partitioned" in second.headers["Set-Cookie"]
    assert page.status_code == 200 and "abc123" in page.text
    assert stale.status_code == 400
    # bcapp's own 400 for 3 KB of junk; gunicorn's 414 once the request line passes its limit.
    assert [response.status_code for response in oversized] == [400, 414, 414]
    token = sim.stores["abc123"].access_token
    assert token and token != first_token
    dump = json.dumps(snapshot())
    assert token not in dump and (first_token or "") not in dump
    assert "abc123" in dump
    stored = installation_of(make_app(), "abc123")
    assert stored is not None and stored.access_token == token, "re-install replaced the token"
    log = log_path.read_text()
    assert "GET /bigcommerce/auth " in log, "the access log names the route"
    for secret in [CLIENT_SECRET, *sim.issued_secrets]:
        assert secret not in log
    assert "code=" not in log


def test_development_defaults_serve_with_the_embedded_redis(tmp_path: Path) -> None:
    """What `make run` does on a fresh machine: no configuration at all (a checkout whose path
    is 150 characters long: test_make_run_serves_from_a_checkout_whose_path_is_150_…, below)."""
    instance = tmp_path / "instance"
    env = {"BCAPP_INSTANCE_DIR": str(instance), "REDIS_URL": "", "BCAPP_SIMULATOR": "off"}
    with gunicorn(env, tmp_path / "g.log") as url:
        health = requests.get(url + "/healthz", timeout=5)
        ready = requests.get(url + "/readyz", timeout=5)
        assert embedded.is_running(instance)
    assert health.status_code == 200
    assert ready.status_code == 200 and ready.json()["redis"] == "up"
    assert (instance / "secret_key").exists() and (instance / "token_encryption_keys").exists()
    assert not embedded.is_running(instance), "gunicorn stops the embedded redis on exit"


def test_production_without_secrets_refuses_to_start_under_gunicorn(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.servers import REPO, free_port

    env = {key: value for key, value in os.environ.items() if not key.startswith(("BC", "REDIS"))}
    env |= {
        "BCAPP_ENV": "production",
        "PORT": str(free_port()),
        "BCAPP_INSTANCE_DIR": str(tmp_path / "i"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "--config", "gunicorn.conf.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for name in REQUIRED_IN_PRODUCTION:
        assert name in output
    assert "Traceback" not in output
    assert not (tmp_path / "i").exists(), "production never creates development secrets"



def test_make_run_serves_from_a_checkout_whose_path_is_150_characters_long(
    tmp_path: Path,
) -> None:
    """Issue 20, acceptance 4: `make run` itself, in a clone of this repository at a path of
    150 characters (its instance/ far too deep for a unix socket), serves and stops. The clone
    shares this checkout's virtualenv (a symlink), so nothing is installed again."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from tests.servers import REPO, free_port

    checkout = tmp_path / ("c" * max(150 - len(str(tmp_path)) - 1, 1))
    assert len(str(checkout)) >= 150
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout to clone")
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(checkout)], check=True)
    # This virtualenv itself (sys.prefix; resolving its python's symlink would give the base
    # interpreter, which `make` would then install into).
    (checkout / ".venv").symlink_to(sys.prefix)
    os.utime(checkout / "pyproject.toml", (0, 0))  # older than the venv's stamp: no reinstall
    port = free_port(twin=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC", "REDIS", "APP_URL"))}
    env |= {"PORT": str(port), "WEB_CONCURRENCY": "1"}
    env.pop("BCAPP_INSTANCE_DIR", None)
    with (tmp_path / "run.log").open("w") as log:
        server = subprocess.Popen(
            # -o: never install (into this shared virtualenv), even without its stamp
            ["make", "run", "-o", ".venv/.installed-run", f"PORT={port}"],
            cwd=checkout, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline, ready = time.monotonic() + 60, None
        while time.monotonic() < deadline and ready is None:
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            except (requests.ConnectionError, requests.Timeout):  # not listening, or booting
                time.sleep(0.2)
        assert ready is not None, (tmp_path / "run.log").read_text()
        assert ready.status_code == 200 and ready.json()["redis"] == "up"
        assert embedded.is_running(checkout / "instance")
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)
    assert not embedded.is_running(checkout / "instance")
