"""The simulated control panel: stores, users, and the buttons that drive the app."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from bcapp.simulator import api, deliveries, driver, events, scopes
from bcapp.simulator.login import state
from bcapp.simulator.state import STORE_HASH, SimApiAccount, SimStore

bp = Blueprint("sim_panel", __name__)
bp.before_request(deliveries.same_origin_only)
# Every token-endpoint fault the README lists, all offered by the panel.
TOKEN_FAULTS = (
    None, "500", "malformed", "html", "slow", "drip", "redirect", "wrong_context", "legacy_shape",
)


@bp.get("/")
def home() -> str:
    """Every store with its users and actions, the knobs, and recent callback results."""
    sim = state()
    return render_template(
        "simulator/panel.html",
        sim=sim,
        faults=TOKEN_FAULTS,
        needs_authorisation=lambda h: driver.needs_authorisation(sim, h),
        hooks_of=hooks_listed,
        records_of=records_with_actions,
        duplicates=events.DUPLICATES,
        panel_events=events.PANEL_EVENTS,
        deliveries=deliveries.recent(sim),
    )


def hooks_listed(store: SimStore) -> list[tuple[str, str, str, int]]:
    """The store's hooks as (scope, destination, state, id), each once: a re-authorisation's
    new token sees none of the old token's hooks, so the app subscribes again (as on
    BigCommerce); a pair active under any token is listed active, with that hook's id."""
    listed: dict[tuple[str, str], tuple[str, int]] = {}
    for hook in store.hooks:
        pair = (hook.scope, hook.destination)
        if hook.is_active or pair not in listed:
            listed[pair] = ("active" if hook.is_active else "deactivated", hook.id)
    return sorted((scope, where, how, hook_id) for (scope, where), (how, hook_id) in listed.items())


@bp.post("/stores/<store_hash>/install")
def install(store_hash: str) -> str:
    """Open the app's auth callback inside the control-panel iframe, with a fresh code."""
    user_id = _user_id(store_hash)
    if _store(store_hash).cancelled:
        abort(400, f"Store {store_hash} was cancelled: no app can be installed there.")
    external = request.form.get("external") == "1"
    how = " (external link)" if external else ""
    state().record(f"install {store_hash} as user {user_id}{how}")
    src = driver.install_url(state(), store_hash, user_id, external=external)
    return _frame(store_hash, src, "Installing")


@bp.post("/stores/<store_hash>/open")
def open_app(store_hash: str) -> str:
    """Open the app inside the iframe through its load callback (or auth on a scope change)."""
    user_id = _user_id(store_hash)
    sim = state()
    reauthorising = driver.needs_authorisation(sim, store_hash)
    sim.record(f"{'re-authorise' if reauthorising else 'open app'} {store_hash} as user {user_id}")
    return _frame(store_hash, driver.open_url(sim, store_hash, user_id), "My app")


@bp.post("/stores/<store_hash>/uninstall")
def uninstall(store_hash: str) -> Response:
    """Uninstall (server-to-server callback); the result shows on the panel."""
    driver.uninstall(state(), store_hash, _user_id(store_hash))
    return redirect(url_for("sim_panel.home"))


@bp.post("/stores/<store_hash>/cancel")
def cancel_store(store_hash: str) -> Response:
    """Cancel the store: the app hears of it only through its store/app/uninstalled webhook."""
    _store(store_hash)
    driver.cancel_store(state(), store_hash)
    return redirect(url_for("sim_panel.home"))


@bp.post("/stores/<store_hash>/events/<kind>")
def store_event(store_hash: str, kind: str) -> Response:
    """Something happens in the store (an order is created, a product or customer updated):
    BigCommerce sends the event to the app's hooks of that scope (bcapp/simulator/events.py)."""
    _store(store_hash)
    if kind not in events.PANEL_EVENTS:
        abort(404, "The panel offers order, product and customer events.")
    events.fire(state(), store_hash, events.PANEL_EVENTS[kind])
    return redirect(url_for("sim_panel.home"))


