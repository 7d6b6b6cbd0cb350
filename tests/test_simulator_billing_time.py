"""Unified Billing's clock in the simulator: renewals, failed payments, trials and cancellation
on the tests' manual clock; `advance_billing` (panel and control API) for `make run`'s real
clock; checkouts and subscriptions kept across restarts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from bcapp.clock import ManualClock
from bcapp.simulator import ServedApp, SimulatorState, persistence
from bcapp.simulator.account_schema import iso
from bcapp.simulator.billing import advance_billing
from bcapp.simulator.billing_model import DAY
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.test_simulator_account_api import (
    CANCEL,
    CHECKOUT,
    approve,
    call,
    create,
    fetch_subscriptions,
    plan,
    refusal,
    subscribe,
)

GONE = "Could not find active subscription."


def with_trial(sim: SimulatorState, days: int, interval: str = "MONTH") -> dict[str, Any]:
    """`CreateCheckoutInput` of a plan with a trial."""
    given = plan(sim)
    given["items"][0]["pricingPlan"] |= {"trialDays": days, "interval": interval}
    return given


def only(bigcommerce: ServedApp, sim: SimulatorState) -> dict[str, Any]:
    """The one subscription, as the Account API reports it now."""
    (subscription,) = fetch_subscriptions(bigcommerce, sim)
    return subscription


def test_a_due_subscription_renews_at_its_period_end(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    start = clock.now()
    first = subscribe(bigcommerce, sim)
    clock.advance(30 * DAY)
    assert only(bigcommerce, sim) == first | {
        "currentPeriodEnd": iso(start + 60 * DAY), "updatedAt": iso(start + 30 * DAY),
    }
    clock.advance(65 * DAY)  # two more periods came due, at +60 and +90 days
    assert only(bigcommerce, sim) == first | {
        "currentPeriodEnd": iso(start + 120 * DAY), "updatedAt": iso(start + 90 * DAY),
    }


def test_a_failed_payment_suspends_at_the_period_end(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    start = clock.now()
    first = subscribe(bigcommerce, sim)
    button = requests.post(
        f"{bigcommerce.url}/stores/abc123/billing/fail-next-payment",
        headers={"Origin": bigcommerce.url}, allow_redirects=False, timeout=5,
    )
    assert button.status_code == 302 and sim.stores["abc123"].next_payment_fails
    clock.advance(31 * DAY)
    suspended = first | {"status": "SUSPENDED", "updatedAt": iso(start + 30 * DAY)}
    assert only(bigcommerce, sim) == suspended
    assert not sim.stores["abc123"].next_payment_fails  # that one payment failed
    clock.advance(90 * DAY)
    assert only(bigcommerce, sim) == suspended  # no renewal, no cancel
    assert refusal(bigcommerce, sim, CANCEL, subscription={"id": first["id"]}) == GONE


def test_a_trial_ends_in_the_first_payment(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    start = clock.now()
    assert approve(bigcommerce, create(bigcommerce, sim, with_trial(sim, 14))).status_code == 303
    trial = only(bigcommerce, sim)
    assert trial["activationDate"] == trial["currentPeriodEnd"] == iso(start + 14 * DAY)
    assert trial["createdAt"] == iso(start)
    clock.advance(14 * DAY)
    assert only(bigcommerce, sim) == trial | {
        "currentPeriodEnd": iso(start + 44 * DAY), "updatedAt": iso(start + 14 * DAY),
    }


def test_a_one_time_purchase_never_renews(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    once = plan(sim)
    once["items"][0]["pricingPlan"]["interval"] = "ONCE"
    assert approve(bigcommerce, create(bigcommerce, sim, once)).status_code == 303
    bought = only(bigcommerce, sim)
    assert bought["billingInterval"] == "ONCE"
    clock.advance(400 * DAY)
    assert only(bigcommerce, sim) == bought


def test_cancel_after_the_trial_runs_to_the_period_end(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    current = subscribe(bigcommerce, sim)
    clock.advance(DAY)
    answer = call(bigcommerce, sim, CANCEL, subscription={"id": current["id"]}).json()
    assert answer == {"data": {"subscription": {"cancelSubscription": {
        "subscriptionId": current["id"], "cancelledAt": current["currentPeriodEnd"]}}}}
    cancelled = current | {"status": "CANCELLED", "updatedAt": iso(clock.now())}
    assert only(bigcommerce, sim) == cancelled
    assert refusal(bigcommerce, sim, CANCEL, subscription={"id": current["id"]}) == GONE
    unknown = refusal(bigcommerce, sim, CANCEL, subscription={"id": "bc/account/subscription/x"})
    assert unknown == GONE
    clock.advance(60 * DAY)  # past its period end: it stays as it was, never renewed
    assert only(bigcommerce, sim) == cancelled


def test_cancel_in_a_trial_ends_it_at_once(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    assert approve(bigcommerce, create(bigcommerce, sim, with_trial(sim, 14))).status_code == 303
    current = only(bigcommerce, sim)
    clock.advance(2 * DAY)
    answer = call(bigcommerce, sim, CANCEL, subscription={"id": current["id"]}).json()
    now = iso(clock.now())
    assert answer["data"]["subscription"]["cancelSubscription"]["cancelledAt"] == now
    assert only(bigcommerce, sim) == current | {
        "status": "CANCELLED", "currentPeriodEnd": now, "updatedAt": now,
    }


def test_an_approved_checkout_can_stay_processing_a_while(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    sim.checkout_processing_seconds = 60
    checkout = create(bigcommerce, sim, plan(sim))
    approved = clock.now()
    assert approve(bigcommerce, checkout).status_code == 303

    def status() -> str:
        answer = call(bigcommerce, sim, CHECKOUT, id=checkout["id"]).json()
        return str(answer["data"]["account"]["checkout"]["status"])

    assert status() == "PROCESSING" and fetch_subscriptions(bigcommerce, sim) == []
    clock.advance(60)
    assert status() == "COMPLETE"
    assert only(bigcommerce, sim)["createdAt"] == iso(approved + 60)


def test_advance_billing_lets_time_pass_and_marks_every_subscription_updated(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    start = clock.now()
    first = subscribe(bigcommerce, sim)
    clock.advance(1)  # the app's last sync was before this advance
    since = iso(clock.now() - 1)
    happened = advance_billing(sim, 30 * DAY)
    assert happened == [f"subscription {first['id'].rsplit('/', 1)[1]} renewed for 29.99"]
    renewed = first | {
        "createdAt": iso(start - 30 * DAY), "activationDate": iso(start - 30 * DAY),
        "currentPeriodEnd": iso(start + 30 * DAY), "updatedAt": iso(clock.now()),
    }
    assert fetch_subscriptions(bigcommerce, sim, filters={"updatedAfter": since}) == [renewed]
    sim.stores["abc123"].next_payment_fails = True
    panel = requests.post(
        f"{bigcommerce.url}/billing/advance", data={"days": "30"},
        headers={"Origin": bigcommerce.url}, allow_redirects=False, timeout=5,
    )
    assert panel.status_code == 302
    assert only(bigcommerce, sim)["status"] == "SUSPENDED"
    assert "billing time advanced by 30 days" in sim.events


def test_the_control_api_advances_billing_time(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    start = clock.now()
    subscribe(bigcommerce, sim)
    url = f"{bigcommerce.url}/control/billing/advance"
    answer = requests.post(url, json={"seconds": 30 * DAY}, timeout=5)
    assert answer.status_code == 200 and answer.json()["advanced_seconds"] == 30 * DAY
    assert only(bigcommerce, sim)["currentPeriodEnd"] == iso(start + 30 * DAY)


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ({"json": {"seconds": 0}}, 400),
        ({"json": {"seconds": 10**12}}, 400),
        ({"json": {"seconds": "30"}}, 400),
        ({"data": {"seconds": "60"}}, 415),
        ({"json": {"seconds": 60}, "headers": {"Origin": "http://evil.example"}}, 403),
    ],
)
def test_the_control_api_refuses_bad_advances(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock, how: dict[str, Any],
    status: int,
) -> None:
    first = subscribe(bigcommerce, sim)
    answer = requests.post(f"{bigcommerce.url}/control/billing/advance", timeout=5, **how)
    assert answer.status_code == status and answer.json()["error"]
    assert only(bigcommerce, sim) == first


def test_checkouts_and_subscriptions_survive_a_restart(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock, tmp_path: Path
) -> None:
    subscribe(bigcommerce, sim)
    create(bigcommerce, sim, plan(sim, price="5"))
    sim.stores["abc123"].next_payment_fails = True
    kept = tmp_path / "simulator.json"
    persistence.save(sim, kept)
    again = SimulatorState(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert persistence.load(again, kept)
    assert again.checkouts == sim.checkouts and again.subscriptions == sim.subscriptions
    assert again.stores["abc123"].account_uuid == sim.stores["abc123"].account_uuid
    assert again.stores["abc123"].next_payment_fails
    assert again.subscription_counter == 1
    assert persistence.snapshot(again) == persistence.snapshot(sim)


def test_a_world_kept_before_billing_loads_with_new_merchant_accounts(tmp_path: Path) -> None:
    kept = tmp_path / "simulator.json"
    old = SimulatorState(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    old.add_store("abc123")
    world = json.loads(persistence.snapshot(old))
    del world["checkouts"], world["subscriptions"], world["stores"][0]["account_uuid"]
    kept.write_text(json.dumps(world))
    again = SimulatorState(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert persistence.load(again, kept)
    merchant = again.stores["abc123"].account_uuid
    assert len(merchant) == 36 and merchant != old.stores["abc123"].account_uuid
    assert again.subscriptions == {} and again.checkouts == {}
