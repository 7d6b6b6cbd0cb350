"""Unified Billing in the simulated BigCommerce: checkouts, subscriptions and their clock.

The rules, from BigCommerce's Unified Billing docs (docs/simulator.md, "Unified Billing"): a
checkout is created PENDING and completed by the merchant on the control panel's checkout page;
completing a new one creates an ACTIVE subscription, completing a plan change rewrites the
subscription's price, level and interval. Everything is judged on `SimulatorState.clock`: an
ACTIVE subscription past `current_period_end` renews for another period (or becomes SUSPENDED
when its store's next payment was set to fail); cancelling in a trial ends it at once,
otherwise it is CANCELLED with access until the period's end. Unpublished apps may only create
$0 checkouts (`SimulatorState.app_published`).

Period lengths are fixed day counts (`PERIODS`), the simulator's own simplification: a month is
30 days, so advancing billing time by 30 days renews a monthly plan exactly once.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from bcapp.simulator.billing_model import (
    ACCOUNT,
    BAD_PRICE,
    BAD_TRIAL,
    CHECKOUT_VALID_SECONDS,
    DAY,
    NO_ACTIVE_SUBSCRIPTION,
    NO_CHANGE_IN_TRIAL,
    NO_PRODUCT_CHANGE,
    NO_SCOPE_CHANGE,
    NO_TRIAL_ON_CHANGE,
    ONE_ITEM,
    PERIODS,
    PRODUCT,
    PRODUCT_NOT_SUPPORTED,
    SCOPE,
    SCOPE_NOT_OF_ACCOUNT,
    SUBSCRIPTION,
    UNPUBLISHED_PAID,
    USD_ONLY,
    BillingError,
    SimCheckout,
    SimSubscription,
    local_id,
)

if TYPE_CHECKING:
    from bcapp.simulator.state import SimulatorState


def create_checkout(sim: SimulatorState, given: dict[str, Any], now: float) -> SimCheckout:
    """A new PENDING checkout from `CreateCheckoutInput`; BillingError when refused."""
    items = given["items"]
    if len(items) != 1:
        raise BillingError(ONE_ITEM)
    item = items[0]
    account = local_id(given["accountId"], ACCOUNT) or ""
    plan = item["pricingPlan"]
    price = _price(plan["price"])
    trial = plan.get("trialDays") or 0
    if trial < 0:
        raise BillingError(BAD_TRIAL)
    product, scope = item.get("product") or {}, item.get("scope") or {}
    level: str | None = None
    subscription_id: str | None = None
    with sim.lock:
        if item.get("subscriptionId") is not None:
            changed = item["subscriptionId"]
            base = _plan_change_base(sim, account, changed, product, scope, trial, now)
            product_id, store_hash, level = base.product_id, base.store_hash, base.product_level
            subscription_id = base.id
        else:
            product_id, store_hash = _own_product(sim, product), _store_of(sim, account, scope)
        if product.get("productLevel") is not None:
            level = product["productLevel"]
        if not sim.app_published and Decimal(price) > 0:
            raise BillingError(UNPUBLISHED_PAID)
        checkout = SimCheckout(
            id=str(uuid.uuid4()), account_uuid=account, store_hash=store_hash,
            product_id=product_id, product_level=level, price=price, interval=plan["interval"],
            trial_days=trial, redirect_url=item["redirectUrl"], description=item["description"],
            created_at=now, subscription_id=subscription_id,
            changes_plan=subscription_id is not None,
        )
        sim.checkouts[checkout.id] = checkout
    return checkout


def _price(money: dict[str, Any]) -> str:
    if money["currencyCode"] != "USD":
        raise BillingError(USD_ONLY)
    try:
        value = Decimal(str(money["value"]))
    except InvalidOperation:
        raise BillingError(BAD_PRICE) from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise BillingError(BAD_PRICE)
    return str(value.quantize(Decimal("0.01")))


def _own_product(sim: SimulatorState, product: dict[str, Any]) -> int:
    if local_id(product.get("id"), PRODUCT) != str(sim.app_id) or product.get("type") not in (
        None, "APPLICATION"
    ):
        raise BillingError(PRODUCT_NOT_SUPPORTED)
    return sim.app_id


def _store_of(sim: SimulatorState, account: str, scope: dict[str, Any]) -> str:
    store = sim.stores.get(local_id(scope.get("id"), SCOPE) or "")
    if store is None or scope.get("type") != "STORE" or store.account_uuid != account:
        raise BillingError(SCOPE_NOT_OF_ACCOUNT)
    return store.hash


def _plan_change_base(
    sim: SimulatorState,
    account: str,
    subscription_id: str,
    product: dict[str, Any],
    scope: dict[str, Any],
    trial: int,
    now: float,
) -> SimSubscription:
    found = sim.subscriptions.get(local_id(subscription_id, SUBSCRIPTION) or "")
    if found is None or found.status != "ACTIVE":
        raise BillingError(NO_ACTIVE_SUBSCRIPTION)
    if found.account_uuid != account:
        raise BillingError(SCOPE_NOT_OF_ACCOUNT)
    if product.get("id") is not None and product["id"] != PRODUCT + str(found.product_id):
        raise BillingError(NO_PRODUCT_CHANGE)
    if scope.get("id") is not None and scope["id"] != SCOPE + found.store_hash:
        raise BillingError(NO_SCOPE_CHANGE)
    if trial > 0:
        raise BillingError(NO_TRIAL_ON_CHANGE)
    if now < found.activation_date:
        raise BillingError(NO_CHANGE_IN_TRIAL)
    return found


def approve(sim: SimulatorState, checkout_id: str) -> SimCheckout:
    """The merchant approves the checkout: it is PROCESSING, then COMPLETE once
    `SimulatorState.checkout_processing_seconds` passed (at once by default)."""
    now = sim.clock()
    with sim.lock:
        checkout = open_checkout(sim, checkout_id, now)
        if checkout.changes_plan:
            current = sim.subscriptions.get(checkout.subscription_id or "")
            if current is None or current.status != "ACTIVE":
                raise BillingError(NO_ACTIVE_SUBSCRIPTION)
        checkout.status, checkout.approved_at = "PROCESSING", now
    sim.record(f"checkout {checkout.id} of {checkout.store_hash} approved by the merchant")
    settle(sim)
    return checkout


def open_checkout(sim: SimulatorState, checkout_id: str, now: float) -> SimCheckout:
    """The PENDING, unexpired checkout of that uuid (call with the lock held)."""
    checkout = sim.checkouts.get(checkout_id)
    if checkout is None:
        raise BillingError("There is no such checkout in this simulator.")
    if checkout.status != "PENDING":
        raise BillingError("This checkout was approved already.")
    if now > checkout.created_at + CHECKOUT_VALID_SECONDS:
        raise BillingError("This checkout link has expired: links are valid for 24 hours.")
    return checkout


def settle(sim: SimulatorState) -> list[str]:
    """Apply what came due by now: approved checkouts complete, periods renew or suspend.
    Returns what happened, as the panel's event log words it (recorded there too)."""
    now = sim.clock()
    happened: list[str] = []
    with sim.lock:
        for checkout in sim.checkouts.values():
            done = (checkout.approved_at or 0.0) + sim.checkout_processing_seconds
            if checkout.status == "PROCESSING" and done <= now:
                happened.append(_complete(sim, checkout, done))
        for subscription in sim.subscriptions.values():
            happened += _come_due(sim, subscription, now)
    for event in happened:
        sim.record(event)
    return happened


