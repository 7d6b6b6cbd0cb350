"""The signed-callback guard shared by load, uninstall and remove-user.

It reads exactly one `signed_payload_jwt` (or, failing that, a legacy `signed_payload`),
verifies it with the current and previous client secrets, and burns its nonce so the payload
is accepted once across all three callbacks (SECURITY.md A1.9, A1.10).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TypeVar

from flask import request
from werkzeug.exceptions import MethodNotAllowed

from bcapp.blueprints.params import single
from bcapp.errors import BadRequest, Unauthorized
from bcapp.runtime import runtime
from bcapp.signing import (
    MAX_PAYLOAD_CHARS,
    CallbackClaims,
    verify_legacy_signed_payload,
    verify_signed_payload_jwt,
)

log = logging.getLogger(__name__)
R = TypeVar("R")


def verified_callback() -> CallbackClaims:
    """Verify the current request's signed payload and burn its nonce; raise 400/401 otherwise."""
    if request.method != "GET":  # Flask adds HEAD to GET routes; HEAD must not burn a payload
        raise MethodNotAllowed(valid_methods=["GET"])
    rt = runtime()
    settings = rt.settings
    secrets = [settings.client_secret, *settings.previous_client_secrets]
    now = rt.clock()
    token = single("signed_payload_jwt", MAX_PAYLOAD_CHARS, required=False)
    if token is not None:
        claims = verify_signed_payload_jwt(
            token,
            settings.client_id,
            secrets,
            now,
            settings.jwt_leeway_seconds,
            settings.jwt_max_lifetime_seconds,
        )
    else:
        legacy = single("signed_payload", MAX_PAYLOAD_CHARS, required=False)
        if legacy is None or not settings.legacy_payloads:
            raise BadRequest("missing_signed_payload")
        claims = verify_legacy_signed_payload(
            legacy,
            secrets,
            now,
            settings.legacy_payload_max_age_seconds,
            settings.jwt_leeway_seconds,
        )
    ttl = int(claims.expires_at - now) + settings.jwt_leeway_seconds
    if not rt.store.burn_once(claims.store_hash, claims.nonce, ttl):
        log.warning("replayed callback payload for store=%s on %s", claims.store_hash, request.path)
        raise Unauthorized("replayed")
    return claims


def signed_callback(view: Callable[[CallbackClaims], R]) -> Callable[[], R]:
    """Decorate a view taking the verified claims as its only argument."""

    @functools.wraps(view)
    def guarded() -> R:
        return view(verified_callback())

    return guarded
