"""Unified Billing on the simulated control panel, over real HTTP: the merchant's checkout
page (approve, decline, same-origin forms, expiry), the app's control-panel URL the checkout
returns to, and the panel's billing section and knobs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from bcapp.clock import ManualClock
from bcapp.simulator import ServedApp, SimulatorState
from bcapp.simulator.billing_model import DAY
from tests.conftest import APP_URL
from tests.test_simulator_account_api import (
    approve,
    create,
    fetch_subscriptions,
    plan,
    subscribe,
)


def post(bigcommerce: ServedApp, path: str, origin: str | None = None, **form: str) -> Any:
    """A panel form post (from the panel's own page unless `origin` says otherwise)."""
    return requests.post(
        bigcommerce.url + path, data=form, allow_redirects=False, timeout=5,
        headers={"Origin": origin or bigcommerce.url},
    )


def page_of(bigcommerce: ServedApp, checkout: dict[str, Any]) -> requests.Response:
    """The checkout page the app sends the merchant to."""
    return requests.get(checkout["checkoutUrl"], timeout=5)


def test_the_checkout_page_shows_the_plan(bigcommerce: ServedApp, sim: SimulatorState) -> None:
    given = plan(sim)
    given["items"][0]["pricingPlan"] |= {"interval": "ANNUAL", "trialDays": 14}
    shown = page_of(bigcommerce, create(bigcommerce, sim, given))
    assert shown.status_code == 200
    for text in ("Standard", "$29.99 USD per year", "14 days", "Approve and pay", "Decline",
                 sim.stores["abc123"].account_uuid):
        assert text in shown.text


def test_approve_returns_to_the_app_through_its_control_panel_url(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    sim.grant_token("abc123", sim.app_scopes)  # installed: opening the app is a load
    back = f"{bigcommerce.url}/manage/app/{sim.app_id}"
    checkout = create(bigcommerce, sim, plan(sim, redirectUrl=back))
    approved = approve(bigcommerce, checkout)
    assert approved.status_code == 303 and approved.headers["Location"] == back + "?store=abc123"
    assert len(fetch_subscriptions(bigcommerce, sim)) == 1
    opened = requests.get(approved.headers["Location"], timeout=5)
    assert opened.status_code == 200
    assert f'src="{APP_URL}/bigcommerce/load?signed_payload_jwt=' in opened.text
    assert "open app abc123 as user 1 (its control-panel URL)" in sim.events
    again = approve(bigcommerce, checkout)
    assert again.status_code == 400 and "approved already" in again.text
    assert len(sim.subscriptions) == 1
    assert "approved already" in page_of(bigcommerce, checkout).text


def test_a_redirect_elsewhere_is_followed_as_given(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    checkout = create(bigcommerce, sim, plan(sim, redirectUrl="https://app.example/x?a=1"))
    assert approve(bigcommerce, checkout).headers["Location"] == "https://app.example/x?a=1"
    relative = create(bigcommerce, sim, plan(sim, redirectUrl="bigcommerce.com/checkout_success"))
    shown = approve(bigcommerce, relative)
    assert shown.status_code == 200 and "not an absolute http(s) URL" in shown.text


def test_decline_leaves_no_subscription(bigcommerce: ServedApp, sim: SimulatorState) -> None:
    checkout = create(bigcommerce, sim, plan(sim))
    uuid = checkout["id"].rsplit("/", 1)[1]
    declined = post(bigcommerce, f"/manage/merchant-checkout/{uuid}/decline")
    assert declined.status_code == 303
    assert declined.headers["Location"] == "https://app.example/billing/back"
    assert sim.subscriptions == {} and sim.checkouts[uuid].status == "PENDING"
    assert f"checkout {uuid} of abc123 declined by the merchant" in sim.events


@pytest.mark.parametrize("action", ["approve", "decline"])
def test_checkout_forms_come_from_the_panel_only(
    bigcommerce: ServedApp, sim: SimulatorState, action: str
) -> None:
    checkout = create(bigcommerce, sim, plan(sim))
    uuid = checkout["id"].rsplit("/", 1)[1]
    events = list(sim.events)
    refused = post(bigcommerce, f"/manage/merchant-checkout/{uuid}/{action}", "http://evil.example")
    assert refused.status_code == 403 and "its own pages only" in refused.text
    assert sim.subscriptions == {} and sim.checkouts[uuid].status == "PENDING"
    assert sim.events == events


def test_an_expired_checkout_cannot_be_approved(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    checkout = create(bigcommerce, sim, plan(sim))
    clock.advance(DAY + 1)
    shown = page_of(bigcommerce, checkout)
    assert "has expired" in shown.text and "Approve and pay" not in shown.text
    refused = approve(bigcommerce, checkout)
    assert refused.status_code == 400 and "has expired" in refused.text
    assert sim.subscriptions == {}


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/manage/merchant-checkout?checkoutId=nope", 404, "There is no such checkout"),
        ("/manage/merchant-checkout", 404, "There is no such checkout"),
        ("/manage/app/999?store=abc123", 404, "There is no app 999"),
        ("/manage/app/1234?store=nostore", 404, "Open the app from the control panel"),
    ],
)
def test_unknown_pages_are_friendly(
    bigcommerce: ServedApp, sim: SimulatorState, path: str, status: int, text: str
) -> None:
    answer = requests.get(bigcommerce.url + path, timeout=5)
    assert answer.status_code == status and text in answer.text
    assert 'data-testid="error-title"' in answer.text


def test_approving_an_unknown_checkout_is_a_404(bigcommerce: ServedApp) -> None:
    for action in ("approve", "decline"):
        answer = post(bigcommerce, f"/manage/merchant-checkout/nope/{action}")
        assert answer.status_code == 404 and "no such checkout" in answer.text


def test_the_panel_lists_billing_and_sets_its_knobs(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    subscription = subscribe(bigcommerce, sim)
    pending = create(bigcommerce, sim, plan(sim, price="5"))
    home = requests.get(bigcommerce.url + "/", timeout=5).text
    assert sim.stores["abc123"].account_uuid in home and sim.account_uuid in home
    assert 'data-subscription-status="ACTIVE"' in home
    assert urlsplit(pending["checkoutUrl"]).query in home
    assert sim.account_api_token not in home
    saved = post(bigcommerce, "/billing/settings", hourly_limit="5")
    assert saved.status_code == 302
    assert (sim.app_published, sim.account_api_hourly_limit) == (False, 5)
    refused = post(bigcommerce, "/billing/settings", hourly_limit="-1", published="on")
    assert refused.status_code == 400
    assert (sim.app_published, sim.account_api_hourly_limit) == (False, 5)
    assert subscription["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("path", "form", "status"),
    [
        ("/billing/advance", {"days": "0"}, 400),
        ("/billing/advance", {"days": "soon"}, 400),
        ("/stores/nostore/billing/fail-next-payment", {}, 404),
    ],
)
def test_billing_buttons_refuse_bad_input(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock, path: str,
    form: dict[str, str], status: int,
) -> None:
    before = subscribe(bigcommerce, sim)
    assert post(bigcommerce, path, **form).status_code == status
    assert fetch_subscriptions(bigcommerce, sim) == [before]
    assert not sim.stores["abc123"].next_payment_fails


def test_no_account_token_in_the_panel_events(bigcommerce: ServedApp, sim: SimulatorState) -> None:
    subscribe(bigcommerce, sim)
    assert sim.events and not any(sim.account_api_token in event for event in sim.events)
