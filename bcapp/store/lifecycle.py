"""The uninstall lifecycle on Redis: soft uninstall, reinstatement and purge.

An uninstall does not delete: it marks the installation uninstalled (a new `install_id`, so
every session dies at once), writes an uninstall marker, and gives the record, its users and
the marker a TTL of the grace period plus a day. A genuine load issued after the uninstall
reinstates the record (TTLs removed); `bcapp reconcile` purges it when the grace has passed;
if nothing runs, Redis drops it a day later. The marker also outlives a missing record, so an
install whose code exchange was in flight when the uninstall arrived sees it (docs/security.md
R9).
"""

from __future__ import annotations

import enum
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import replace

import redis
from redis.client import Pipeline

from bcapp.crypto import TokenCipher
from bcapp.models import Installation, UninstallEvent
from bcapp.store.connection import Keyspace, transaction, unavailable_on_redis_error
from bcapp.store.keys import (
    ENDED_WITH_STORE,
    FOLLOWERS,
    INSTALLATION,
    MARKER,
    USERS,
    keys_of,
)
from bcapp.store.records import (
    CorruptRecord,
    event_from_json,
    event_to_dict,
    installation_to_json,
    read_installation,
    read_user,
    user_to_json,
)
from bcapp.validation import Person

log = logging.getLogger(__name__)

# Records of an uninstalled store outlive the grace period by this much, so that `reconcile`
# (which purges at the end of the grace and sends `installation_purged`) runs before Redis
# expires them.
PURGE_MARGIN_SECONDS = 86400


class Uninstalled(enum.Enum):
    """What marking a store uninstalled did."""

    NOW = "uninstalled"  # it was installed and is now uninstalled
    ALREADY = "already_uninstalled"
    NEWER_INSTALL = "newer_install_kept"  # installed after the event: left alone
    ABSENT = "not_installed"


