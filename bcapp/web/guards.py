"""The signed-callback guard of uninstall and remove-user, and the payload reader load shares.

It reads exactly one `signed_payload_jwt` (or a legacy `signed_payload`) from the query and
hands it to the service, which verifies it and spends its nonce (docs/security.md R1, R2).
Load reads the payload the same way and hands it to `AppCallbacks.load`, which verifies and spends
it in its one round trip. Only a real GET gets that far: HEAD never spends a payload.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from flask import request
from werkzeug.exceptions import MethodNotAllowed

from bcapp.models import CallbackClaims
from bcapp.signing import MAX_PAYLOAD_CHARS
from bcapp.web.context import service
from bcapp.web.params import single
from bcapp.web.routes import callback_route

R = TypeVar("R")


def signed_payloads() -> tuple[str | None, str | None]:
    """The request's one `signed_payload_jwt`, else its one legacy `signed_payload` (400 if bad)."""
    if request.method != "GET":  # Flask adds HEAD to GET routes; HEAD must not burn a payload
        raise MethodNotAllowed(valid_methods=["GET"])
    jwt_payload = single("signed_payload_jwt", MAX_PAYLOAD_CHARS, required=False)
    legacy = None
    if jwt_payload is None:
        legacy = single("signed_payload", MAX_PAYLOAD_CHARS, required=False)
    return jwt_payload, legacy


def verified_callback() -> CallbackClaims:
    """Verify the current request's signed payload and burn its nonce; raise 400/401 otherwise."""
    jwt_payload, legacy = signed_payloads()
    route = callback_route()
    assert route is not None, "a signed callback's view is a declared callback"
    return service().callbacks.verify(jwt_payload, legacy, route.name)


def signed_callback(view: Callable[[CallbackClaims], R]) -> Callable[[], R]:
    """Decorate a view taking the verified claims as its only argument."""

    @functools.wraps(view)
    def guarded() -> R:
        return view(verified_callback())

    return guarded
