"""The simulated store API: a few read endpoints, X-Auth-Token and scope checks, rate limits.

A call outside the scopes the token was granted answers 403, as BigCommerce does; which scope
each path needs is the simulator's own table (`PATH_SCOPES` in bcapp/simulator/scopes.py).

Each store has a quota of requests per 30 s window, shared by all apps as on BigCommerce;
every answer carries the `X-Rate-Limit-*` headers, and a spent quota answers 429 with
`X-Retry-After` (docs/protocol.md, "Using the token").
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from bcapp.simulator.login import state
from bcapp.simulator.scopes import allows, needed
from bcapp.simulator.state import SimStore, SimulatorState
from bcapp.simulator.storefront_model import storefront_url

bp = Blueprint("sim_api", __name__)
_NO_SCOPE = "You don't have a required scope to access the endpoint"  # BigCommerce's words
_ORDERS = [
    {
        "id": 100 + n,
        "date_created": f"Tue, {30 - n:02d} Nov 2026 10:00:00 +0000",
        "status": ("Awaiting Fulfillment", "Shipped", "Completed")[n % 3],
        "total_inc_tax": f"{20 + 3.5 * n:.4f}",
        "currency_code": "USD",
    }
    for n in range(1, 26)
]


@bp.before_request
def run_test_hook() -> None:
    """Let a test act while a store-API call is in flight (`SimulatorState.on_api_request`)."""
    state().user_agents.append(request.headers.get("User-Agent", ""))
    hook = state().on_api_request
    if hook is not None:
        hook(request.path.split("/", 3)[-1])
_PRODUCTS = [
    {"id": n, "name": f"Sample product {n}", "price": round(9.5 + n, 2), "sku": f"SKU-{n:03d}"}
    for n in range(1, 24)
]


@bp.get("/stores/<store_hash>/v2/store")
def store_information(store_hash: str) -> ResponseReturnValue:
    """v2 store information."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    body = jsonify(
        id=store.hash,
        domain=f"{store.hash}.mybigcommerce.example",
        # The storefront of channel 1, served by the simulator itself (storefront.py): its
        # origin is the simulator's, as the browser sees it.
        secure_url=storefront_url(control_panel_base(), store.hash),
        name=f"Store {store.hash}",
        admin_email=store.owner.email,
        plan_name="Sandbox",
        currency="USD",
        currency_symbol="$",
        currency_symbol_location="left",
        decimal_places=2,
        # Where this store's control panel lives: the simulator's own panel.
        control_panel_base_url=control_panel_base(),
        # The merchant's account, which Unified Billing charges (not the partner's uuid of the
        # install callback; docs/simulator.md, "Unified Billing").
        account_uuid=store.account_uuid,
    )
    return with_limits(body, store)


def control_panel_base() -> str:
    """The control panel's origin as the browser sees it: `SimulatorState.control_panel_url`,
    or the host this request was addressed to."""
    return state().control_panel_url or request.host_url.rstrip("/")


@bp.get("/stores/<store_hash>/v3/catalog/products")
def products(store_hash: str) -> ResponseReturnValue:
    """v3 products with page/limit paging and the v3 pagination meta block."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    page, limit, items = _requested_page(_PRODUCTS)
    pages = -(-len(_PRODUCTS) // limit)
    meta = {
        "pagination": {
            "total": len(_PRODUCTS),
            "count": len(items),
            "per_page": limit,
            "current_page": page,
            "total_pages": pages,
        }
    }
    return with_limits(jsonify(data=items, meta=meta), store)


@bp.get("/stores/<store_hash>/v2/orders")
def orders(store_hash: str) -> ResponseReturnValue:
    """v2 orders, newest first, with page/limit paging; a page past the end is 204 No Content,
    as v2 collections answer (`sort` and other filters are accepted and not applied)."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    _, _, items = _requested_page([*reversed(store.orders), *_ORDERS])
    if not items:
        return with_limits(Response(status=204), store)
    return with_limits(jsonify(items), store)


@bp.route("/stores/<store_hash>/v2/orders/<int:order_id>", methods=["GET", "PUT"])
def one_order(store_hash: str, order_id: int) -> ResponseReturnValue:
    """One order (404 when the store has none of that id); PUT changes `status` or
    `staff_notes` of an order created in this store (the sample orders are read-only)."""
    writing = request.method == "PUT"
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    order = next((o for o in [*store.orders, *_ORDERS] if o["id"] == order_id), None)
    if order is None:
        return with_limits(refusal(404, "The requested resource was not found."), store)
    if writing:
        body = request.get_json(silent=True)
        changes = {
            key: value
            for key, value in (body.items() if isinstance(body, dict) else [])
            if key in ("status", "staff_notes") and isinstance(value, str) and len(value) <= 1000
        }
        if not changes or order not in store.orders:
            return with_limits(refusal(400, "Only status or staff_notes can change."), store)
        with state().lock:
            order.update(changes)
    return with_limits(jsonify(order), store)


