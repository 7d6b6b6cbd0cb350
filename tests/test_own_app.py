"""bcapp as a Flask extension: a Flask app of the developer's own, served by gunicorn.

`examples/own_app.py` is `app = Flask(__name__); bcapp.init_app(app)` plus one `app_page`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from flask import Flask

from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.web import init_app
from tests.helpers import STAFF, auth_query, signed
from tests.servers import environment_for, gunicorn

pytestmark = pytest.mark.slow


def get(url: str, cookie: str = "", **params: str) -> requests.Response:
    headers = {"Cookie": cookie} if cookie else {}
    return requests.get(url, params=params, headers=headers, allow_redirects=False, timeout=10)


def cookie_of(response: requests.Response) -> str:
    return response.headers["Set-Cookie"].split(";")[0]


def test_an_app_of_your_own_installs_loads_and_serves_its_page_under_gunicorn(
    settings: Settings, sim: SimulatorState, tmp_path: Path
) -> None:
    env = environment_for(settings)
    with gunicorn(env, tmp_path / "gunicorn.log", app="examples.own_app:app") as url:
        installed = get(url + "/bigcommerce/auth?" + auth_query(sim))
        assert installed.status_code == 302
        assert installed.headers["Location"].startswith("/?installed=1&_bcs=")
        owner_page = get(url + "/orders/summary", cookie_of(installed))
        assert owner_page.status_code == 200
        assert owner_page.text == "Store abc123: hello owner@example.com (owner)"

        loaded = get(url + "/bigcommerce/load", signed_payload_jwt=signed(user=STAFF))
        assert loaded.status_code == 302
        staff_page = get(url + "/orders/summary", cookie_of(loaded))
        assert staff_page.text == "Store abc123: hello staff@example.com (staff)"
        assert "frame-ancestors 'self' " in staff_page.headers["Content-Security-Policy"]

        refused = get(url + "/orders/summary")
        assert refused.status_code == 401 and "<html" in refused.text, "bcapp's error page"
        assert get(url + "/settings", cookie_of(loaded)).status_code == 404, "no example pages"
        assert get(url + "/bigcommerce/load").status_code == 400
        assert requests.post(url + "/bigcommerce/load", timeout=10).status_code == 405


def test_example_pages_are_absent_unless_asked_for(settings: Settings) -> None:
    plain, asked = Flask("plain"), Flask("asked")
    for app, example_pages in ((plain, False), (asked, True)):
        init_app(app, settings, example_pages=example_pages).close()
    rules = {app.name: {rule.rule for rule in app.url_map.iter_rules()} for app in (plain, asked)}
    assert "/settings" not in rules["plain"] and "/products" not in rules["plain"]
    assert {"/settings", "/products", "/bigcommerce/load", "/"} <= rules["asked"]
    assert "/bigcommerce/auth" in rules["plain"] and "/healthz" in rules["plain"]
