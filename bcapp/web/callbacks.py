"""BigCommerce's app callbacks: auth (install), load, uninstall, remove-user, webhooks, handoff.

Each view names its declaration (bcapp/endpoints.py: path, method, counting); the routes and
guards come from there (bcapp/web/routes.py).
"""

from __future__ import annotations

import functools
import json
from urllib.parse import urlencode

from flask import current_app, jsonify, redirect, request, url_for
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.wrappers import Response

from bcapp.endpoints import LOAD, Callback
from bcapp.errors import BcappError, HandoffRefused
from bcapp.models import AppOpened, CallbackClaims
from bcapp.service.install import InstallRequest
from bcapp.web.context import service
from bcapp.web.guards import signed_callback, signed_payloads
from bcapp.web.pages import for_store, framed_by
from bcapp.web.params import single
from bcapp.web.routes import WEBHOOK_HEADERS, callback
from bcapp.web.sessions import HANDOFF_PARAM, adopt


def admit_client(route: Callback) -> None:
    """Count a callback request against its client address before any other work (429).

    The load view counts its own requests, inside its one Redis round trip.
    """
    if route.counts_address_first:
        service().callbacks.admit(route.name, client_address())


def client_address() -> str:
    """The client's address (after the trusted proxies' ProxyFix)."""
    return request.remote_addr or "unknown"


def refuse_other_methods(route: Callback) -> None:
    """405 naming the one allowed method for any other on a callback, before anything runs.

    Flask answers HEAD and OPTIONS on GET routes by itself; on a callback HEAD would spend a
    code or a payload, so both are refused like POST (docs/security.md R2). Matched by endpoint
    (any spelling of the path that routes there) and by path (methods that do not route).
    """
    if request.method != route.method:
        raise MethodNotAllowed(valid_methods=[route.method])


@callback("auth")
def auth() -> Response:
    """Install or re-authorise: exchange the code, store the installation, open the app."""
    app_service = service()
    install = InstallRequest.parse(
        code=single("code", 256) or "",
        scope_text=single("scope", 4096) or "",
        context=single("context", 64) or "",
        account_uuid=single("account_uuid", 64, required=False),
        external_install=single("external_install", 64, required=False) is not None,
    )
    try:
        opened = app_service.callbacks.install(install)
    except BcappError as error:
        if install.external_install:
            error.return_url = app_service.callbacks.external_install_url("failed")
        raise
    if install.external_install:  # BigCommerce shows the outcome; the app opens on a load
        return redirect(app_service.callbacks.external_install_url("succeeded"))
    return into_the_app(opened)


@callback("load")
def load() -> Response:
    """Open the app for a verified user: fresh session, then the deep link inside the app."""
    try:
        jwt_payload, legacy = signed_payloads()
    except BcappError:
        # counted like any request (429 first)
        service().callbacks.admit(LOAD.name, client_address())
        raise
    return into_the_app(service().callbacks.load(jwt_payload, legacy, client_address()))


def into_the_app(opened: AppOpened) -> Response:
    """The fresh session in this browser's cookie, and the redirect into the app.

    The redirect carries the one-time handoff (`_bcs`): the first page spends it in its one
    Redis round trip when the cookie came back, and offers a new tab when it did not.
    """
    framed_by(opened.frame_ancestors)
    adopt(opened.ref, opened.channel_id, opened.locale, opened.deep_link)
    return redirect(with_param(opened.url, HANDOFF_PARAM, opened.handoff))


@callback("handoff")
def handoff() -> Response:
    """The app in a new tab, for a browser that blocked the cookie inside the iframe.

    Only a tab the app's own page opened may spend a handoff (Fetch Metadata says
    `Sec-Fetch-Site: same-origin`): a link elsewhere to somebody's handoff would sign the
    visitor in to that somebody's store (login CSRF), so it is refused and nothing is spent.
    A browser that sends no Fetch Metadata is let through (docs/security.md R3).
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        raise HandoffRefused("handoff_not_from_the_app")
    ref, opened = service().sessions.redeem_handoff(single("token", 200) or "")
    adopt(ref)
    for_store(opened.installation)
    return redirect(url_for("app.home"))


def with_param(url: str, name: str, value: str) -> str:
    """`url` (a path inside the app) with one more query parameter; the rest is untouched."""
    address, hash_mark, fragment = url.partition("#")
    joiner = "&" if "?" in address else "?"
    return f"{address}{joiner}{urlencode({name: value})}{hash_mark}{fragment}"


@callback("uninstall")
@signed_callback
def uninstall(claims: CallbackClaims) -> Response:
    """Mark the store uninstalled (kept for the grace period); 200 also when it was already."""
    return jsonify(status="uninstalled", changed=service().callbacks.uninstall(claims))


@callback("remove-user")
@signed_callback
def remove_user(claims: CallbackClaims) -> Response:
    """Revoke one user's access; 200 also when the user was unknown."""
    return jsonify(status="removed", removed=service().callbacks.remove_user(claims))


@callback("webhooks")
def webhooks() -> Response:
    """A Standard Webhooks delivery from BigCommerce; 200 also for duplicates and other scopes."""
    headers = {name: request.headers.get(name, "") for name in WEBHOOK_HEADERS}
    body = request.get_data(cache=False)
    outcome = service().callbacks.receive_webhook(body, headers, client_address())
    return current_app.response_class(_webhook_answer(outcome), mimetype="application/json")


@functools.cache  # four outcomes
def _webhook_answer(outcome: str) -> str:
    """`jsonify(status=outcome)`'s body, written once per outcome (each delivery's answer)."""
    return json.dumps({"status": outcome}, separators=(",", ":")) + "\n"
