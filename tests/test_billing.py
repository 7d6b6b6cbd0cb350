"""Unified Billing (issue 28) against the simulator's Account API over HTTP: checkouts for the
merchant's account, the confirmation on return, one trial per store, cancels, suspensions and
the ends of paid periods, each change announced once to `@billing.on_change` receivers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bcapp import billing
from bcapp.billing.config import BillingSettings
from bcapp.billing.model import Subscription
from bcapp.billing.service import BillingRefused
from bcapp.clock import ManualClock
from bcapp.errors import ConfigurationError
from bcapp.service.wiring import Bcapp
from bcapp.simulator import ServedApp, SimulatorState
from bcapp.simulator import billing as sim_billing
from tests.service.test_lifecycle import DEFAULT_SCOPE, install
from tests.workers import running_worker, wait_until

DAY = 86400
Heard = list[tuple[str, str, str | None, str, str]]


@pytest.fixture
def paid(make_service: Callable[..., Bcapp], sim: SimulatorState, clock: ManualClock) -> Bcapp:
    """bcapp with Unified Billing on, against the simulator's Account API, the store installed."""
    config = BillingSettings(sim.account_uuid, sim.account_api_token, sim.app_id)
    service = make_service(billing=config)
    install(service, sim, scope=f"{DEFAULT_SCOPE} store_v2_information")
    return service


@pytest.fixture
def heard() -> Heard:
    """What the `on_change` receiver heard: (store, change, old status, new status, level)."""
    found: Heard = []

    @billing.on_change
    def subscription_changed(
        store_hash: str, change: str, old: Subscription | None, new: Subscription
    ) -> None:
        found.append((store_hash, change, old.status if old else None, new.status, new.level))

    return found


@pytest.fixture(autouse=True)
def declared_plans() -> None:
    billing.plan("free", level="Free", price="0", interval="MONTH")
    billing.plan("pro", level="Pro", price="29.99", interval="MONTH", trial_days=14)


