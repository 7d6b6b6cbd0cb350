"""The simulated Account API's subscriptions query (paging, filters), its hourly limit, and the
merchant's account uuid the store API reports."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from bcapp.clock import ManualClock
from bcapp.simulator import ServedApp, SimulatorState, billing, seeded_state
from bcapp.simulator.account_schema import iso
from tests.test_simulator_account_api import (
    CREATE,
    SUBSCRIPTIONS,
    call,
    fetch_subscriptions,
    plan,
    refusal,
)


def make_subscriptions(sim: SimulatorState, clock: ManualClock, count: int, store: str) -> None:
    """`count` subscriptions on `store`, one a minute (in process: the API allows 70 calls/h)."""
    for _ in range(count):
        clock.advance(60)
        billing.approve(sim, billing.create_checkout(sim, plan(sim, store), clock.now()).id)


def page(bigcommerce: ServedApp, sim: SimulatorState, **variables: Any) -> dict[str, Any]:
    """One `account.subscriptions` connection."""
    answer = call(bigcommerce, sim, SUBSCRIPTIONS, **variables).json()
    assert "errors" not in answer, answer
    return dict(answer["data"]["account"]["subscriptions"])


def test_120_subscriptions_page_by_50_newest_first_and_since_a_time(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    start = clock.now()
    make_subscriptions(sim, clock, 120, "abc123")
    seen: list[dict[str, Any]] = []
    cursor = None
    for expected, more in ((50, True), (50, True), (20, False)):
        got = page(bigcommerce, sim, first=50, after=cursor)
        edges = got["edges"]
        assert len(edges) == expected
        assert got["pageInfo"] == {
            "hasNextPage": more, "hasPreviousPage": cursor is not None,
            "startCursor": edges[0]["cursor"], "endCursor": edges[-1]["cursor"],
        }
        seen += [edge["node"] for edge in edges]
        cursor = edges[-1]["cursor"]
    ids = [str(node["id"]).rsplit("/", 1)[1] for node in seen]
    assert ids == [s.id for s in sorted(sim.subscriptions.values(), key=lambda s: -s.seq)]
    # The 100th was created (and last updated) at start + 100 minutes: 20 are newer.
    since = iso(start + 100 * 60)
    newer = page(bigcommerce, sim, first=15, filters={"updatedAfter": since})
    rest = page(bigcommerce, sim, first=15, after=newer["pageInfo"]["endCursor"],
                filters={"updatedAfter": since})
    assert len(newer["edges"]) == 15 and len(rest["edges"]) == 5
    assert rest["pageInfo"]["hasNextPage"] is False
    assert all(node["updatedAt"] > since for node in seen[:20])
    assert page(bigcommerce, sim)["pageInfo"]["hasNextPage"] is True
    assert len(fetch_subscriptions(bigcommerce, sim)) == 10  # the default page size


def test_subscription_filters(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    sim.add_store("other1")
    make_subscriptions(sim, clock, 1, "abc123")
    make_subscriptions(sim, clock, 1, "other1")
    mine, theirs = sorted(sim.subscriptions.values(), key=lambda s: s.seq)
    billing.cancel(sim, f"bc/account/subscription/{theirs.id}")

    def ids(**filters: object) -> list[str]:
        nodes = fetch_subscriptions(bigcommerce, sim, filters=filters)
        return [str(node["id"]).rsplit("/", 1)[1] for node in nodes]

    assert ids(ids=[f"bc/account/subscription/{mine.id}", "bc/account/subscription/x"]) == [mine.id]
    assert ids(status="CANCELLED") == [theirs.id]
    assert ids(scopeId="bc/account/scope/abc123", scopeType="STORE") == [mine.id]
    assert ids(productId=f"bc/account/product/{sim.app_id}") == [theirs.id, mine.id]
    assert ids(productId="bc/account/product/999") == []
    assert ids(productType="APPLICATION", status="ACTIVE") == [mine.id]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 51}, "first must be between 1 and 50."),
        ({"first": 0}, "first must be between 1 and 50."),
        ({"after": "not-a-cursor"}, "The after cursor is not one this API returned."),
        ({"filters": {"scopeId": "bc/account/scope/abc123"}},
         "Filter by scopeId and scopeType together."),
    ],
)
def test_subscription_query_refusals(
    bigcommerce: ServedApp, sim: SimulatorState, variables: dict[str, object], message: str
) -> None:
    assert refusal(bigcommerce, sim, SUBSCRIPTIONS, **variables) == message


def test_documents_are_validated_against_the_schema(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    answer = call(bigcommerce, sim, "{ account { subscriptions { totalCount } } }").json()
    assert answer["errors"][0]["message"].startswith("Cannot query field 'totalCount'")
    unknown = call(bigcommerce, sim, CREATE, checkout=plan(sim) | {"accountId": None}).json()
    assert "accountId" in unknown["errors"][0]["message"] and sim.checkouts == {}
    not_json = requests.post(
        f"{bigcommerce.url}/accounts/{sim.account_uuid}/graphql", data="query", timeout=5,
        headers={"X-Auth-Token": sim.account_api_token},
    )
    assert not_json.status_code == 400


def test_70_calls_an_hour_then_429_naming_the_limit(
    bigcommerce: ServedApp, sim: SimulatorState, clock: ManualClock
) -> None:
    clock.advance(-(clock.now() % 3600))  # the top of an hour: 70 calls fit in this one
    assert refusal(bigcommerce, sim, CREATE, token="wrong", checkout=plan(sim)) != ""  # counted
    for _ in range(69):
        assert call(bigcommerce, sim, "{ account { id } }").status_code == 200
    clock.advance(3599)
    refused = call(bigcommerce, sim, CREATE, checkout=plan(sim))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json() == {
        "status": 429,
        "title": "Too Many Requests",
        "detail": "The Account API allows 70 requests per hour; this hour's are spent.",
        "limit": 70,
        "window_seconds": 3600,
        "retry_after_seconds": 1,
    }
    assert sim.checkouts == {} and sim.account_api_calls == 71
    clock.advance(1)
    answer = call(bigcommerce, sim, "{ account { id } }").json()
    assert answer == {"data": {"account": {"id": f"bc/account/account/{sim.account_uuid}"}}}
    assert (sim.account_api_calls, sim.account_api_hour_calls) == (72, 1)


def test_no_hourly_limit_when_it_is_zero(bigcommerce: ServedApp, sim: SimulatorState) -> None:
    sim.account_api_hourly_limit = 0
    for _ in range(75):
        assert call(bigcommerce, sim, "{ account { id } }").status_code == 200
    assert sim.account_api_calls == 75


def test_each_store_reports_its_own_merchant_account(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    sim.add_store("other1")
    reported = {}
    for store_hash in ("abc123", "other1"):
        token = sim.grant_token(store_hash, "store_v2_information_read_only")
        body = requests.get(
            f"{bigcommerce.url}/stores/{store_hash}/v2/store", headers={"X-Auth-Token": token},
            timeout=5,
        ).json()
        assert body["control_panel_base_url"] == bigcommerce.url
        reported[store_hash] = body["account_uuid"]
    assert reported == {h: sim.stores[h].account_uuid for h in ("abc123", "other1")}
    assert len(set(reported.values())) == 2 and sim.account_uuid not in reported.values()


def test_seeded_state_takes_the_billing_identity() -> None:
    sim = seeded_state(
        "id", "secret", "http://app/auth", "http://app", "", app_id=77,
        account_api_token="partner-token", account_uuid="partner-uuid",
    )
    assert (sim.app_id, sim.account_api_token, sim.account_uuid) == (
        77, "partner-token", "partner-uuid",
    )
    assert "partner-token" in sim.issued_secrets and "account_api_token" not in repr(sim)
    default = seeded_state("id", "secret", "http://app/auth", "http://app", "")
    assert default.account_api_token in default.issued_secrets
