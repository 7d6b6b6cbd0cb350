"""The simulated GraphQL Account API for Unified Billing: `POST /accounts/<partner uuid>/graphql`
with the partner's account-level token in `X-Auth-Token`, parsed and validated by graphql-core
against bcapp/simulator/account_schema.py; the rules are bcapp/simulator/billing.py's.

As on BigCommerce, refusals are GraphQL `errors` with HTTP 200: a wrong token or partner uuid is
"You do not have permission to do this operation." BigCommerce documents 70 requests per hour
for every endpoint under `/accounts`, but not how it refuses the 71st: the simulator answers
429 with a JSON body naming the limit (`SimulatorState.account_api_hourly_limit`, 0: none).
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from graphql import GraphQLError, graphql_sync

from bcapp.simulator import billing
from bcapp.simulator.account_schema import SCHEMA
from bcapp.simulator.api import control_panel_base, refusal
from bcapp.simulator.billing_model import (
    ACCOUNT,
    CHECKOUT,
    NO_PERMISSION,
    PRODUCT,
    SCOPE,
    SUBSCRIPTION,
    BillingError,
    SimCheckout,
    SimSubscription,
    local_id,
)
from bcapp.simulator.login import state
from bcapp.simulator.state import SimulatorState

bp = Blueprint("sim_account_api", __name__)
HOUR = 3600
MAX_PAGE = 50
DEFAULT_PAGE = 10  # as on BigCommerce, when `first` is not given


@bp.post("/accounts/<partner_uuid>/graphql")
def account_graphql(partner_uuid: str) -> ResponseReturnValue:
    """Run one GraphQL document for the partner's account-level token."""
    sim = state()
    sim.user_agents.append(request.headers.get("User-Agent", ""))
    if sim.on_api_request is not None:
        sim.on_api_request(f"accounts/{partner_uuid}/graphql")
    wait = _spend_one_call(sim)
    if wait is not None:
        return _too_many(sim, wait)
    body = request.get_json(silent=True)
    query = body.get("query") if isinstance(body, dict) else None
    variables = body.get("variables") if isinstance(body, dict) else None
    if not isinstance(query, str) or not isinstance(variables, dict | None):
        return refusal(400, "Send a JSON object with a query string")
    token = request.headers.get("X-Auth-Token", "").encode()
    if partner_uuid != sim.account_uuid or not secrets.compare_digest(
        token, sim.account_api_token.encode()
    ):
        return jsonify(data=None, errors=[{"message": NO_PERMISSION}])
    billing.settle(sim)
    root = _Root(sim, control_panel_base())
    result = graphql_sync(
        SCHEMA, query, root_value={"account": root, "checkout": root, "subscription": root},
        variable_values=variables,
    )
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [error.formatted for error in result.errors]
    return jsonify(answer)


