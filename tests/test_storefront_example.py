"""The bundled example's storefront badge (issue 29, item 6) end to end against the simulator:
the install's task places the badge's script (served from APP_URL) on the storefront, which
renders it with its consent category; a signed-in shopper's Current Customer JWT, fetched from
the storefront as the badge's script does, gets the shopper's greeting from the app with CORS
for that storefront; a guest gets no JWT at all."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from flask import Flask

from bcapp.simulator import ServedApp, SimulatorState
from bcapp.simulator.storefront import sign_in
from bcapp.simulator.storefront_model import cookie_name
from tests.conftest import CLIENT_ID, service_of
from tests.helpers import install
from tests.workers import running_worker, wait_until


def test_the_example_badge_greets_a_signed_in_shopper(
    make_app: Callable[..., Flask], sim: SimulatorState, bigcommerce: ServedApp
) -> None:
    app = make_app(example_pages=True, receiver_modules=("bcapp.example_events",))
    service = service_of(app)
    scopes = str(service.settings.required_scopes)
    assert "store_v2_content" in scopes, "declaring the badge requires the content scope"
    client = app.test_client()
    with running_worker(service):
        assert install(client, sim, scope=scopes).status_code == 302
        wait_until(lambda: sim.stores["abc123"].scripts, what="the install's task")
    [badge] = sim.stores["abc123"].scripts
    assert badge.src == f"{service.settings.app_url}/storefront/badge.js"
    assert (badge.consent_category, badge.load_method) == ("functional", "defer")

    storefront = f"{bigcommerce.url}/storefront/abc123"
    page = requests.get(storefront, timeout=10).text
    assert badge.src in page and 'data-consent-category="functional"' in page
    script = client.get("/storefront/badge.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert CLIENT_ID in script.get_data(as_text=True)

    jwt_url = f"{storefront}/customer/current.jwt?app_client_id={CLIENT_ID}"
    assert requests.get(jwt_url, timeout=10).status_code == 404, "a guest"
    cookies = {cookie_name("abc123", 1): sign_in(sim, "abc123", 1, 1)}
    token = requests.get(jwt_url, cookies=cookies, timeout=10)
    assert token.status_code == 200
    origin = f"{urlsplit(bigcommerce.url).scheme}://{urlsplit(bigcommerce.url).netloc}"
    greeted = client.post("/storefront/badge", headers={
        "Authorization": f"Bearer {token.text.strip()}", "Origin": origin})
    assert greeted.status_code == 200, greeted.get_data(as_text=True)
    assert greeted.json == {"greeting": "Hello, jane.doe@abc123.example!"}
    assert greeted.headers["Access-Control-Allow-Origin"] == origin
