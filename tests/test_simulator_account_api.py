"""The simulator's GraphQL Account API for Unified Billing, over real HTTP: checkouts, plan
changes and every refusal (tests/test_simulator_account_paging.py pages, filters and limits;
tests/test_simulator_billing_time.py runs the clock)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from bcapp.clock import ManualClock
from bcapp.simulator import ServedApp, SimulatorState, billing_model
from bcapp.simulator.account_schema import iso
from bcapp.simulator.billing_model import DAY

ITEM = """subscriptionId status product { id type productLevel } scope { id type }
  pricingPlan { interval price { value currencyCode } trialDays } redirectUrl description"""
CREATE = """mutation ($checkout: CreateCheckoutInput!) { checkout {
  createCheckout(input: $checkout) { checkout { id accountId status checkoutUrl
    items(first: 1) { edges { node { %s } } } } } } }
""" % ITEM  # noqa: UP031 - GraphQL's braces
CHECKOUT = """query ($id: ID!) { account { checkout(id: $id) { id accountId checkoutUrl status
  items { edges { node { %s } } } } } }""" % ITEM  # noqa: UP031
SUBSCRIPTIONS = """query ($first: Int, $after: String, $filters: SubscriptionFiltersInput) {
  account { subscriptions(first: $first, after: $after, filters: $filters) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id accountId activationDate billingInterval currentPeriodEnd status
      createdAt updatedAt pricePerInterval { value currencyCode } product { id type productLevel }
      scope { id type } } } } } }"""
CANCEL = """mutation ($subscription: CancelSubscriptionInput!) { subscription {
  cancelSubscription(input: $subscription) { subscriptionId cancelledAt } } }"""


def call(
    bigcommerce: ServedApp,
    sim: SimulatorState,
    query: str,
    token: str | None = None,
    partner: str | None = None,
    **variables: Any,
) -> requests.Response:
    """One Account API request, as the partner's app sends it."""
    return requests.post(
        f"{bigcommerce.url}/accounts/{partner or sim.account_uuid}/graphql",
        json={"query": query, "variables": variables},
        headers={"X-Auth-Token": sim.account_api_token if token is None else token},
        timeout=5,
    )


def plan(
    sim: SimulatorState, store: str = "abc123", price: Any = "29.99", **changes: Any
) -> dict[str, Any]:
    """`CreateCheckoutInput` for a new monthly subscription of the app on `store`."""
    item: dict[str, Any] = {
        "product": {"id": f"bc/account/product/{sim.app_id}", "type": "APPLICATION",
                    "productLevel": "Standard"},
        "scope": {"id": f"bc/account/scope/{store}", "type": "STORE"},
        "pricingPlan": {"interval": "MONTH", "price": {"value": price, "currencyCode": "USD"},
                        "trialDays": 0},
        "redirectUrl": "https://app.example/billing/back",
        "description": "App Subscription - Standard",
    }
    account = f"bc/account/account/{sim.stores[store].account_uuid}"
    return {"accountId": changes.pop("accountId", account), "items": [item | changes]}


def create(bigcommerce: ServedApp, sim: SimulatorState, given: dict[str, Any]) -> dict[str, Any]:
    """Create a checkout; its `checkout` object (the test fails on any error)."""
    answer = call(bigcommerce, sim, CREATE, checkout=given).json()
    assert "errors" not in answer, answer
    return dict(answer["data"]["checkout"]["createCheckout"]["checkout"])


def refusal(bigcommerce: ServedApp, sim: SimulatorState, query: str, **variables: Any) -> str:
    """The one error message of a refused request (HTTP 200, as GraphQL answers)."""
    response = call(bigcommerce, sim, query, **variables)
    assert response.status_code == 200
    errors = response.json()["errors"]
    assert len(errors) == 1
    return str(errors[0]["message"])


def approve(bigcommerce: ServedApp, checkout: dict[str, Any]) -> requests.Response:
    """The merchant approves on the checkout page (a form post from the panel's own origin)."""
    uuid = checkout["id"].rsplit("/", 1)[1]
    return requests.post(
        f"{bigcommerce.url}/manage/merchant-checkout/{uuid}/approve",
        headers={"Origin": bigcommerce.url}, allow_redirects=False, timeout=5,
    )


def subscribe(bigcommerce: ServedApp, sim: SimulatorState, **changes: Any) -> dict[str, Any]:
    """A completed checkout of a new subscription; the checkout as fetched afterwards."""
    assert approve(bigcommerce, create(bigcommerce, sim, plan(sim, **changes))).status_code == 303
    return fetch_subscriptions(bigcommerce, sim)[0]