def approve(bigcommerce: ServedApp, checkout_url: str, decision: str = "approve") -> str:
    """The merchant's choice on the checkout page; where the control panel sends them next."""
    checkout_id = parse_qs(urlsplit(checkout_url).query)["checkoutId"][0]
    answer = requests.post(
        f"{bigcommerce.url}/manage/merchant-checkout/{checkout_id}/{decision}",
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["Location"]


def test_a_checkout_names_the_merchants_account_and_is_confirmed_on_return(
    paid: Bcapp, sim: SimulatorState, bigcommerce: ServedApp, heard: Heard
) -> None:
    """Acceptance 4: `bc/account/account/<v2/store account_uuid>`, never the install's
    (partner's) uuid; the return is a fresh load through the control panel; one query
    confirms it; the receiver runs once."""
    service = paid.billing
    assert service is not None
    url = service.checkout_url("abc123", "pro")
    [checkout] = sim.checkouts.values()
    merchant = sim.stores["abc123"].account_uuid
    assert checkout.account_uuid == merchant != sim.account_uuid
    assert checkout.trial_days == 14, "a store that never subscribed is offered the trial"
    assert url.startswith(f"{bigcommerce.url}/manage/merchant-checkout?checkoutId=")
    back = approve(bigcommerce, url)
    assert back == f"{bigcommerce.url}/manage/app/{sim.app_id}?store=abc123"
    calls = sim.account_api_calls
    status = service.status("abc123")
    assert status.subscription is not None and not status.confirming
    assert (status.subscription.status, status.subscription.level) == ("ACTIVE", "Pro")
    assert sim.account_api_calls == calls + 1, "one query confirms the checkout"
    service.status("abc123")
    assert sim.account_api_calls == calls + 1, "later views ask BigCommerce nothing"
    with running_worker(paid):
        wait_until(lambda: heard, what="the receiver")
    assert heard == [("abc123", "created", None, "ACTIVE", "Pro")]
    assert paid.billing is not None and paid.billing.sweep().changed == 0, "announced once"


def test_the_installs_follow_up_task_records_the_merchants_account(
    paid: Bcapp, sim: SimulatorState
) -> None:
    service = paid.billing
    assert service is not None and service.records.get("abc123").merchant_account is None
    merchant = sim.stores["abc123"].account_uuid
    with running_worker(paid):  # the install queued the store's sync
        wait_until(lambda: service.records.get("abc123").merchant_account == merchant,
                   what="the merchant account, from v2/store")
    assert sim.account_api_calls == 0, "the store API, not the Account API's budget"


def test_a_second_trial_is_never_offered(
    paid: Bcapp, sim: SimulatorState, bigcommerce: ServedApp, clock: ManualClock
) -> None:
    service = paid.billing
    assert service is not None
    approve(bigcommerce, service.checkout_url("abc123", "pro"))
    service.status("abc123")
    cancelled = service.cancel("abc123")
    assert cancelled.status == "CANCELLED"
    assert cancelled.current_period_end <= clock.now(), "cancelled in its trial: ended at once"
    clock.advance(60)
    service.checkout_url("abc123", "pro")
    newest = max(sim.checkouts.values(), key=lambda checkout: checkout.created_at)
    assert newest.trial_days == 0


def test_cancel_keeps_access_to_the_periods_end_then_ends_it_once(
    paid: Bcapp, sim: SimulatorState, clock: ManualClock, heard: Heard
) -> None:
    """Acceptance 3 (cancel): access stays until currentPeriodEnd; then the receiver hears
    "ended", once, however many sweeps run."""
    service = paid.billing
    assert service is not None
    billing.plan("basic", level="Basic", price="9.00", interval="MONTH")
    bought = sim_billing.create_checkout(sim, checkout_input(sim, "Basic"), clock.now())
    sim_billing.approve(sim, bought.id)
    assert service.sweep().changed == 1
    clock.advance(DAY)
    kept = service.cancel("abc123")
    assert kept.allows(clock.now()) and kept.status == "CANCELLED"
    clock.advance(10 * DAY)
    assert service.sweep().ended == 0
    current = service.status("abc123").subscription
    assert current is not None and current.allows(clock.now()), "paid until the period's end"
    clock.advance(20 * DAY)
    assert service.sweep().ended == 1
    assert service.sweep().ended == 0, "announced once"
    current = service.status("abc123").subscription
    assert current is not None and not current.allows(clock.now())
    with running_worker(paid):
        wait_until(lambda: len(heard) == 3, what="created, cancelled, ended")
    assert [change for _, change, *_ in heard] == ["created", "cancelled", "ended"]


def test_a_suspended_subscription_closes_access_at_once(
    paid: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    service = paid.billing
    assert service is not None
    bought = sim_billing.create_checkout(sim, checkout_input(sim, "Pro"), clock.now())
    sim_billing.approve(sim, bought.id)
    service.sweep()
    sim.stores["abc123"].next_payment_fails = True
    clock.advance(31 * DAY)
    sim_billing.settle(sim)
    report = service.sweep()
    assert report.changed == 1
    current = service.status("abc123").subscription
    assert current is not None and current.status == "SUSPENDED"
    assert not current.allows(clock.now())


def test_cancel_or_a_same_plan_checkout_is_refused_clearly(
    paid: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    service = paid.billing
    assert service is not None
    with pytest.raises(BillingRefused) as refused:
        service.cancel("abc123")
    assert refused.value.detail == "The store has no active plan."
    assert sim.account_api_calls == 0, "nothing was sent"
    bought = sim_billing.create_checkout(sim, checkout_input(sim, "Pro"), clock.now())
    sim_billing.approve(sim, bought.id)
    service.sweep()
    calls = sim.account_api_calls
    with pytest.raises(BillingRefused) as same:
        service.checkout_url("abc123", "pro")
    assert (same.value.status, same.value.detail) == (409, "The store is on the Pro plan.")
    assert sim.account_api_calls == calls and len(sim.checkouts) == 1, "nothing was sent"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"price": "29.999"}, "at most two decimal places"),
        ({"price": "-1"}, "price is from 0"),
        ({"price": "EUR 10"}, "no amount of USD"),
        ({"interval": "WEEK"}, "interval must be one of ONCE, MONTH"),
        ({"trial_days": 400}, "trial_days is a whole number"),
        ({"interval": "ONCE", "trial_days": 7}, "a one-time purchase has no trial"),
        ({"level": "Pro"}, "plan 'pro' has the level 'Pro'"),
    ],
)
def test_a_wrong_plan_is_refused_when_declared(arguments: dict[str, Any], message: str) -> None:
    given: dict[str, Any] = {"level": "Gold", "price": "10", "interval": "MONTH"} | arguments
    with pytest.raises(ConfigurationError, match=message):
        billing.plan("gold", **given)
    assert [plan.name for plan in billing.declared_plans()] == ["free", "pro"], "none kept"


def checkout_input(sim: SimulatorState, level: str, store: str = "abc123") -> dict[str, Any]:
    """A checkout as bcapp sends it, made in process (the Account API allows 70 calls/h)."""
    item = {
        "product": {"id": f"bc/account/product/{sim.app_id}", "type": "APPLICATION",
                    "productLevel": level},
        "scope": {"id": f"bc/account/scope/{store}", "type": "STORE"},
        "pricingPlan": {"interval": "MONTH", "price": {"value": "9.00", "currencyCode": "USD"},
                        "trialDays": 0},
        "redirectUrl": "https://app.example/back",
        "description": level,
    }
    return {"accountId": f"bc/account/account/{sim.stores[store].account_uuid}", "items": [item]}


def test_the_paid_settings_hide_the_token(sim: SimulatorState) -> None:
    config = BillingSettings(sim.account_uuid, sim.account_api_token, sim.app_id)
    assert sim.account_api_token not in repr(config)
    assert sim.account_api_token not in repr(replace(config, hourly_budget=10))
