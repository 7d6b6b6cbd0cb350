"""BigCommerce's app callbacks: auth (install), load, uninstall, remove-user."""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, redirect, url_for
from werkzeug.wrappers import Response

from bcapp import services
from bcapp.blueprints.params import single
from bcapp.errors import BadRequest, BcappError
from bcapp.guards import signed_callback
from bcapp.runtime import runtime
from bcapp.scopes import ScopeSet
from bcapp.sessions import open_session
from bcapp.settings import Settings
from bcapp.signing import CallbackClaims
from bcapp.validation import store_hash_from_context

bp = Blueprint("callbacks", __name__, url_prefix="/bigcommerce")

_CODE = re.compile(r"[A-Za-z0-9._~-]{1,256}")
_ACCOUNT_UUID = re.compile(r"[0-9A-Fa-f-]{1,64}")


@bp.get("/auth")
def auth() -> Response:
    """Install or re-authorise: exchange the code, store the installation, open the app."""
    rt = runtime()
    install = _install_request()
    try:
        opened = services.complete_install(
            install,
            rt.exchange,
            rt.store,
            rt.settings.required_scopes,
            lock_seconds=rt.settings.token_exchange_deadline + 10,
        )
    except BcappError as error:
        if install.external_install:
            error.return_url = _external_install_url(rt.settings, "failed")
        raise
    if install.external_install:
        return redirect(_external_install_url(rt.settings, "succeeded"))
    open_session(opened)
    return redirect(url_for("app.home", installed=1))


def _install_request() -> services.InstallRequest:
    """Validate the auth callback's query before anything leaves this process."""
    code = single("code", 256) or ""
    scope_text = single("scope", 4096) or ""
    context = single("context", 64) or ""
    account_uuid = single("account_uuid", 64, required=False)
    external = single("external_install", 64, required=False) is not None
    if not _CODE.fullmatch(code):
        raise BadRequest("invalid_code")
    try:
        scopes = ScopeSet.parse(scope_text)
        store_hash = store_hash_from_context(context)
    except ValueError as exc:
        raise BadRequest("invalid_scope_or_context") from exc
    if account_uuid is not None and not _ACCOUNT_UUID.fullmatch(account_uuid):
        raise BadRequest("invalid_account_uuid")
    return services.InstallRequest(
        code=code,
        scopes=scopes,
        scope_text=scope_text,
        context=context,
        store_hash=store_hash,
        account_uuid=account_uuid,
        external_install=external,
    )


def _external_install_url(settings: Settings, outcome: str) -> str:
    """Where BigCommerce shows the result of an install started from the external link."""
    return f"{settings.login_url}/app/{settings.client_id}/install/{outcome}"


@bp.get("/load")
@signed_callback
def load(claims: CallbackClaims) -> Response:
    """Open the app for a verified user: fresh session, then the deep link inside the app."""
    rt = runtime()
    opened = services.open_app(
        claims, rt.store, rt.settings.required_scopes, rt.settings.multi_user
    )
    open_session(opened)
    return redirect(claims.url)


@bp.get("/uninstall")
@signed_callback
def uninstall(claims: CallbackClaims) -> Response:
    """Forget the store completely; 200 also when it was already gone."""
    rt = runtime()
    deleted = services.uninstall(claims, rt.store, rt.settings.jwt_leeway_seconds)
    return jsonify(status="uninstalled", deleted=deleted)


@bp.get("/remove-user")
@signed_callback
def remove_user(claims: CallbackClaims) -> Response:
    """Revoke one user's access; 200 also when the user was unknown."""
    removed = services.remove_user(claims, runtime().store)
    return jsonify(status="removed", removed=removed)