def _spend_one_call(sim: SimulatorState) -> int | None:
    """Count the call in its hour of `sim.clock`; the seconds to the next hour when over."""
    with sim.lock:
        now = sim.clock()
        hour = int(now // HOUR)
        if hour != sim.account_api_hour:
            sim.account_api_hour, sim.account_api_hour_calls = hour, 0
        sim.account_api_calls += 1
        sim.account_api_hour_calls += 1
        limit = sim.account_api_hourly_limit
        if limit and sim.account_api_hour_calls > limit:
            return max(int((hour + 1) * HOUR - now), 1)
    return None


def _too_many(sim: SimulatorState, wait: int) -> Response:
    limit = sim.account_api_hourly_limit
    answer = jsonify(
        status=429,
        title="Too Many Requests",
        detail=f"The Account API allows {limit} requests per hour; this hour's are spent.",
        limit=limit,
        window_seconds=HOUR,
        retry_after_seconds=wait,
    )
    answer.status_code = 429
    answer.headers["Retry-After"] = str(wait)
    return answer


class _Root:
    """The resolvers: `account { checkout subscriptions }`, `checkout { createCheckout }`,
    `subscription { cancelSubscription }` (method names are the schema's)."""

    def __init__(self, sim: SimulatorState, panel: str) -> None:
        self.sim = sim
        self.panel = panel
        self.id = ACCOUNT + sim.account_uuid

    def checkout(self, info: object, id: str) -> dict[str, Any] | None:
        """`account { checkout(id:) }`: null when the partner has no such checkout."""
        found = self.sim.checkouts.get(local_id(id, CHECKOUT) or "")
        return None if found is None else _checkout(found, self.panel)

    def subscriptions(
        self,
        info: object,
        first: int | None = None,
        after: str | None = None,
        filters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """`account { subscriptions }`: newest first (as BigCommerce lists them), `first` (at
        most 50) after the cursor."""
        size = DEFAULT_PAGE if first is None else first
        if not 1 <= size <= MAX_PAGE:
            raise GraphQLError(f"first must be between 1 and {MAX_PAGE}.")
        given = filters or {}
        if (given.get("scopeId") is None) != (given.get("scopeType") is None):
            raise GraphQLError("Filter by scopeId and scopeType together.")
        with self.sim.lock:
            chosen = [s for s in self.sim.subscriptions.values() if _matches(s, given)]
        chosen.sort(key=lambda s: -s.seq)
        before = None if after is None else _position(after)
        later = [s for s in chosen if before is None or s.seq < before]
        edges = [{"cursor": _cursor(s.seq), "node": _subscription(s)} for s in later[:size]]
        page_info = {
            "hasNextPage": len(later) > size,
            "hasPreviousPage": len(later) < len(chosen),
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        }
        return {"pageInfo": page_info, "edges": edges}

    def createCheckout(self, info: object, input: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the schema's names
        """`checkout { createCheckout(input:) }`: a PENDING checkout."""
        try:
            created = billing.create_checkout(self.sim, input, self.sim.clock())
        except BillingError as refused:
            raise GraphQLError(refused.message) from None
        self.sim.record(f"checkout {created.id} created for {created.store_hash}")
        return {"checkout": _checkout(created, self.panel)}

    def cancelSubscription(self, info: object, input: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        """`subscription { cancelSubscription(input:) }`."""
        try:
            cancelled = billing.cancel(self.sim, input["id"])
        except BillingError as refused:
            raise GraphQLError(refused.message) from None
        cancelled_at = cancelled.cancelled_at
        return {"subscriptionId": SUBSCRIPTION + cancelled.id, "cancelledAt": cancelled_at}


def checkout_url(panel: str, checkout_id: str) -> str:
    """The checkout page on the merchant's control panel."""
    return f"{panel}/manage/merchant-checkout?checkoutId={checkout_id}"


def _checkout(checkout: SimCheckout, panel: str) -> dict[str, Any]:
    item = {
        "subscriptionId": SUBSCRIPTION + checkout.subscription_id
        if checkout.subscription_id else None,
        "status": checkout.status,
        "product": {
            "id": PRODUCT + str(checkout.product_id), "type": "APPLICATION",
            "productLevel": checkout.product_level,
        },
        "scope": {"id": SCOPE + checkout.store_hash, "type": "STORE"},
        "pricingPlan": {
            "interval": checkout.interval,
            "price": {"value": checkout.price, "currencyCode": "USD"},
            "trialDays": checkout.trial_days,
        },
        "redirectUrl": checkout.redirect_url,
        "description": checkout.description,
    }
    cursor = _cursor(1)
    page = {"hasNextPage": False, "hasPreviousPage": False, "startCursor": cursor,
            "endCursor": cursor}
    return {
        "id": CHECKOUT + checkout.id,
        "accountId": ACCOUNT + checkout.account_uuid,
        "status": checkout.status,
        "checkoutUrl": checkout_url(panel, checkout.id),
        "items": {"pageInfo": page, "edges": [{"cursor": cursor, "node": item}]},
    }


def _subscription(subscription: SimSubscription) -> dict[str, Any]:
    return {
        "id": SUBSCRIPTION + subscription.id,
        "accountId": ACCOUNT + subscription.account_uuid,
        "activationDate": subscription.activation_date,
        "billingInterval": subscription.interval,
        "createdAt": subscription.created_at,
        "currentPeriodEnd": subscription.current_period_end,
        "updatedAt": subscription.updated_at,
        "pricePerInterval": {"value": subscription.price, "currencyCode": "USD"},
        "product": {
            "id": PRODUCT + str(subscription.product_id), "type": "APPLICATION",
            "productLevel": subscription.product_level,
        },
        "scope": {"id": SCOPE + subscription.store_hash, "type": "STORE"},
        "status": subscription.status,
    }


def _matches(subscription: SimSubscription, filters: dict[str, Any]) -> bool:
    """Whether the subscription passes every filter given."""
    wanted = {
        "ids": (SUBSCRIPTION + subscription.id) in (filters.get("ids") or []),
        "productId": filters.get("productId") == PRODUCT + str(subscription.product_id),
        "productType": filters.get("productType") == "APPLICATION",
        "scopeId": filters.get("scopeId") == SCOPE + subscription.store_hash,
        "scopeType": filters.get("scopeType") == "STORE",
        "status": filters.get("status") == subscription.status,
        "updatedAfter": subscription.updated_at > (filters.get("updatedAfter") or 0.0),
    }
    return all(passes for name, passes in wanted.items() if filters.get(name) is not None)


def _cursor(position: int) -> str:
    return base64.b64encode(json.dumps([position]).encode()).decode()


def _position(cursor: str) -> int:
    try:
        position = json.loads(base64.b64decode(cursor, validate=True))[0]
    except (ValueError, TypeError, IndexError, KeyError):
        raise GraphQLError("The after cursor is not one this API returned.") from None
    if not isinstance(position, int):
        raise GraphQLError("The after cursor is not one this API returned.")
    return position
