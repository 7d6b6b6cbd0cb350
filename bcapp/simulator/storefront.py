"""The simulated storefront: a page per store and channel that renders the store's enabled
scripts where BigCommerce would (head or footer, by visibility, consent category shown), a
shopper switcher, and the Current Customer endpoint (`/customer/current.jwt`).

Channel 1 lives at `/storefront/<hash>` (also `?channel=<id>`), another channel at
`/storefront/<hash>/channels/<id>`; under each: `/checkout` and `/order-confirmation` (scripts
of those visibilities), `/customer/current.jwt`, `/login/token/<jwt>` (customer_login.py), and
any other path (`/account.php`) shows the storefront page. A shopper is signed in by a session
cookie named for that store and channel, as each storefront has its own.

A storefront script written for BigCommerce fetches `/customer/current.jwt` from the root of its
origin: the simulator answers that too, for the storefront page named by the `Referer`.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, redirect, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from bcapp.simulator.deliveries import same_origin_only
from bcapp.simulator.login import state
from bcapp.simulator.signing import sign_jwt
from bcapp.simulator.state import SimStore, SimulatorState
from bcapp.simulator.storefront_model import (
    CURRENT_CUSTOMER_SECONDS,
    SimCustomer,
    SimShopper,
    cookie_name,
    storefront_path,
)

bp = Blueprint("sim_storefront", __name__)
bp.before_request(same_origin_only)
BASE = "/storefront/<store_hash>"
CHANNEL = BASE + "/channels/<int:channel_id>"
PAGES = {"": ("storefront", "all_pages"), "checkout": ("checkout", "all_pages"),
         "order-confirmation": ("order_confirmation", "all_pages")}


def storefront_of(store_hash: str, channel_id: int | None) -> tuple[SimStore, int]:
    """The store and channel a storefront URL names (404 for neither)."""
    store = state().stores.get(store_hash)
    if channel_id is None:
        channel_id = request.args.get("channel", 1, type=int) or 1
    if store is None or channel_id not in store.channels:
        abort(404, f"There is no storefront of store {store_hash} on channel {channel_id}.")
    return store, channel_id


def shopper_of(store: SimStore, channel_id: int) -> SimCustomer | None:
    """The customer this request's session cookie signs in on the storefront (None: a guest)."""
    session = request.cookies.get(cookie_name(store.hash, channel_id), "")
    who = state().shoppers.get(session)
    if who is None or (who.store_hash, who.channel_id) != (store.hash, channel_id):
        return None
    return store.customers.get(who.customer_id)


def sign_in(sim: SimulatorState, store_hash: str, channel_id: int, customer_id: int) -> str:
    """A new session of this customer on the storefront: the cookie's value
    (`storefront_model.cookie_name` names the cookie)."""
    session = secrets.token_urlsafe(24)
    with sim.lock:
        sim.shoppers[session] = SimShopper(store_hash, channel_id, customer_id)
    return session


def with_session(
    answer: BaseResponse, store_hash: str, channel_id: int, session: str
) -> BaseResponse:
    """Set (or, with an empty `session`, end) the storefront's session cookie on `answer`."""
    # Path `/`: a script's `/customer/current.jwt` at the origin's root must carry it too.
    name = cookie_name(store_hash, channel_id)
    if session:
        answer.set_cookie(name, session, path="/", httponly=True, samesite="Lax")
    else:
        answer.delete_cookie(name, path="/", httponly=True, samesite="Lax")
    return answer


@bp.get(BASE, defaults={"channel_id": None, "page": ""})
@bp.get(BASE + "/", defaults={"channel_id": None, "page": ""})
@bp.get(BASE + "/<path:page>", defaults={"channel_id": None})
@bp.get(CHANNEL, defaults={"page": ""})
@bp.get(CHANNEL + "/", defaults={"page": ""})
@bp.get(CHANNEL + "/<path:page>")
def page(store_hash: str, channel_id: int | None, page: str) -> str:
    """A storefront page with the scripts BigCommerce would render on it."""
    store, channel_id = storefront_of(store_hash, channel_id)
    visibilities = PAGES.get(page.strip("/"), PAGES[""])
    placed = [one for one in store.scripts
              if one.enabled and one.channel_id == channel_id and one.visibility in visibilities]
    hidden = [one for one in placed
              if one.consent_category == "unknown" and store.cookie_consent_banner]
    shown = [one for one in placed if one not in hidden]
    return render_template(
        "simulator/storefront.html",
        sim=state(),
        store=store,
        channel_id=channel_id,
        page="/" + page if page else "/",
        base=storefront_path(store.hash, channel_id),
        head=[one for one in shown if one.location == "head"],
        footer=[one for one in shown if one.location == "footer"],
        hidden=hidden,
        shopper=shopper_of(store, channel_id),
    )