def fetch_subscriptions(
    bigcommerce: ServedApp, sim: SimulatorState, **variables: Any
) -> list[dict[str, Any]]:
    """The nodes of one page of `account.subscriptions`."""
    answer = call(bigcommerce, sim, SUBSCRIPTIONS, **variables).json()
    assert "errors" not in answer, answer
    return [edge["node"] for edge in answer["data"]["account"]["subscriptions"]["edges"]]


def test_a_new_checkout_is_pending_with_its_checkout_url(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    checkout = create(bigcommerce, sim, plan(sim))
    uuid = checkout["id"].removeprefix("bc/account/checkout/")
    assert checkout["status"] == "PENDING"
    assert checkout["accountId"] == f"bc/account/account/{sim.stores['abc123'].account_uuid}"
    page = f"{bigcommerce.url}/manage/merchant-checkout?checkoutId={uuid}"
    assert checkout["checkoutUrl"] == page
    (edge,) = checkout["items"]["edges"]
    assert edge["node"] == {
        "subscriptionId": None,
        "status": "PENDING",
        "product": {"id": "bc/account/product/1234", "type": "APPLICATION",
                    "productLevel": "Standard"},
        "scope": {"id": "bc/account/scope/abc123", "type": "STORE"},
        "pricingPlan": {"interval": "MONTH", "price": {"value": "29.99", "currencyCode": "USD"},
                        "trialDays": 0},
        "redirectUrl": "https://app.example/billing/back",
        "description": "App Subscription - Standard",
    }
    assert list(sim.checkouts) == [uuid]


def test_a_checkout_completes_when_the_merchant_approves(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    checkout = create(bigcommerce, sim, plan(sim, price=50))
    fetched = call(bigcommerce, sim, CHECKOUT, id=checkout["id"]).json()["data"]["account"]
    assert fetched["checkout"]["status"] == "PENDING"
    price = fetched["checkout"]["items"]["edges"][0]["node"]["pricingPlan"]["price"]
    assert price == {"value": "50.00", "currencyCode": "USD"}
    approved_at = clock.now()
    assert approve(bigcommerce, checkout).status_code == 303
    done = call(bigcommerce, sim, CHECKOUT, id=checkout["id"]).json()["data"]["account"]["checkout"]
    node = done["items"]["edges"][0]["node"]
    assert done["status"] == node["status"] == "COMPLETE"
    (subscription,) = fetch_subscriptions(bigcommerce, sim)
    assert node["subscriptionId"] == subscription["id"]
    assert subscription == {
        "id": subscription["id"],
        "accountId": checkout["accountId"],
        "activationDate": iso(approved_at),
        "billingInterval": "MONTH",
        "currentPeriodEnd": iso(approved_at + 30 * DAY),
        "status": "ACTIVE",
        "createdAt": iso(approved_at),
        "updatedAt": iso(approved_at),
        "pricePerInterval": {"value": "50.00", "currencyCode": "USD"},
        "product": {"id": "bc/account/product/1234", "type": "APPLICATION",
                    "productLevel": "Standard"},
        "scope": {"id": "bc/account/scope/abc123", "type": "STORE"},
    }
    assert subscription["id"].startswith("bc/account/subscription/")


def test_an_unknown_checkout_is_null(bigcommerce: ServedApp, sim: SimulatorState) -> None:
    answer = call(bigcommerce, sim, CHECKOUT, id="bc/account/checkout/nope").json()
    assert answer == {"data": {"account": {"checkout": None}}}


@pytest.mark.parametrize("wrong", ["token", "partner", "missing token"])
def test_a_wrong_token_or_partner_has_no_permission(
    bigcommerce: ServedApp, sim: SimulatorState, wrong: str
) -> None:
    response = call(
        bigcommerce, sim, CREATE,
        token={"token": "simacct_someone_else", "missing token": ""}.get(wrong),
        partner="0b2d26c8-e4e2-4635-9c99-8bf3cfd93153" if wrong == "partner" else None,
        checkout=plan(sim),
    )
    assert response.status_code == 200
    no = "You do not have permission to do this operation."
    assert response.json() == {"data": None, "errors": [{"message": no}]}
    assert sim.checkouts == {}


def _other_store(sim: SimulatorState) -> dict[str, Any]:
    sim.add_store("other1")
    return plan(sim, scope={"id": "bc/account/scope/other1", "type": "STORE"})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (lambda sim: plan(sim, product={"id": "bc/account/product/999", "type": "APPLICATION"}),
         "Product is not supported for your account."),
        (lambda sim: plan(sim, product={"productLevel": "Standard"}),
         "Product is not supported for your account."),
        (_other_store, "Scope does not belong to account."),
        (lambda sim: plan(sim, scope={"id": "bc/account/scope/nostore", "type": "STORE"}),
         "Scope does not belong to account."),
        (lambda sim: plan(sim, accountId="bc/account/account/unknown"),
         "Scope does not belong to account."),
        (lambda sim: plan(sim, pricingPlan={"interval": "MONTH",
                                            "price": {"value": 5, "currencyCode": "EUR"}}),
         billing_model.USD_ONLY),
        (lambda sim: plan(sim, price="-1"), billing_model.BAD_PRICE),
        (lambda sim: plan(sim, price="1.005"), billing_model.BAD_PRICE),
        (lambda sim: plan(sim, pricingPlan={"interval": "MONTH", "trialDays": -1,
                                            "price": {"value": 5, "currencyCode": "USD"}}),
         billing_model.BAD_TRIAL),
        (lambda sim: {**plan(sim), "items": plan(sim)["items"] * 2}, billing_model.ONE_ITEM),
    ],
)
def test_create_checkout_refusals(
    bigcommerce: ServedApp, sim: SimulatorState, given: Any, message: str
) -> None:
    assert refusal(bigcommerce, sim, CREATE, checkout=given(sim)) == message
    assert sim.checkouts == {} and sim.subscriptions == {}