class RedisLifecycle:
    """Soft uninstall, reinstatement and purge, each one WATCH/MULTI/EXEC transaction."""

    def __init__(
        self,
        client: redis.Redis,
        cipher: TokenCipher,
        keys: Keyspace,
        on_reinstated: Callable[[str], object] | None = None,
    ) -> None:
        self._redis = client
        self._cipher = cipher
        self._keys = keys
        # Called with the store's hash after a reinstatement: the composition root queues the
        # runs held while the store stood uninstalled (bcapp/service/dead_letters.py, resume).
        self._on_reinstated = on_reinstated

    def mark_uninstalled(
        self,
        store_hash: str,
        event: UninstallEvent,
        grace_seconds: int,
        leeway: int,
        install_id: str | None = None,
    ) -> Uninstalled:
        """Mark the store uninstalled as of `event`, unless it was (re-)installed after it.

        With `install_id` (reconcile, which saw a token fail), only that installation is
        ended: a re-install that replaced it meanwhile is left alone.
        """
        record_key, users_key, marker_key = self._keys_of(store_hash)
        ttl = grace_seconds + PURGE_MARGIN_SECONDS

        def mark(pipe: Pipeline) -> Uninstalled:
            current = self._read(store_hash, pipe.get(record_key))
            pipe.multi()
            if current is not None and current.updated_at > event.at + leeway:
                return Uninstalled.NEWER_INSTALL
            if install_id is not None and (current is None or current.install_id != install_id):
                return Uninstalled.NEWER_INSTALL
            # A fresh id per marker lets an install see that one was written while it ran.
            marker = {**(event_to_dict(event) or {}), "id": secrets.token_hex(8)}
            pipe.set(marker_key, json.dumps(marker), ex=ttl)
            if current is None:
                pipe.delete(record_key)  # a corrupt record goes with the uninstall
                return Uninstalled.ABSENT
            if not current.is_installed:
                return Uninstalled.ALREADY
            marked = replace(current, uninstall=event, install_id=secrets.token_urlsafe(12))
            pipe.set(record_key, installation_to_json(marked, self._cipher), ex=ttl)
            for follower in keys_of(self._keys, store_hash, FOLLOWERS):
                pipe.expire(follower, ttl)
            return Uninstalled.NOW

        with unavailable_on_redis_error("mark_uninstalled"):
            outcome: Uninstalled = transaction(self._redis, mark, record_key, users_key, marker_key)
        return outcome

    def reinstate(
        self, store_hash: str, issued_at: int | None, leeway: int
    ) -> Installation | None:
        """Undo a soft uninstall for a payload issued after it (beyond the leeway), or, with
        `issued_at` None, because BigCommerce still honours the token; else None."""
        record_key, users_key, marker_key = self._keys_of(store_hash)

        def undo(pipe: Pipeline) -> Installation | None:
            current = self._read(store_hash, pipe.get(record_key))
            pipe.multi()
            if current is None or current.uninstall is None:
                return None
            if issued_at is not None and issued_at <= current.uninstall.at + leeway:
                return None  # issued before the uninstall: BigCommerce had it installed then
            restored = replace(current, uninstall=None, install_id=secrets.token_urlsafe(12))
            pipe.set(record_key, installation_to_json(restored, self._cipher))
            for follower in keys_of(self._keys, store_hash, FOLLOWERS):
                pipe.persist(follower)
            pipe.delete(marker_key)
            return restored

        with unavailable_on_redis_error("reinstate"):
            restored: Installation | None = transaction(
                self._redis, undo, record_key, users_key, marker_key
            )
        if restored is not None and self._on_reinstated is not None:
            self._on_reinstated(store_hash)
        return restored

    def mark_token_rejected(self, store_hash: str, install_id: str, at: int) -> bool:
        """Flag the installation whose token the API refused; True the first time only.

        Only while `install_id` is still the stored one: a re-install meanwhile has a new token.
        """
        record_key = INSTALLATION.key(self._keys, store_hash)

        def mark(pipe: Pipeline) -> bool:
            current = self._read(store_hash, pipe.get(record_key))
            pipe.multi()
            if current is None or current.install_id != install_id:
                return False
            if current.token_rejected_at is not None:
                return False
            flagged = replace(current, token_rejected_at=at)
            # KEEPTTL: an uninstalled record keeps its grace-period TTL.
            pipe.set(record_key, installation_to_json(flagged, self._cipher), keepttl=True)
            return True

        with unavailable_on_redis_error("mark_token_rejected"):
            marked: bool = transaction(self._redis, mark, record_key)
        return marked

    def marker(self, store_hash: str) -> str | None:
        """The current uninstall marker, as stored (an install compares it before saving)."""
        with unavailable_on_redis_error("uninstall_marker"):
            raw = self._redis.get(MARKER.key(self._keys, store_hash))
        return None if raw is None else str(raw)

    def purge_if_due(self, store_hash: str, now: int, grace_seconds: int) -> bool:
        """Delete an uninstalled store whose grace has ended; True for the one call that did."""
        record_key, users_key, marker_key = self._keys_of(store_hash)

        def purge(pipe: Pipeline) -> bool:
            current = self._read(store_hash, pipe.get(record_key))
            pipe.multi()
            if current is None or current.uninstall is None:
                return False
            if current.uninstall.recorded_at + grace_seconds > now:
                return False
            pipe.delete(*keys_of(self._keys, store_hash, ENDED_WITH_STORE))
            return True

        with unavailable_on_redis_error("purge"):
            purged: bool = transaction(self._redis, purge, record_key, users_key, marker_key)
        return purged

    def _keys_of(self, store_hash: str) -> tuple[str, str, str]:
        record, users, marker = keys_of(self._keys, store_hash, (INSTALLATION, USERS, MARKER))
        return record, users, marker

    def follow_owner(self, store_hash: str, owner: Person, issued_at: int) -> Installation | None:
        """Make `owner` the store's owner, named by a verified payload issued at `issued_at`,
        unless a newer claim (or the install) named the owner since; every user's owner flag
        follows, in the same transaction. The installation as stored afterwards, or None when
        there is no installed record."""
        record_key, users_key = keys_of(self._keys, store_hash, (INSTALLATION, USERS))

        def follow(pipe: Pipeline) -> Installation | None:
            current = self._read(store_hash, pipe.get(record_key))
            users = pipe.hgetall(users_key)
            pipe.multi()
            if current is None or not current.is_installed:
                return None
            since = current.owner_since if current.owner_since is not None else current.updated_at
            if current.owner_id == owner.id or issued_at < since:
                return current
            moved = replace(
                current, owner_id=owner.id, owner_email=owner.email, owner_since=issued_at
            )
            pipe.set(record_key, installation_to_json(moved, self._cipher), keepttl=True)
            for uid, raw in users.items():
                user = read_user(store_hash, raw)
                if user is not None and user.is_owner != (user.id == owner.id):
                    flagged = replace(user, is_owner=user.id == owner.id)
                    pipe.hset(users_key, uid, user_to_json(flagged))
            return moved

        with unavailable_on_redis_error("follow_owner"):
            followed: Installation | None = transaction(
                self._redis, follow, record_key, users_key
            )
        if followed is not None and followed.owner_since == issued_at:
            log.warning("store=%s: ownership moved to user=%s", store_hash, owner.id)
        return followed

    def _read(self, store_hash: str, raw: str | bytes | None) -> Installation | None:
        return read_installation(store_hash, raw, self._cipher)


def raced_uninstall(
    raw: str | bytes | None, seen_before: str | None, started_at: int, leeway: int
) -> UninstallEvent | None:
    """The uninstall recorded while an install ran, if any.

    It must be a marker written since the install read `seen_before` (exact, no clocks), for an
    event not issued before the install started (beyond the leeway): a delayed callback about
    an earlier uninstall does not end the new installation.
    """
    if raw is None or raw == seen_before:
        return None
    try:
        event = event_from_json(raw)
    except CorruptRecord:
        return None
    return event if event.at + leeway >= started_at else None