def records_with_actions(store: SimStore) -> list[tuple[str, list[int], list[dict[str, Any]]]]:
    """The record pages that show the app's App Extensions: (model, record ids, extensions),
    for each model the app's current token registered extensions on."""
    mine = [ext for ext in store.app_extensions if ext["token"] == store.access_token]
    pages = []
    for model in ("ORDERS", "PRODUCTS", "PRODUCT_DESCRIPTION", "CUSTOMERS"):
        actions = [ext for ext in mine if ext["model"] == model]
        if actions:
            pages.append((model, api.record_ids(store, model), actions))
    return pages


@bp.post("/stores/<store_hash>/extensions/open")
def open_extension(store_hash: str) -> str:
    """A user clicks an App Extension in a record's Action menu: BigCommerce opens the app with a
    load whose `url` is the extension's url with the record's id filled in."""
    store = _store(store_hash)
    user_id = _user_id(store_hash)
    extension_id = request.form.get("extension", "")
    record = request.form.get("record", "")
    extension = next(
        (ext for ext in store.app_extensions
         if ext["id"] == extension_id and ext["token"] == store.access_token),
        None,
    )
    if extension is None or not (record.isascii() and record.isdigit()):
        abort(404, "That App Extension is not registered for the app on this store.")
    url = extension["url"].replace("${id}", record)
    label = extension["label"]["defaultValue"]
    state().record(f"{label} on {extension['model'].lower()} {record} of {store_hash}")
    # The control panel shows a PANEL extension in a side panel over the record page, a LINK
    # one in the app's page; the simulator shows both in its app frame.
    return _frame(store_hash, driver.open_url(state(), store_hash, user_id, url), label)


@bp.post("/stores/<store_hash>/hooks/<int:hook_id>/deactivate")
def deactivate_hook(store_hash: str, hook_id: int) -> Response:
    """Deactivate a hook as BigCommerce does after 48 h of failed deliveries."""
    store = _store(store_hash)
    hook = next((hook for hook in store.hooks if hook.id == hook_id), None)
    if hook is None:
        abort(404, f"Store {store_hash} has no hook {hook_id}.")
    with state().lock:
        hook.is_active = False
    state().record(f"hook {hook_id} ({hook.scope}) of {store_hash} deactivated")
    return redirect(url_for("sim_panel.home"))


@bp.post("/stores/<store_hash>/rotate-token")
def rotate_token(store_hash: str) -> Response:
    """Give the app's grant a token the app never saw: its store-API calls answer 401 and the
    app must be re-authorised (what an install of the same app from elsewhere does)."""
    _store(store_hash)
    state().rotate_token(store_hash)
    state().record(f"token of {store_hash} rotated: the app's calls now answer 401")
    return redirect(url_for("sim_panel.home"))


@bp.post("/stores/<store_hash>/api-accounts")
def create_api_account(store_hash: str) -> str:
    """Create a store-level API account: the credentials are shown this once."""
    _store(store_hash)
    name = request.form.get("name", "").strip()[:100] or "My API account"
    try:
        chosen = " ".join(scopes.split(request.form.get("scopes", "")))
        account = state().create_api_account(store_hash, name, chosen)
    except ValueError:
        abort(400, "Pick scopes from the list; an API account needs at least one.")
    api_path = f"{request.host_url.rstrip('/')}/stores/{store_hash}/v3/"
    text = credentials_text(account, api_path)
    download = secrets.token_urlsafe(16)
    with state().lock:
        state().pending_downloads[download] = text
    state().record(f"API account '{name}' created for {store_hash}")
    return render_template(
        "simulator/api_account.html",
        sim=state(),
        account=account,
        api_path=api_path,
        store_hash=store_hash,
        download=download,
    )


@bp.get("/downloads/<download>/credentials.txt")
def download_credentials(download: str) -> Response:
    """The credentials file, downloadable once (as the control panel offers it)."""
    with state().lock:
        text = state().pending_downloads.pop(download, None)
    if text is None:
        abort(404, "Credentials are shown once, right after the account is created.")
    response = Response(text, mimetype="text/plain")
    response.headers["Content-Disposition"] = "attachment; filename=credentials.txt"
    return response


