"""`gunicorn -c python:bcapp.gunicorn` serves an app of its own repository, outside bcapp's
checkout, in production (issue 27, Build 3 and acceptance 3): an access log without query
strings, /metrics counted across two workers, a bad configuration refused before binding."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests

from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.conftest import CLIENT_SECRET
from tests.helpers import OWNER, auth_query, signed
from tests.servers import REPO, environment_for, free_port, wait_until_serving
from tests.test_metrics import TOKEN, sample

pytestmark = pytest.mark.slow

# The developer's app: a module of its own, with a route of its own beside bcapp's.
SHOP = '''
import os

from flask import Flask

import bcapp
from bcapp import scopes

scopes.require("store_v2_products_read_only", reason="the tests' installs grant it")


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/pid")
    def pid() -> str:
        return str(os.getpid())

    bcapp.init_app(app)
    return app


app = create_app()
'''

# (the app on gunicorn's command line, BCAPP_APP): the three ways to name the app
# The app on the command line, and BCAPP_APP naming a factory (BCAPP_APP naming the app itself
# goes through the same loader: tests/test_app_spec.py).
NAMINGS = [("shop:app", None), (None, "shop:create_app")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project directory outside bcapp's checkout, holding only its app module."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "shop.py").write_text(SHOP)
    assert not folder.resolve().is_relative_to(REPO)
    return folder


def production_env(settings: Settings) -> dict[str, str]:
    """What production needs, on the test's Redis and simulated BigCommerce; the app declares
    its scopes itself (no receivers from bcapp's tests, which this project cannot import)."""
    variables = environment_for(replace(settings, env="production"))
    return variables | {"BCAPP_METRICS_TOKEN": TOKEN, "BCAPP_RECEIVERS": ""}


def run_env(variables: dict[str, str], port: int, app_variable: str | None) -> dict[str, str]:
    """The test's environment without BigCommerce settings or PYTHONPATH, plus `variables`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BC", "REDIS", "PROMETHEUS")) and key != "PYTHONPATH"
    }
    env |= variables | {"PORT": str(port), "WEB_CONCURRENCY": "2"}
    if app_variable is not None:
        env["BCAPP_APP"] = app_variable
    return env


def gunicorn_command(app: str | None) -> list[str]:
    """gunicorn with bcapp's settings, as a Procfile runs it."""
    return [sys.executable, "-m", "gunicorn", "-c", "python:bcapp.gunicorn", *filter(None, [app])]


@contextmanager
def served(project: Path, env: dict[str, str], app: str | None, log: Path) -> Iterator[str]:
    """gunicorn serving the project's app from its directory; yields its base URL."""
    with log.open("w") as out:
        process = subprocess.Popen(
            gunicorn_command(app), cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{env['PORT']}"
            wait_until_serving(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.parametrize(("app", "app_variable"), NAMINGS)
def test_an_app_of_its_own_repository_served_in_production(
    settings: Settings,
    sim: SimulatorState,
    project: Path,
    tmp_path: Path,
    app: str | None,
    app_variable: str | None,
) -> None:
    port = free_port()
    home = tmp_path / "home"  # where gunicorn would put its control socket
    env = run_env(production_env(settings), port, app_variable) | {
        "HOME": str(home), "XDG_RUNTIME_DIR": str(home)
    }
    log = tmp_path / "gunicorn.log"
    query = auth_query(sim)
    payloads = [signed(user=OWNER) for _ in range(3)]
    with served(project, env, app, log) as url:
        installed = requests.get(
            f"{url}/bigcommerce/auth?{query}", allow_redirects=False, timeout=10
        )
        loads = [
            requests.get(
                f"{url}/bigcommerce/load",
                params={"signed_payload_jwt": payload},
                allow_redirects=False,
                timeout=10,
            )
            for payload in payloads
        ]
        pids = []  # a new connection each: the two workers take turns accepting
        while len(pids) < 200 and (len(pids) < 20 or len(set(pids)) < 2):
            pids.append(requests.get(f"{url}/pid", timeout=10).text)
        metrics = requests.get(
            f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ).text
        sockets = list(home.rglob("*.ctl")) if home.exists() else []
    assert sockets == [], "no control socket another server of this user could share"
    assert installed.status_code == 302 and [load.status_code for load in loads] == [302] * 3
    assert len(set(pids)) == 2, "both workers served the app's own route"
    assert sample(metrics, "bcapp_request_seconds_count", route="/pid") == len(pids)
    assert sample(metrics, "bcapp_callbacks_total", callback="load", outcome="ok") == 3
    assert sample(metrics, "bcapp_callbacks_total", callback="auth", outcome="ok") == 1
    text = log.read_text()
    access = [line for line in text.splitlines() if re.search(r'"GET /bigcommerce/\w+ ', line)]
    assert sum('"GET /bigcommerce/load HTTP/1.1" 302' in line for line in access) == 3
    assert sum('"GET /bigcommerce/auth HTTP/1.1" 302' in line for line in access) == 1
    assert len(access) == 4 and not any("?" in line for line in access), "paths only"
    [code] = parse_qs(query)["code"]
    for secret in [code, CLIENT_SECRET, TOKEN, *payloads, *sim.issued_secrets]:
        assert secret not in text


@pytest.mark.parametrize(("app", "app_variable"), NAMINGS)
def test_a_bad_configuration_stops_it_with_its_message_before_it_binds(
    settings: Settings, project: Path, app: str | None, app_variable: str | None
) -> None:
    port = free_port()
    variables = production_env(settings)
    del variables["SECRET_KEY"]
    env = run_env(variables, port, app_variable)
    ended = subprocess.run(
        gunicorn_command(app), cwd=project, env=env, capture_output=True, text=True, timeout=30
    )
    assert ended.returncode != 0
    assert "BCAPP_ENV=production refuses to start" in ended.stderr
    assert "SECRET_KEY: make one with" in ended.stderr
    assert "Listening at" not in ended.stdout + ended.stderr, "it never bound"
    assert "Booting worker" not in ended.stdout + ended.stderr


def test_an_app_variable_naming_a_missing_module_stops_it_before_it_binds(
    settings: Settings, project: Path
) -> None:
    env = run_env(production_env(settings), free_port(), "nosuchshop:app")
    ended = subprocess.run(
        gunicorn_command(None), cwd=project, env=env, capture_output=True, text=True, timeout=30
    )
    assert ended.returncode != 0
    assert "cannot import nosuchshop" in ended.stderr
    assert "Listening at" not in ended.stdout + ended.stderr, "it never bound"


def test_the_procfile_serves_with_these_settings_and_runs_the_worker() -> None:
    lines = dict(line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines())
    assert lines["web"].split() == ["gunicorn", *gunicorn_command("wsgi:app")[3:]]
    assert lines["worker"] == "bcapp worker"