def record_ids(store: SimStore, model: str) -> list[int]:
    """A few records of a model, as its control-panel page lists them (newest orders first)."""
    if model == "ORDERS":
        return [order["id"] for order in [*reversed(store.orders), *_ORDERS]][:4]
    if model.startswith("PRODUCT"):
        return [int(str(product["id"])) for product in _PRODUCTS[:3]]
    return [1, 2, 3]  # customers


def create_order(sim: SimulatorState, store_hash: str) -> int:
    """A new order in the store (the panel's "Create an order"); its id."""
    with sim.lock:
        store = sim.stores[store_hash]
        order_id = 100 + len(_ORDERS) + len(store.orders) + 1
        store.orders.append(
            {
                "id": order_id,
                "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                "status": "Awaiting Fulfillment",
                "total_inc_tax": "42.0000",
                "currency_code": "USD",
                "staff_notes": "",
            }
        )
    return order_id


@bp.get("/stores/<store_hash>/v2/time")
def server_time(store_hash: str) -> ResponseReturnValue:
    """BigCommerce's clock (the simulator's skew knob applies)."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    return with_limits(jsonify(time=int(state().clock()) + state().clock_skew_seconds), store)


def refusal(status: int, title: str) -> Response:
    """A JSON error as the store API answers it: `{"status": …, "title": …}`."""
    answer = jsonify(status=status, title=title)
    answer.status_code = status
    return answer


def _requested_page(collection: list[dict[str, Any]]) -> tuple[int, int, list[dict[str, Any]]]:
    """The `page` and `limit` the request asks for (as BigCommerce bounds them) and that page."""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), 250)
    return page, limit, collection[(page - 1) * limit : page * limit]


def authorised(store_hash: str) -> SimStore | Response:
    """The store when the token is the app's or one of its API accounts', its grant covers the
    scope the path needs (bcapp/simulator/scopes.py) and quota is left; else the refusal (401,
    403 for a missing scope, 429)."""
    sim = state()
    store = sim.stores.get(store_hash)
    token = request.headers.get("X-Auth-Token", "")
    account = (
        next((a for a in store.api_accounts if a.access_token == token), None) if store else None
    )
    app_token = store is not None and store.access_token is not None and token == store.access_token
    if store is None or not (app_token or account is not None):
        return refusal(401, "Unauthorized")
    granted = account.scopes if account is not None else store.scopes
    try:
        scope = needed(request.path.split("/", 3)[-1], request.method)
    except KeyError:  # an endpoint missing from the table: no grant can name its scope
        return refusal(403, _NO_SCOPE)
    if scope is not None and not allows(granted, scope):
        return refusal(403, _NO_SCOPE)
    with sim.lock:
        now_ms = int(sim.clock() * 1000)
        if now_ms >= store.window_started_ms + state().rate_limit_window_ms:
            store.window_started_ms, store.requests_left = now_ms, sim.rate_limit_quota
        if sim.platform_429s > 0:  # platform load: a 429 without rate-limit headers
            sim.platform_429s -= 1
            store.rejected += 1
            return refusal(429, "Too many requests")
        if store.requests_left <= 0:
            store.rejected += 1
            response = refusal(429, "Too many requests")
            response.headers["X-Retry-After"] = str(-(-_reset_ms(store) // 1000))
            return with_limits(response, store)
        store.requests_left -= 1
    return store


def _reset_ms(store: SimStore) -> int:
    now_ms = int(state().clock() * 1000)
    return max(store.window_started_ms + state().rate_limit_window_ms - now_ms, 0)


def with_limits(response: Response, store: SimStore) -> Response:
    response.headers["X-Rate-Limit-Time-Window-Ms"] = str(state().rate_limit_window_ms)
    response.headers["X-Rate-Limit-Time-Reset-Ms"] = str(_reset_ms(store))
    response.headers["X-Rate-Limit-Requests-Quota"] = str(state().rate_limit_quota)
    response.headers["X-Rate-Limit-Requests-Left"] = str(max(store.requests_left, 0))
    return response
