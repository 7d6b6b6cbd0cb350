"""Unified Billing through the app's pages (issue 28, acceptance 1): gunicorn, a `bcapp worker`
process and the simulator. A store without a plan is sent from the gated page to the plans
page; the owner buys Pro; the merchant approves in the control panel and comes back through it
(a fresh load); the gated page opens; the receiver ran once for the new subscription.

The app is bcapp's own with the bundled example (bcapp/example_events.py declares its plans, a
receiver keeping each change among the store's recent events, and bcapp/web/example.py serves
`/plans` and `/reports`, which needs Pro).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from bcapp.service.wiring import Bcapp
from bcapp.settings import Settings
from bcapp.simulator import ServedApp, SimulatorState
from tests.helpers import auth_query, install
from tests.servers import environment_for, gunicorn
from tests.test_gunicorn_flow import Browser
from tests.test_worker_process import worker_process
from tests.workers import wait_until

pytestmark = pytest.mark.slow
SCOPES = (
    "store_v2_information store_v2_products_read_only store_app_extensions_manage "
    "store_v2_content"
)


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page carries its form's CSRF token"
    return found.group(1)


def post(browser: Browser, path: str, token: str) -> requests.Response:
    return requests.post(
        browser.base + path,
        data={"csrf_token": token},
        headers={"Cookie": browser.cookie, "Origin": browser.base},
        allow_redirects=False,
        timeout=10,
    )


def test_a_store_buys_pro_and_the_gated_page_opens_after_its_return(
    settings: Settings,
    sim: SimulatorState,
    bigcommerce: ServedApp,
    make_service: Callable[..., Bcapp],
    tmp_path: Path,
) -> None:
    env = environment_for(settings) | {
        "BCAPP_RECEIVERS": "bcapp.example_events",
        "BCAPP_EXAMPLE_PAGES": "true",
        "BC_PARTNER_ACCOUNT_UUID": sim.account_uuid,
        "BC_ACCOUNT_API_TOKEN": sim.account_api_token,
        "BC_APP_ID": str(sim.app_id),
    }
    with gunicorn(env, tmp_path / "g.log") as url, worker_process(env, tmp_path / "w.log"):
        sim.app_url, sim.app_scopes = url, SCOPES  # the app as the Developer Portal knows it
        owner = Browser(url)
        installed = owner.get("/bigcommerce/auth?" + auth_query(sim, scope=SCOPES))
        assert installed.status_code == 302, installed.text
        gated = owner.get("/reports")
        assert (gated.status_code, gated.headers["Location"]) == (302, "/plans")
        plans = owner.get("/plans")
        assert plans.status_code == 200 and "No plan yet." in plans.text
        bought = post(owner, "/plans/pro", csrf(plans.text))
        assert bought.status_code == 302, bought.text
        checkout = bought.headers["Location"]
        assert checkout.startswith(f"{bigcommerce.url}/manage/merchant-checkout?checkoutId=")
        [made] = sim.checkouts.values()
        assert made.account_uuid == sim.stores["abc123"].account_uuid != sim.account_uuid
        assert (made.product_level, made.trial_days) == ("Pro", 14)

        checkout_id = checkout.rsplit("=", 1)[1]
        approve = f"{bigcommerce.url}/manage/merchant-checkout/{checkout_id}/approve"
        approved = requests.post(approve, allow_redirects=False, timeout=10)
        panel = requests.get(approved.headers["Location"], timeout=10)  # back through BigCommerce
        frame = re.search(r'<iframe[^>]+src="([^"]+)"', panel.text)
        assert frame is not None, panel.text
        load_url = html.unescape(frame.group(1))
        assert load_url.startswith(f"{url}/bigcommerce/load?")
        assert owner.get(load_url.removeprefix(url)).status_code == 302, "a fresh load"
        calls = sim.account_api_calls
        reports = owner.get("/reports")
        assert reports.status_code == 200 and 'data-testid="reports"' in reports.text
        assert "<strong>Pro</strong>" in reports.text
        assert sim.account_api_calls == calls + 1, "one query confirmed the checkout"
        assert owner.get("/reports").status_code == 200
        assert sim.account_api_calls == calls + 1, "no Account API call on a page view"

        data = make_service().stores.app_data("abc123")

        def billing_events() -> list[str]:
            recent = json.loads(data.get("recent_events", "[]"))
            return [entry["scope"] for entry in recent if entry["scope"].startswith("billing/")]

        wait_until(lambda: billing_events(), timeout=30, what="the receiver, in the worker")
    assert billing_events() == ["billing/created"], "the receiver ran once"
    logs = (tmp_path / "g.log").read_text() + (tmp_path / "w.log").read_text()
    assert sim.account_api_token not in logs


def test_without_billing_the_gate_redirects_and_the_plans_page_says_so(
    make_app: Callable[..., Flask], sim: SimulatorState, caplog: pytest.LogCaptureFixture
) -> None:
    """A deployment without billing settings (or a gate naming a plan nobody declared) never
    answers a 500: the gate sends the store to `otherwise` and logs why; buying is a 404."""
    client = make_app(example_pages=True).test_client()
    assert install(client, sim).status_code == 302
    gated = client.get("/reports")
    assert (gated.status_code, gated.headers["Location"]) == (302, "/plans")
    assert "billing is off or no such plan is declared" in caplog.text
    page = client.get("/plans")
    assert page.status_code == 200 and b"Unified Billing is off" in page.data
    bought = client.post("/plans/pro", headers={"X-CSRF-Token": csrf_of(client)})
    assert bought.status_code == 404
    assert sim.account_api_calls == 0


def csrf_of(client: FlaskClient) -> str:
    return csrf(client.get("/settings").get_data(as_text=True))
