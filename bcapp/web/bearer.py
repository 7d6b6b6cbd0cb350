"""Sessions without cookies, in the web layer: the page's bearer token, its renewal, `app_api`.

```python
@bp.get("/api/orders")
@app_api
def orders(ctx: AppContext) -> dict[str, object]:
    return {"orders": ctx.api.get("v2/orders", limit=20)}
```

An app page carries `<meta name="bcapp-token">` (the template global `bcapp_token()`), a token
standing for the page's session (bcapp/service/bearer.py); `bcapp.js` (served here, loaded by
bcapp's base template under the page's CSP nonce) sends it on the page's own `fetch` calls and
renews it through `POST /bigcommerce/session-token` while the session lives, and ends the
session when BigCommerce's SDK reports a logout. `app_api` takes the bearer first, then bcapp's
cookie (`BCAPP_SESSIONS` chooses: `both`, `bearer`, `cookie`), checks the session against Redis
as `app_page` does, and refuses with a 401 JSON and `WWW-Authenticate: Bearer
error="invalid_token"`: a load JWT, an expired or forged token, a removed user, an uninstalled
store all fail the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, make_response, render_template, request

from bcapp.errors import BcappError, Unauthorized
from bcapp.models import Opened, SessionRef
from bcapp.service.bearer import TOKEN_SECONDS, Bearer
from bcapp.web.context import service
from bcapp.web.kit import AppContext, check_csrf, current_context
from bcapp.web.sessions import bcapp_session, page_ref

bp = Blueprint("bearer", __name__)
TOKEN_PATH = "/bigcommerce/session-token"  # noqa: S105 - a path, not a password


def sessions_mode() -> str:
    """`BCAPP_SESSIONS`: "both" (default), "bearer" or "cookie"."""
    return service().settings.sessions_mode


def _cookie_ref() -> SessionRef | None:
    session = bcapp_session()
    found = (session.get("store"), session.get("user"), session.get("install"),
             session.get("access"), session.get("sid"))
    if not (isinstance(found[0], str) and type(found[1]) is int and isinstance(found[2], str)
            and isinstance(found[3], str) and isinstance(found[4], str) and found[4]):
        return None
    return SessionRef(found[0], found[1], found[2], found[3], found[4])


@bp.app_template_global()
def bcapp_token() -> str:
    """A bearer token for this page's session ("" without one, or in cookie mode)."""
    if sessions_mode() == "cookie":
        return ""
    ref = _cookie_ref() or page_ref()
    return service().bearer.mint(ref)[0] if ref is not None else ""


def _bearer_of_request() -> Bearer | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    return service().bearer.verify(header[7:].strip())


def _context(opened: Opened) -> AppContext:
    installation = opened.installation
    stores = service().stores
    return AppContext(installation.store_hash, installation, opened.user,
                      stores.client_for(installation),
                      app_data=stores.app_data(installation.store_hash))


def _authenticated() -> tuple[AppContext, Bearer | None]:
    """The context of a bearer (checked against Redis), else of the cookie; Unauthorized."""
    mode = sessions_mode()
    bearer = _bearer_of_request() if mode != "cookie" else None
    if bearer is not None:
        return _context(service().sessions.resume(bearer.ref)), bearer
    if mode == "bearer":
        raise Unauthorized("bearer_missing")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check_csrf()  # a cookie is ambient: a state-changing call proves it comes from a page
    return current_context(), None


def app_api(view: Callable[..., Any]) -> Callable[..., Response]:
    """Decorate a JSON view `(ctx: AppContext, **url_arguments)` of the app's own API."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Response:
        try:
            ctx, _ = _authenticated()
        except BcappError as exc:
            return refusal(exc)
        return make_response(view(ctx, *args, **kwargs))

    return guarded


def refusal(exc: BcappError) -> Response:
    """A refusal as JSON: 401 with the bearer challenge for anything unauthenticated."""
    status = exc.status if exc.status != 400 else 401
    answer = jsonify(error="invalid_token" if status == 401 else exc.reason)
    answer.status_code = status
    if status == 401:
        answer.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if exc.retry_after:
        answer.headers["Retry-After"] = str(exc.retry_after)
    return answer


@bp.post(TOKEN_PATH)
def session_token() -> Response:
    """A fresh token for the caller's live session: `{"token", "expires_in"}`."""
    try:
        ctx, bearer = _authenticated()
        ref = bearer.ref if bearer is not None else _cookie_ref()
        if ref is None or ref.store_hash != ctx.store_hash:
            raise Unauthorized("no_session")
        token, seconds = service().bearer.mint(ref, bearer.born if bearer else None)
    except BcappError as exc:
        return refusal(exc)
    return jsonify(token=token, expires_in=seconds)


@bp.post(TOKEN_PATH + "/end")
def end_session() -> Response:
    """End the caller's session (BigCommerce's SDK reported a logout): every token and the
    cookie of that session stop working at once."""
    try:
        _, bearer = _authenticated()
        ref = bearer.ref if bearer is not None else _cookie_ref()
        if ref is None:
            raise Unauthorized("no_session")
        service().sessions.end(ref)
    except BcappError as exc:
        return refusal(exc)
    bcapp_session().clear()
    return jsonify(ended=True)


@bp.get("/bigcommerce/bcapp.js")
def script() -> Response:
    """The script that carries the page's token on its `fetch` calls (bcapp/templates)."""
    page = render_template("bcapp/bcapp.js", token_path=TOKEN_PATH, lifetime=TOKEN_SECONDS)
    answer = Response(page, mimetype="text/javascript")
    answer.headers["Cache-Control"] = "public, max-age=300"
    return answer
