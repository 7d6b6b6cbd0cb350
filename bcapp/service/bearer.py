"""Bearer tokens for the app's own JavaScript in the control panel: sessions without cookies.

BigCommerce offers no App Bridge that mints tokens, and a browser blocking third-party cookies
drops bcapp's cookie inside the control-panel iframe. After a verified load (or install) the
page carries a short-lived bearer token (docs/sessions.md) that stands for the very session the
load opened: the same identifiers a cookie carries (store, user, installation, access, session
id), signed with a key of its own derived from SECRET_KEY (never the client secret, so a load
JWT is never one), valid `TOKEN_SECONDS`, renewable while the session lives and never past its
absolute lifetime. Every use is checked against Redis as a cookie is (bcapp/service/access.py):
the session's idle timer, the installation, the user; ending the session (uninstall, removed
user, logout, idle) ends every token at once.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from bcapp.clock import Clock
from bcapp.errors import Unauthorized
from bcapp.models import SessionRef
from bcapp.settings import Settings

TOKEN_SECONDS = 300
_LABEL = b"bcapp bearer session token v1"
MAX_TOKEN_CHARS = 1024


@dataclass(frozen=True)
class Bearer:
    """A verified bearer token: the session it stands for and when that session began."""

    ref: SessionRef
    born: int
    expires: int


class BearerTokens:
    """Mints and checks bearer tokens (the Redis check of the session is the caller's)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        keys = [settings.secret_key, *settings.secret_key_fallbacks]
        self._serializers = [URLSafeSerializer(_derive(key), salt="bcapp.bearer") for key in keys]
        self._clock = clock
        self._lifetime = settings.session_lifetime_seconds

    def mint(self, ref: SessionRef, born: int | None = None) -> tuple[str, int]:
        """A token for `ref` and its seconds to live (`born`: the session's start, kept by
        renewals so a session never outlives its absolute lifetime)."""
        now = int(self._clock.now())
        start = now if born is None else born
        expires = min(now + TOKEN_SECONDS, start + self._lifetime)
        if expires <= now:
            raise Unauthorized("bearer_session_over")
        payload = [ref.store_hash, ref.user_id, ref.install_id, ref.access_id, ref.session_id,
                   start, expires]
        return str(self._serializers[0].dumps(payload)), expires - now

    def verify(self, token: str) -> Bearer:
        """The bearer a token stands for; Unauthorized when forged, malformed or expired."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
            raise Unauthorized("bearer_malformed")
        for serializer in self._serializers:
            try:
                payload = serializer.loads(token)
            except BadSignature:
                continue
            return self._checked(payload)
        raise Unauthorized("bearer_signature")

    def _checked(self, payload: object) -> Bearer:
        if not isinstance(payload, list) or len(payload) != 7:
            raise Unauthorized("bearer_malformed")
        store, user, install, access, session, born, expires = payload
        if not (isinstance(store, str) and type(user) is int and isinstance(install, str)
                and isinstance(access, str) and isinstance(session, str) and session
                and type(born) is int and type(expires) is int):
            raise Unauthorized("bearer_malformed")
        if self._clock.now() >= expires:
            raise Unauthorized("bearer_expired")
        return Bearer(SessionRef(store, user, install, access, session), born, expires)


def _derive(secret_key: str) -> bytes:
    """A key for bearer tokens alone (HMAC of a fixed label), so no other signature of bcapp
    (the session cookie, a handoff) is ever a valid bearer."""
    return hmac.new(secret_key.encode(), _LABEL, hashlib.sha256).digest()