def test_an_unpublished_app_creates_only_free_checkouts(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    sim.app_published = False
    assert refusal(bigcommerce, sim, CREATE, checkout=plan(sim)) == billing_model.UNPUBLISHED_PAID
    assert sim.checkouts == {}
    assert create(bigcommerce, sim, plan(sim, price="0"))["status"] == "PENDING"


def test_a_plan_change_rewrites_the_subscription_once_approved(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    before = subscribe(bigcommerce, sim)
    clock.advance(3 * DAY)
    change = {
        "accountId": before["accountId"],
        "items": [{
            "product": {"productLevel": "Premium"},
            "pricingPlan": {"interval": "ANNUAL", "price": {"value": "129.99",
                                                            "currencyCode": "USD"}},
            "redirectUrl": "https://app.example/billing/back",
            "description": "Premium",
            "subscriptionId": before["id"],
        }],
    }
    checkout = create(bigcommerce, sim, change)
    node = checkout["items"]["edges"][0]["node"]
    assert checkout["status"] == "PENDING" and node["subscriptionId"] == before["id"]
    assert node["product"]["productLevel"] == "Premium" and node["scope"] == before["scope"]
    assert fetch_subscriptions(bigcommerce, sim) == [before]  # nothing changes before approval
    assert approve(bigcommerce, checkout).status_code == 303
    (after,) = fetch_subscriptions(bigcommerce, sim)
    assert after == before | {
        "billingInterval": "ANNUAL",
        "pricePerInterval": {"value": "129.99", "currencyCode": "USD"},
        "product": before["product"] | {"productLevel": "Premium"},
        "updatedAt": iso(clock.now()),
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pricingPlan": {"interval": "MONTH", "trialDays": 7,
                          "price": {"value": 1, "currencyCode": "USD"}}},
         "Trial days cannot be added to existing subscriptions."),
        ({"product": {"id": "bc/account/product/999"}},
         "Product updates are not allowed for an existing subscription."),
        ({"scope": {"id": "bc/account/scope/other1", "type": "STORE"}},
         "Scope updates are not allowed for an existing subscription."),
        ({"subscriptionId": "bc/account/subscription/unknown"},
         "Could not find active subscription."),
    ],
)
def test_plan_change_refusals(
    bigcommerce: ServedApp, sim: SimulatorState, change: dict[str, Any], message: str
) -> None:
    current = subscribe(bigcommerce, sim)
    given = plan(sim, subscriptionId=current["id"], product={"productLevel": "Plus"}, scope=None)
    given["items"][0] |= change
    assert refusal(bigcommerce, sim, CREATE, checkout=given) == message
    assert len(sim.checkouts) == 1 and fetch_subscriptions(bigcommerce, sim) == [current]


def test_no_plan_change_in_a_trial_nor_of_a_cancelled_subscription(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    trial = plan(sim)
    trial["items"][0]["pricingPlan"]["trialDays"] = 14
    assert approve(bigcommerce, create(bigcommerce, sim, trial)).status_code == 303
    (current,) = fetch_subscriptions(bigcommerce, sim)
    change = plan(sim, subscriptionId=current["id"], product=None, scope=None)
    in_trial = "Checkouts are not available for existing trial subscriptions."
    assert refusal(bigcommerce, sim, CREATE, checkout=change) == in_trial
    call(bigcommerce, sim, CANCEL, subscription={"id": current["id"]})
    refused = refusal(bigcommerce, sim, CREATE, checkout=change)
    assert refused == "Could not find active subscription."
    assert len(sim.checkouts) == 1
