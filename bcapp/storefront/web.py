"""`@storefront.customer`: an app view a storefront script calls, for the shopper BigCommerce
vouches for.

```python
@bp.post("/storefront/badge")
@storefront.customer
def badge(ctx: storefront.ShopperContext) -> dict[str, str]:
    return {"hello": ctx.customer.email}
```

The script sends the Current Customer JWT (bcapp/storefront/shopper.py) as
`Authorization: Bearer <jwt>`, or as `token` in a JSON or form body. The view answers CORS only
for the storefront origins of an installed store (that token's store; the preflight, which
carries no credential, for any installed store's storefront), never `*`; requests are counted
per address and per store; every refusal is a 401 (429 over a limit, 403 for another origin's
preflight) with a JSON body that says no more than that.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, make_response, request

from bcapp.errors import TooManyRequests, Unauthorized
from bcapp.storefront.scripts import serve_shoppers
from bcapp.storefront.service import Shopper
from bcapp.web.context import current as deployment

ShopperContext = Shopper
MAX_AGE_SECONDS = 600
ALLOWED_HEADERS = "Authorization, Content-Type"


def customer(view: Callable[..., Any]) -> Callable[..., Response]:
    """Decorate a view `(ctx: ShopperContext, **url_arguments)` of the app's storefront API."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Response:
        storefront = deployment().storefront
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":
            allowed = storefront.allowed_origin(origin)
            if allowed is None:
                return _refusal(403, "origin_not_allowed")
            answer = make_response("", 204)
            methods = sorted(view_methods() - {"OPTIONS", "HEAD"})
            answer.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
            answer.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            answer.headers["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
            return _cors(answer, allowed)
        try:
            storefront.admit(request.remote_addr or "")
            shopper = storefront.shopper(_token())
        except Unauthorized:
            return _refusal(401, "unauthorized")
        except TooManyRequests as exc:
            return _refusal(429, "too_many_requests", exc.retry_after)
        allowed = storefront.allowed_origin(origin, shopper.store_hash) if origin else None
        if origin and allowed is None:
            return _refusal(401, "unauthorized")
        answer = make_response(view(shopper, *args, **kwargs))
        return _cors(answer, allowed) if allowed else answer

    serve_shoppers()  # the stores' storefront origins are learned from now on
    guarded.required_methods = {"OPTIONS"}  # type: ignore[attr-defined]
    guarded.provide_automatic_options = False  # type: ignore[attr-defined]
    return guarded


def view_methods() -> set[str]:
    """The methods the matched rule serves."""
    rule = request.url_rule
    return set(rule.methods or ()) if rule is not None else {"POST"}


def _token() -> str:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    body = request.get_json(silent=True) if request.is_json else None
    found = body.get("token") if isinstance(body, dict) else request.form.get("token")
    if not isinstance(found, str):
        raise Unauthorized("customer_jwt_missing")
    return found


def _cors(answer: Response, origin: str) -> Response:
    answer.headers["Access-Control-Allow-Origin"] = origin
    answer.headers.add("Vary", "Origin")
    return answer


def _refusal(status: int, error: str, retry: int | None = None) -> Response:
    answer = jsonify(error=error)
    answer.status_code = status
    answer.headers.add("Vary", "Origin")
    if status == 401:
        answer.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if retry:
        answer.headers["Retry-After"] = str(retry)
    return answer


def login_url(store_hash: str, customer_id: int, **options: Any) -> str:
    """Where to send a shopper to sign them in (bcapp/storefront/login.py), in a request of
    the current app; outside one, `bcapp.connect().storefront.login_url`."""
    return deployment().storefront.login_url(store_hash, customer_id, **options)
