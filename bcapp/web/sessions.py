"""The app's own session inside the control-panel iframe.

Flask's signed cookie carries only identifiers (a `SessionRef`: store hash, user id, the
installation's `install_id` and the user's `access_id`); the service checks them against Redis
on every request, so an uninstall, a re-install or a removed user revokes the session at once.
The cookie is `Secure; HttpOnly; SameSite=None; Partitioned` so it survives inside the
cross-site iframe where browsers block unpartitioned third-party cookies (docs/security.md R3).
"""

from __future__ import annotations

import secrets

from flask import Flask, request, session, url_for

from bcapp.errors import CookieBlocked, Unauthorized
from bcapp.models import Opened, SessionRef
from bcapp.service.handoff import TOKEN
from bcapp.settings import Settings
from bcapp.web.context import service
from bcapp.web.cookie import LeanCookieSessions
from bcapp.web.pages import for_store


def configure(app: Flask, settings: Settings) -> None:
    """Cookie flags for an app that lives in a cross-site iframe (docs/security.md R3)."""
    app.session_interface = LeanCookieSessions()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SECRET_KEY_FALLBACKS=list(settings.secret_key_fallbacks),
        SESSION_COOKIE_NAME="__Host-bcapp_session" if settings.uses_https else "bcapp_session",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="None",
        SESSION_COOKIE_PARTITIONED=True,
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=settings.session_lifetime_seconds,
        # Only a fresh /auth or /load issues a cookie; refusals never send one.
        SESSION_REFRESH_EACH_REQUEST=False,
    )


HANDOFF_PARAM = "_bcs"


def adopt(
    ref: SessionRef,
    channel_id: int | None = None,
    locale: str | None = None,
    deep_link: str | None = None,
) -> None:
    """Put `ref` in this browser's cookie, with a fresh CSRF token; nothing of an older
    session survives (docs/security.md R14)."""
    session.clear()
    session.permanent = True
    session.update(
        store=ref.store_hash,
        user=ref.user_id,
        install=ref.install_id,
        access=ref.access_id,
        sid=ref.session_id,
        csrf=secrets.token_urlsafe(32),
    )
    if channel_id is not None:
        session["channel"] = channel_id
    if locale is not None:
        session["locale"] = locale
    if deep_link is not None:
        session["link"] = deep_link


def current_opened() -> Opened:
    """The store and user of the current session, checked by the service; else Unauthorized."""
    store_hash, user_id = session.get("store"), session.get("user")
    install_id, access_id = session.get("install"), session.get("access")
    session_id = session.get("sid")
    handoff = request.args.get(HANDOFF_PARAM, "")
    if not (
        isinstance(store_hash, str)
        and isinstance(user_id, int)
        and isinstance(install_id, str)
        and isinstance(access_id, str)
        and isinstance(session_id, str)
    ):
        if TOKEN.fullmatch(handoff):  # just opened, and the cookie did not come back
            raise CookieBlocked(url_for("callbacks.handoff", token=handoff))
        raise Unauthorized("no_session")
    try:
        ref = SessionRef(store_hash, user_id, install_id, access_id, session_id)
        # The cookie works here: a handoff on this page is not needed; spent in the same trip.
        opened = service().sessions.resume(ref, handoff)
    except Unauthorized:
        session.clear()
        raise
    for_store(opened.installation)
    return opened
