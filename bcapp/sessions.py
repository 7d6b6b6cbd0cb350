"""The app's own session inside the control-panel iframe.

Flask's signed cookie carries only identifiers: store hash, user id, the installation's
`install_id` and the user's `access_id`. Every request checks them against Redis, so an
uninstall, a re-install or a removed user revokes the session at once (SECURITY.md A3.4).
The cookie is `Secure; HttpOnly; SameSite=None; Partitioned` so it survives inside the
cross-site iframe where browsers block unpartitioned third-party cookies.
"""

from __future__ import annotations

from flask import Flask, session

from bcapp.errors import Unauthorized
from bcapp.services import Opened
from bcapp.settings import Settings
from bcapp.store import InstallationStore


def configure(app: Flask, settings: Settings) -> None:
    """Cookie flags for an app that lives in a cross-site iframe (SECURITY.md A3.1, A3.6)."""
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
        # Only a fresh /auth or /load issues a cookie; refusals never send one (SECURITY.md B26).
        SESSION_REFRESH_EACH_REQUEST=False,
    )


def open_session(opened: Opened) -> None:
    """Start a fresh session for this store and user; nothing from an older one survives."""
    session.clear()
    session.permanent = True
    session.update(
        store=opened.installation.store_hash,
        user=opened.user.id,
        install=opened.installation.install_id,
        access=opened.user.access_id,
    )


def current_opened(store: InstallationStore) -> Opened:
    """The store and user of the current session, checked against Redis; else Unauthorized."""
    store_hash, user_id = session.get("store"), session.get("user")
    if not isinstance(store_hash, str) or not isinstance(user_id, int):
        raise Unauthorized("no_session")
    installation = store.get_installation(store_hash)
    if installation is None or installation.install_id != session.get("install"):
        session.clear()
        raise Unauthorized("session_install_revoked")
    user = store.get_user(store_hash, user_id)
    if user is None or user.access_id != session.get("access"):
        session.clear()
        raise Unauthorized("session_user_revoked")
    return Opened(installation, user)
