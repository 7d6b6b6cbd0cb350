"""The app's own session inside the control-panel iframe, in a cookie of bcapp's own.

The signed cookie carries only identifiers (a `SessionRef`: store hash, user id, the
installation's `install_id` and the user's `access_id`); the service checks them against Redis
on every request, so an uninstall, a re-install or a removed user revokes the session at once.
The cookie is `Secure; HttpOnly; SameSite=None; Partitioned` so it survives inside the
cross-site iframe where browsers block unpartitioned third-party cookies (docs/security.md R3).

It is not `flask.session`: the app bcapp joins keeps its SECRET_KEY, its session interface and
its own session cookie (bcapp/web/cookie.py::BcappCookie is signed with bcapp's SECRET_KEY).
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, request, url_for
from flask.sessions import SecureCookieSession

from bcapp.errors import CookieBlocked, Unauthorized
from bcapp.models import Opened, SessionRef
from bcapp.service.handoff import TOKEN
from bcapp.settings import Settings
from bcapp.web.context import service, this_request
from bcapp.web.cookie import BcappCookie, LeanCookieSessions
from bcapp.web.pages import for_store

COOKIE = "bcapp.cookie"  # app.extensions key of the app's BcappCookie
_OPENED = "bcapp.session"  # WSGI environ key: the request's session once opened
_WITHOUT_COOKIE = "bcapp.page_ref"  # WSGI environ key: a page's session taken from its handoff
HANDOFF_PARAM = "_bcs"


def configure(app: Flask, settings: Settings) -> None:
    """bcapp's session cookie on `app`, written after each request that changed it."""
    app.extensions[COOKIE] = BcappCookie(
        secret_key=settings.secret_key,
        fallbacks=settings.secret_key_fallbacks,
        name="__Host-bcapp_session" if settings.uses_https else "bcapp_session",
        lifetime_seconds=settings.session_lifetime_seconds,
    )
    app.after_request(save)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["bcapp_new_tab_url"] = new_tab_url


def own_app_session(app: Flask, settings: Settings) -> None:
    """`flask.session` for bcapp's own app (create_app owns it), for the BCAPP_BLUEPRINTS pages:
    signed with bcapp's keys, with the flags the iframe needs, in a cookie of its own."""
    app.session_interface = LeanCookieSessions()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SECRET_KEY_FALLBACKS=list(settings.secret_key_fallbacks),
        SESSION_COOKIE_NAME="__Host-session" if settings.uses_https else "session",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="None",
        SESSION_COOKIE_PARTITIONED=True,
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=settings.session_lifetime_seconds,
    )


def cookie_of(app: Flask) -> BcappCookie:
    """The cookie `configure` gave `app`."""
    cookie = app.extensions[COOKIE]
    assert isinstance(cookie, BcappCookie)
    return cookie


def bcapp_session() -> SecureCookieSession:
    """This request's control-panel session, read from bcapp's cookie on first use.

    Kept in the request's WSGI environ rather than `g`, which a test's outer app context
    would share between requests.
    """
    this = this_request()
    opened: SecureCookieSession | None = this.environ.get(_OPENED)
    if opened is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        opened = cookie_of(app).open_session(app, this)
        opened.accessed = True  # the response varies by Cookie
        this.environ[_OPENED] = opened
    return opened


def save(response: Response) -> Response:
    """After the request: write (or delete) bcapp's cookie if the request changed the session."""
    opened: SecureCookieSession | None = request.environ.get(_OPENED)
    if opened is not None:
        cookie_of(current_app).save_session(current_app, opened, response)
    return response


def csrf_token() -> str:
    """This session's CSRF token, for forms and scripts ("" without a session)."""
    token = bcapp_session().get("csrf")
    return token if isinstance(token, str) else ""


def adopt(
    ref: SessionRef,
    channel_id: int | None = None,
    locale: str | None = None,
    deep_link: str | None = None,
) -> None:
    """Put `ref` in this browser's cookie, with a fresh CSRF token; nothing of an older
    session survives (docs/security.md R14)."""
    session = bcapp_session()
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
    session = bcapp_session()
    store_hash, user_id = session.get("store"), session.get("user")
    install_id, access_id = session.get("install"), session.get("access")
    session_id = session.get("sid")
    # A membership test first: a missing key's `get` raises and catches Werkzeug's
    # BadRequestKeyError, several microseconds on every app page.
    query = this_request().args
    handoff = query[HANDOFF_PARAM] if HANDOFF_PARAM in query else ""  # noqa: SIM401
    if not (
        isinstance(store_hash, str)
        and isinstance(user_id, int)
        and isinstance(install_id, str)
        and isinstance(access_id, str)
        and isinstance(session_id, str)
    ):
        if TOKEN.fullmatch(handoff):  # just opened, and the cookie did not come back
            return _opened_without_cookie(handoff)
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


def _opened_without_cookie(handoff: str) -> Opened:
    """The first page after an open whose cookie the browser blocked inside the iframe.

    With bearer sessions (`BCAPP_SESSIONS` both or bearer) the page renders there: its handoff
    is spent for the session and the page's bearer token stands for it (bcapp/web/bearer.py).
    Only as a frame (`Sec-Fetch-Dest: iframe`), where the store's CSP `frame-ancestors` lets no
    site but its control panel show it: a link to somebody's handoff opened as a top-level
    page would sign the visitor in to that somebody's store (login CSRF). Otherwise, or in
    cookie mode, the page offers the app in a new tab (docs/sessions.md).
    """
    new_tab = url_for("callbacks.handoff", token=handoff)
    app_service = service()
    framed = request.headers.get("Sec-Fetch-Dest") == "iframe"
    if not framed or app_service.settings.sessions_mode == "cookie":
        raise CookieBlocked(new_tab)
    ref, opened = app_service.sessions.redeem_handoff(handoff)
    request.environ[_WITHOUT_COOKIE] = ref
    for_store(opened.installation)
    return opened


def page_ref() -> SessionRef | None:
    """The session of a page that opened without its cookie (None on any other request)."""
    ref: SessionRef | None = request.environ.get(_WITHOUT_COOKIE)
    return ref


def new_tab_url() -> str:
    """For a page that opened without its cookie: a fresh one-time link that opens the app in
    a new tab, where the cookie is first-party and every page works ("" on other pages)."""
    ref = page_ref()
    if ref is None:
        return ""
    return url_for("callbacks.handoff", token=service().sessions.new_handoff(ref))