@bp.post("/stores/<store_hash>/api-accounts/<int:account_id>/delete")
def delete_api_account(store_hash: str, account_id: int) -> Response:
    """Delete an API account: its token answers 401 at once; there is no undo."""
    _store(store_hash)
    if not state().delete_api_account(store_hash, account_id):
        abort(404, f"Store {store_hash} has no API account {account_id}.")
    state().record(f"API account {account_id} of {store_hash} deleted")
    return redirect(url_for("sim_panel.home"))


def credentials_text(account: SimApiAccount, api_path: str) -> str:
    """The downloaded .txt file's layout."""
    return (
        f"ACCESS TOKEN: {account.access_token}\r\n"
        f"CLIENT NAME: {account.name}\r\n"
        f"API PATH: {api_path}\r\n"
        f"CLIENT ID: {account.client_id}\r\n"
        f"CLIENT SECRET: {account.client_secret}\r\n"
    )


@bp.post("/stores/<store_hash>/users/<int:user_id>/remove")
def remove_user(store_hash: str, user_id: int) -> Response:
    """Revoke a staff user's access (server-to-server callback)."""
    store = _store(store_hash)
    if user_id == store.owner.id or user_id not in store.users:
        abort(400, "The store owner cannot be removed, and only the store's users can be.")
    driver.remove_user(state(), store_hash, user_id)
    return redirect(url_for("sim_panel.home"))


@bp.post("/stores/<store_hash>/users")
def add_user(store_hash: str) -> Response:
    """Add a staff user with access to the app."""
    store = _store(store_hash)
    email = request.form.get("email", "").strip()[:254] or "staff@example.com"
    user_id = max(store.users) + 1
    state().add_user(store_hash, user_id, email)
    state().record(f"added user {user_id} <{email}> to {store_hash}")
    return redirect(url_for("sim_panel.home"))


@bp.post("/stores")
def add_store() -> Response:
    """Create another store with its owner."""
    store_hash = request.form.get("hash", "").strip().lower()
    if not STORE_HASH.fullmatch(store_hash):
        abort(400, "A store hash is 1 to 32 lowercase letters and digits, such as store123.")
    if store_hash in state().stores:
        abort(400, f"There is a store {store_hash} already; pick another hash.")
    owner_id = 1000 * (len(state().stores) + 1) + 1
    state().add_store(store_hash, owner_id, f"owner@{store_hash}.example")
    return redirect(url_for("sim_panel.home"))


@bp.post("/settings")
def settings() -> Response:
    """The knobs: clock skew, legacy payloads, the app's scopes."""
    sim = state()
    try:
        skew = int(request.form.get("clock_skew", "0"))
        app_scopes = " ".join(scopes.split(request.form.get("app_scopes", sim.app_scopes)))
    except ValueError:
        abort(400, "The clock skew is a whole number of seconds, such as -120.")
    fault = request.form.get("fault", "") or None
    if fault not in TOKEN_FAULTS:
        abort(400, "Pick one of the token-endpoint faults the form offers.")
    duplicates = request.form.get("duplicates", "none")
    if duplicates not in events.DUPLICATES:
        abort(400, "Duplicate deliveries are none, same-id or new-id.")
    sim.fault = fault
    sim.duplicate_deliveries = duplicates
    sim.clock_skew_seconds = max(min(skew, 86400), -86400)
    sim.legacy_payloads = request.form.get("legacy") == "on"
    sim.app_scopes = app_scopes or sim.app_scopes
    sim.record(
        f"settings: skew {sim.clock_skew_seconds}s, legacy {sim.legacy_payloads}, "
        f"scopes {sim.app_scopes}, token endpoint fault {sim.fault or 'none'}, "
        f"duplicate webhooks {sim.duplicate_deliveries}"
    )
    return redirect(url_for("sim_panel.home"))


def _frame(store_hash: str, src: str, title: str) -> str:
    return render_template(
        "simulator/frame.html", sim=state(), store=_store(store_hash), src=src, title=title
    )


def _store(store_hash: str) -> SimStore:
    store = state().stores.get(store_hash)
    if store is None:
        abort(404, f"There is no store {store_hash} in this simulator.")
    return store


def _user_id(store_hash: str) -> int:
    store = _store(store_hash)
    user_id = request.form.get("user_id", type=int)
    if user_id is None or user_id not in store.users:
        abort(400, f"Store {store_hash} has no such user.")
    return user_id