@bp.post(BASE + "/shopper", defaults={"channel_id": None})
@bp.post(CHANNEL + "/shopper")
def switch_shopper(store_hash: str, channel_id: int | None) -> BaseResponse:
    """The switcher: browse as a guest (empty `customer_id`) or as one of the customers."""
    store, channel_id = storefront_of(store_hash, channel_id)
    chosen = request.form.get("customer_id", "")
    back = redirect(storefront_path(store.hash, channel_id))
    if not chosen:
        state().record(f"storefront of {store_hash} (channel {channel_id}): a guest")
        return with_session(back, store.hash, channel_id, "")
    customer = store.customers.get(int(chosen)) if chosen.isascii() and chosen.isdigit() else None
    if customer is None:
        abort(400, f"Store {store_hash} has no customer {chosen[:20]}; pick one from the list.")
    state().record(f"storefront of {store_hash} (channel {channel_id}): {customer.email}")
    return with_session(
        back, store.hash, channel_id, sign_in(state(), store.hash, channel_id, customer.id)
    )


@bp.get(BASE + "/customer/current.jwt", defaults={"channel_id": None})
@bp.get(CHANNEL + "/customer/current.jwt")
def current_customer(store_hash: str, channel_id: int | None) -> ResponseReturnValue:
    """The Current Customer JWT of the signed-in shopper, for the app named by
    `app_client_id`; 404 for a guest."""
    store, channel_id = storefront_of(store_hash, channel_id)
    return _current_customer(store, channel_id)


@bp.get("/customer/current.jwt")
def current_customer_at_root() -> ResponseReturnValue:
    """`/customer/current.jwt` fetched from a storefront page (its `Referer` names the store)."""
    parts = urlsplit(request.headers.get("Referer", ""))
    segments = parts.path.split("/")
    if parts.netloc != request.host or len(segments) < 3 or segments[1] != "storefront":
        abort(404, "Fetch /customer/current.jwt from a storefront page of the simulator.")
    channel = int(segments[4]) if segments[3:4] == ["channels"] and segments[4:5] and (
        segments[4].isascii() and segments[4].isdigit()) else None
    store, channel_id = storefront_of(segments[2], channel)
    return _current_customer(store, channel_id)


def _current_customer(store: SimStore, channel_id: int) -> ResponseReturnValue:
    sim = state()
    client_id = request.args.get("app_client_id", "")
    if client_id != sim.client_id:
        return _text("app_client_id must be the client id of an app.", 400)
    customer = shopper_of(store, channel_id)
    if customer is None:
        return _text("No customer is signed in (the shopper is a guest).", 404)
    issued = int(sim.clock()) + sim.clock_skew_seconds  # BigCommerce's clock (v2/time)
    claims = current_customer_claims(sim, store.hash, customer, issued)
    return _text(sign_jwt(claims, sim.client_secret), 200)


def current_customer_claims(
    sim: SimulatorState, store_hash: str, customer: SimCustomer, issued: int
) -> dict[str, object]:
    """The claims of a Current Customer JWT, as docs/start/authentication/current-customer.mdx
    shows them (`group_id` a string; no `jti`, no `nbf`)."""
    return {
        "customer": {
            "id": customer.id, "email": customer.email,
            "group_id": str(customer.customer_group_id),
        },
        "iss": "bc/apps",
        "sub": store_hash,
        "iat": issued,
        "exp": issued + CURRENT_CUSTOMER_SECONDS,
        "version": 1,
        "aud": sim.client_id,
        "application_id": str(sim.app_id),
        "store_hash": store_hash,
        "operation": "current_customer",
    }


def _text(body: str, status: int) -> Response:
    answer = Response(body, status=status, mimetype="text/plain")
    answer.headers["Cache-Control"] = "no-store"
    return answer


@bp.post("/settings/third-party-cookies")
def third_party_cookies() -> BaseResponse:
    """The panel's knob: the browser blocks third-party cookies in the app's iframe (or not)."""
    sim = state()
    sim.third_party_cookies_blocked = request.form.get("blocked") == "on"
    how = "blocked" if sim.third_party_cookies_blocked else "allowed"
    sim.record(f"settings: third-party cookies {how} in the app's iframe")
    return redirect("/")
