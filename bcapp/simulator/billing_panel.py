"""Unified Billing on the simulated control panel: the merchant's checkout page, the app's
control-panel URL the checkout returns to, and the panel's billing buttons.

The checkout page (`/manage/merchant-checkout?checkoutId=<uuid>`, the `checkoutUrl` the Account
API hands the app) shows the plan with Approve and Decline; both end at the item's
`redirectUrl`. The app's control-panel URL, `/manage/app/<app id>`, opens the app with a fresh
load, as on BigCommerce; when the redirect goes there, the simulator adds `store=<hash>` (the
checkout's store) so it knows which store's panel the merchant was in.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from bcapp.simulator import billing, deliveries, driver
from bcapp.simulator.account_api import checkout_url
from bcapp.simulator.account_schema import iso
from bcapp.simulator.api import control_panel_base
from bcapp.simulator.billing_model import CHECKOUT_VALID_SECONDS, DAY, BillingError, SimSubscription
from bcapp.simulator.login import state
from bcapp.simulator.state import SimulatorState

bp = Blueprint("sim_billing", __name__)
bp.before_request(deliveries.same_origin_only)
MAX_ADVANCE_DAYS = 3660


@bp.app_template_filter("sim_time")
def sim_time(moment: float | None) -> str:
    """A billing time as the panel shows it."""
    return "—" if moment is None else iso(moment)


@bp.app_context_processor
def billing_helpers() -> dict[str, object]:
    """What the panel's billing section reads (bcapp/simulator/templates/simulator)."""
    return {"subscriptions_of": subscriptions_of, "checkout_link": _checkout_link}


def subscriptions_of(sim: SimulatorState, store_hash: str) -> list[SimSubscription]:
    """The store's subscriptions as of now (what came due is applied first), newest first."""
    billing.settle(sim)
    with sim.lock:
        found = [s for s in sim.subscriptions.values() if s.store_hash == store_hash]
    return sorted(found, key=lambda s: -s.seq)


def _checkout_link(checkout_id: str) -> str:
    return checkout_url(control_panel_base(), checkout_id)


@bp.get("/manage/merchant-checkout")
def checkout_page() -> str:
    """The merchant's checkout: the plan, with Approve and Decline while it is open."""
    sim = state()
    billing.settle(sim)
    checkout = sim.checkouts.get(request.args.get("checkoutId", ""))
    if checkout is None:
        abort(404, "There is no such checkout: the app's checkoutUrl names one it created.")
    try:
        with sim.lock:
            billing.open_checkout(sim, checkout.id, sim.clock())
        closed = ""
    except BillingError as refused:
        closed = refused.message
    current = sim.subscriptions.get(checkout.subscription_id or "")
    return render_template(
        "simulator/merchant_checkout.html",
        sim=sim,
        checkout=checkout,
        closed=closed,
        changed=current if checkout.changes_plan else None,
        expires=checkout.created_at + CHECKOUT_VALID_SECONDS,
    )


@bp.post("/manage/merchant-checkout/<checkout_id>/approve")
def approve(checkout_id: str) -> Response | str:
    """The merchant pays: the subscription is created (or its plan changed)."""
    sim = state()
    try:
        checkout = billing.approve(sim, checkout_id)
    except BillingError as refused:
        abort(400 if checkout_id in sim.checkouts else 404, refused.message)
    return _leave(checkout.redirect_url, checkout.store_hash, "Checkout approved")


@bp.post("/manage/merchant-checkout/<checkout_id>/decline")
def decline(checkout_id: str) -> Response | str:
    """The merchant leaves without paying: no subscription; the link stays valid."""
    sim = state()
    checkout = sim.checkouts.get(checkout_id)
    if checkout is None:
        abort(404, "There is no such checkout in this simulator.")
    sim.record(f"checkout {checkout.id} of {checkout.store_hash} declined by the merchant")
    return _leave(checkout.redirect_url, checkout.store_hash, "Checkout declined")


def _leave(redirect_url: str, store_hash: str, outcome: str) -> Response | str:
    """Send the merchant to the item's `redirectUrl`; to the app's control-panel URL with the
    store named; a page saying so when the app gave no absolute http(s) URL."""
    target = urlsplit(redirect_url)
    if target.scheme not in ("http", "https") or not target.netloc:
        return render_template(
            "simulator/error.html", sim=state(), title=outcome,
            detail=f"The checkout's redirectUrl is not an absolute http(s) URL: {redirect_url}",
        )
    panel = urlsplit(control_panel_base())
    own = target.netloc in (panel.netloc, request.host)
    if own and target.path.startswith("/manage/app/"):
        named = urlencode({"store": store_hash})
        target = target._replace(query=f"{target.query}&{named}" if target.query else named)
    return redirect(urlunsplit(target), code=303)


@bp.get("/manage/app/<int:app_id>")
@bp.get("/manage/app/<int:app_id>/<path:rest>")
def open_app(app_id: int, rest: str = "") -> str:
    """The app's control-panel URL: the app opens with a fresh load, as the store's owner."""
    sim = state()
    if app_id != sim.app_id:
        abort(404, f"There is no app {app_id} in this simulator (the app's id is {sim.app_id}).")
    store_hash = request.args.get("store", "")
    if not store_hash and len(sim.stores) == 1:
        store_hash = next(iter(sim.stores))
    store = sim.stores.get(store_hash)
    if store is None:
        abort(404, "Open the app from the control panel: this URL does not name its store.")
    sim.record(f"open app {store.hash} as user {store.owner.id} (its control-panel URL)")
    src = driver.open_url(sim, store.hash, store.owner.id)
    return render_template("simulator/frame.html", sim=sim, store=store, src=src, title="My app")


@bp.post("/billing/advance")
def advance() -> Response:
    """Let billing time pass (the panel's clock is real): renewals, suspensions, trial ends."""
    days = request.form.get("days", type=int)
    if days is None or not 1 <= days <= MAX_ADVANCE_DAYS:
        abort(400, f"Advance billing time by 1 to {MAX_ADVANCE_DAYS} days.")
    billing.advance_billing(state(), days * DAY)
    return redirect(url_for("sim_panel.home"))


@bp.post("/stores/<store_hash>/billing/fail-next-payment")
def fail_next_payment(store_hash: str) -> Response:
    """The store's next payment fails (or, pressed again, succeeds): its subscription renewing
    next is SUSPENDED instead."""
    store = state().stores.get(store_hash)
    if store is None:
        abort(404, f"There is no store {store_hash} in this simulator.")
    with state().lock:
        store.next_payment_fails = not store.next_payment_fails
    fails = "fails" if store.next_payment_fails else "succeeds"
    state().record(f"the next payment of {store_hash} {fails}")
    return redirect(url_for("sim_panel.home"))


@bp.post("/billing/settings")
def settings() -> Response:
    """The billing knobs: the app published or not, the Account API's hourly limit."""
    sim = state()
    limit = request.form.get("hourly_limit", type=int)
    if limit is None or limit < 0:
        abort(400, "The hourly limit is a whole number of requests (0: no limit).")
    sim.app_published = request.form.get("published") == "on"
    sim.account_api_hourly_limit = limit
    published = "published" if sim.app_published else "unpublished ($0 checkouts only)"
    sim.record(f"billing settings: app {published}, Account API limit {limit}/h")
    return redirect(url_for("sim_panel.home"))
