"""Verify a signed callback payload and spend it, once, across load, uninstall and remove-user.

Exactly one `signed_payload_jwt` (or, failing that and when allowed, a legacy `signed_payload`)
is verified with the current and previous client secrets against the injected clock; its nonce
is then burned so the payload is accepted once (docs/security.md R1, R2).
"""

from __future__ import annotations

import logging
import math

from bcapp.clock import Clock
from bcapp.errors import BadRequest, Unauthorized
from bcapp.models import CallbackClaims
from bcapp.settings import Settings
from bcapp.signing import verify_legacy_signed_payload, verify_signed_payload_jwt
from bcapp.store import ReplayGuards

log = logging.getLogger(__name__)


def spend(
    claims: CallbackClaims, settings: Settings, clock: Clock, guards: ReplayGuards
) -> None:
    """Burn the payload's nonce; Unauthorized (401) when it was spent before."""
    ttl = replay_ttl(claims, clock.now(), settings)
    if not guards.burn_once(claims.store_hash, claims.nonce, ttl):
        log.warning("replayed callback payload for store=%s", claims.store_hash)
        raise Unauthorized("replayed")


def verify_payload(
    jwt_payload: str | None, legacy_payload: str | None, settings: Settings, now: float
) -> CallbackClaims:
    """Verify without spending: the JWT when present, else the legacy payload when allowed."""
    secrets = [settings.client_secret, *settings.previous_client_secrets]
    if jwt_payload is not None:
        return verify_signed_payload_jwt(
            jwt_payload,
            settings.client_id,
            secrets,
            now,
            settings.jwt_leeway_seconds,
            settings.jwt_max_lifetime_seconds,
        )
    if legacy_payload is None or not settings.legacy_payloads:
        raise BadRequest("missing_signed_payload")
    return verify_legacy_signed_payload(
        legacy_payload,
        secrets,
        now,
        settings.legacy_payload_max_age_seconds,
        settings.jwt_leeway_seconds,
    )


def replay_ttl(claims: CallbackClaims, now: float, settings: Settings) -> int:
    """How long the replay guard must live: as long as the payload still verifies, rounded up."""
    return max(math.ceil(claims.expires_at + settings.jwt_leeway_seconds - now), 1)