def _complete(sim: SimulatorState, checkout: SimCheckout, at: float) -> str:
    checkout.status = "COMPLETE"
    if checkout.changes_plan:
        changed = sim.subscriptions[checkout.subscription_id or ""]
        if changed.status == "ACTIVE":
            changed.price, changed.interval = checkout.price, checkout.interval
            changed.product_level = checkout.product_level or ""
            changed.updated_at = at
        return f"plan of subscription {changed.id} ({checkout.store_hash}) changed"
    trial = checkout.trial_days * DAY
    sim.subscription_counter += 1
    subscription = SimSubscription(
        id=str(uuid.uuid4()), seq=sim.subscription_counter, account_uuid=checkout.account_uuid,
        store_hash=checkout.store_hash, product_id=checkout.product_id,
        product_level=checkout.product_level or "", price=checkout.price,
        interval=checkout.interval, created_at=at, updated_at=at, activation_date=at + trial,
        current_period_end=at + (trial or PERIODS[checkout.interval]),
    )
    sim.subscriptions[subscription.id] = subscription
    checkout.subscription_id = subscription.id
    return f"subscription {subscription.id} ({checkout.store_hash}) created ACTIVE"


def _come_due(sim: SimulatorState, subscription: SimSubscription, now: float) -> list[str]:
    happened = []
    while (
        subscription.status == "ACTIVE"
        and subscription.interval != "ONCE"  # a one-time purchase never renews
        and subscription.current_period_end <= now
    ):
        due = subscription.current_period_end
        store = sim.stores.get(subscription.store_hash)
        subscription.updated_at = due
        if store is not None and store.next_payment_fails:
            store.next_payment_fails = False  # that one payment failed
            subscription.status = "SUSPENDED"
            happened.append(f"subscription {subscription.id} suspended: the payment failed")
        else:
            subscription.current_period_end = due + PERIODS[subscription.interval]
            happened.append(f"subscription {subscription.id} renewed for {subscription.price}")
    return happened


def cancel(sim: SimulatorState, global_id: str) -> SimSubscription:
    """The app cancels: in a trial at once, otherwise at the end of the paid period."""
    now = sim.clock()
    with sim.lock:
        found = sim.subscriptions.get(local_id(global_id, SUBSCRIPTION) or "")
        if found is None or found.status != "ACTIVE":
            raise BillingError(NO_ACTIVE_SUBSCRIPTION)
        if now < found.activation_date:  # in its trial: no invoice was ever made
            found.current_period_end = now
        found.status, found.cancelled_at = "CANCELLED", found.current_period_end
        found.updated_at = now
    sim.record(f"subscription {found.id} ({found.store_hash}) cancelled by the app")
    return found


def advance_billing(sim: SimulatorState, seconds: float) -> list[str]:
    """Let `seconds` of billing time pass at once (for `make run`, whose clock is real): every
    subscription's and checkout's times move back by `seconds`, then what came due is applied.

    Every subscription is then marked updated now: all their dates changed, and an app that
    syncs with `updatedAfter` (its last sync time, which did not move back) must see them.
    """
    if seconds <= 0:
        raise ValueError("advance billing time by a positive number of seconds")
    settle(sim)
    with sim.lock:
        for subscription in sim.subscriptions.values():
            subscription.created_at -= seconds
            subscription.activation_date -= seconds
            subscription.current_period_end -= seconds
            subscription.updated_at -= seconds
            if subscription.cancelled_at is not None:
                subscription.cancelled_at -= seconds
        for checkout in sim.checkouts.values():
            checkout.created_at -= seconds
            if checkout.approved_at is not None:
                checkout.approved_at -= seconds
    happened = settle(sim)
    now = sim.clock()
    with sim.lock:
        for subscription in sim.subscriptions.values():
            subscription.updated_at = now
    sim.record(f"billing time advanced by {seconds / DAY:g} days")
    return happened
