"""Load: open the app for a verified user, in one Redis round trip for a returning user.

The payload is verified first (no Redis). Then one script (bcapp/store/load_path.py) counts the
request against the abuse limits, spends the payload, reads the installation and the user and,
for an installed store and a user with access, starts the session and its handoff. This module
checks what the script read with the rules every reader follows (docs/architecture.md,
"Corrupt records") and the required scopes, without decrypting the access token: the load
never uses it. Anything else (a first load, an uninstalled store, a corrupt record, a grant
that misses a scope) undoes the session and takes the full path of access.open_app, which
gives every refusal its exact reason (docs/architecture.md, "The load path").
"""

from __future__ import annotations

import functools
import logging
import secrets

from bcapp import signals
from bcapp.clock import Clock
from bcapp.crypto import TokenCipher
from bcapp.errors import BcappError, Unauthorized
from bcapp.models import AppOpened, CallbackClaims, SessionRef
from bcapp.service import access, callbacks, handoff
from bcapp.service.limits import AbuseLimits, address_subject
from bcapp.service.sessions import frame_ancestors, store_frame_ancestors
from bcapp.settings import Settings
from bcapp.store import InstallRecords, LoadPath, SessionTokens
from bcapp.store.load_path import LoadAttempt, LoadReply, LoadStatus
from bcapp.store.records import CorruptRecord
from bcapp.store.remembered import remembered_sealed, remembered_user
from bcapp.validation import printable

log = logging.getLogger(__name__)
ROUTE = "load"
# A client address's counter subject (an address parse and a digest), computed once per address
# a process keeps seeing rather than on every load; bounded, whatever addresses arrive.
_subject_of = functools.lru_cache(maxsize=4096)(address_subject)


class Loader:
    """Opens the app on a load callback: the one-round-trip path, else the full one."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        limits: AbuseLimits,
        load_path: LoadPath,
        cipher: TokenCipher,
        *,
        records: InstallRecords,
        sessions: SessionTokens,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._limits = limits
        self._path = load_path
        self._cipher = cipher
        self._records = records
        self._sessions = sessions

    def load(self, jwt_payload: str | None, legacy_payload: str | None, address: str) -> AppOpened:
        """Verify, count, spend and open; 400/401/403/404/429 like every callback otherwise.

        A payload that does not verify still counts against its address (and is refused with
        429 when the address is over its limit), as every callback request does.
        """
        settings = self._settings
        try:
            claims = callbacks.verify_payload(
                jwt_payload, legacy_payload, settings, self._clock.now()
            )
        except BcappError:
            self._limits.admit_address(ROUTE, address)
            raise
        session_id = secrets.token_urlsafe(16)
        token = handoff.new_token(claims.store_hash)
        reply = self._path.open(self._attempt(claims, address, session_id, token))
        if reply.status is LoadStatus.ADDRESS_LIMITED:
            log.warning("abuse limit: address %s over its limit on load", printable(address))
            raise self._limits.refusal("address")
        if reply.status is LoadStatus.STORE_LIMITED:
            log.warning("abuse limit: store=%s over its limit on load", claims.store_hash)
            raise self._limits.refusal("store")
        if reply.status is LoadStatus.REPLAYED:
            log.warning("replayed callback payload for store=%s", claims.store_hash)
            raise Unauthorized("replayed")
        if reply.status is LoadStatus.OPENED:
            loaded = self._confirm(claims, reply, session_id, token)
            if loaded is not None:
                return loaded
            self._path.undo(claims.store_hash, session_id, token)
        return self._open_fully(claims)

    def _attempt(
        self, claims: CallbackClaims, address: str, session_id: str, token: str
    ) -> LoadAttempt:
        policy = self._limits.policy
        return LoadAttempt(
            store_hash=claims.store_hash,
            user_id=claims.user.id,
            nonce=claims.nonce,
            nonce_seconds=callbacks.replay_ttl(claims, self._clock.now(), self._settings),
            address_subject=_subject_of(address) if policy.per_address > 0 else None,
            per_address=policy.per_address,
            per_store=policy.per_store,
            window_seconds=policy.window_seconds,
            window=self._limits.window(),
            session_id=session_id,
            idle_seconds=self._settings.session_idle_seconds,
            handoff_token=token,
            handoff_seconds=handoff.HANDOFF_SECONDS,
        )

    def _confirm(
        self, claims: CallbackClaims, reply: LoadReply, session_id: str, token: str
    ) -> AppOpened | None:
        """The opened app when the records the script read pass every reader's rules."""
        store_hash = claims.store_hash
        if reply.record is None or reply.user is None:
            return None
        try:  # a fault is left to the full path, whose reader logs it once
            record = remembered_sealed(reply.record, store_hash)
            user = remembered_user(reply.user)
        except CorruptRecord:
            return None
        owner = claims.owner
        if (
            user.id != claims.user.id
            or not record.installed
            or (owner is not None and record.owner_id != owner.id)  # ownership moved
            or not self._cipher.holds_key_for(record.sealed_token)
            or not record.scopes.covers(self._settings.required_scopes)
        ):
            return None
        ref = SessionRef(store_hash, user.id, record.install_id, user.access_id, session_id)
        signals.app_loaded.send(store_hash, user=user, path=claims.url)
        ancestors = store_frame_ancestors(
            self._settings, store_hash, record.control_panel_url
        )
        return AppOpened(
            ref, token, ancestors, claims.url, claims.channel_id, claims.locale, claims.url
        )

    def _open_fully(self, claims: CallbackClaims) -> AppOpened:
        """The full path: reinstatement, first-load provisioning and every exact refusal."""
        settings = self._settings
        opened = access.open_app(
            claims,
            self._records,
            settings.required_scopes,
            settings.multi_user,
            settings.jwt_leeway_seconds,
        )
        ref, token = access.start_session(opened, self._sessions, settings.session_idle_seconds)
        ancestors = frame_ancestors(settings, opened.installation)
        return AppOpened(
            ref, token, ancestors, claims.url, claims.channel_id, claims.locale, claims.url
        )

