"""The users with access to each store, on Redis.

A user is added on their first load and removed by the remove-user callback; a removal leaves a
tombstone (bcapp/store/ephemeral.py) for as long as a payload issued before it still verifies,
so a first load with such a payload cannot add the user back. Adding a user is one WATCH/MULTI
transaction over the record, the users hash and that tombstone. A corrupt entry is logged and
treated as absent (docs/architecture.md, "Corrupt records").
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

import redis
from redis.client import Pipeline

from bcapp.clock import Clock
from bcapp.models import StoreUser
from bcapp.store import AccessRefused
from bcapp.store.connection import Keyspace, transaction, unavailable_on_redis_error
from bcapp.store.ephemeral import RedisShortLivedRecords
from bcapp.store.keys import INSTALLATION, USERS
from bcapp.store.records import installation_fields, read_user, readable, user_to_json


class RedisStoreUsers:
    """StoreUsers on a redis-py client; removed users' tombstones kept by `tombstones`."""

    def __init__(
        self, client: redis.Redis, keys: Keyspace, clock: Clock, tombstones: RedisShortLivedRecords
    ) -> None:
        self._redis = client
        self._keys = keys
        self._clock = clock
        self._tombstones = tombstones

    def get_user(self, store_hash: str, user_id: int) -> StoreUser | None:
        """A user with access, or None (also when the entry is corrupt)."""
        with unavailable_on_redis_error("get_user"):
            raw = self._redis.hget(USERS.key(self._keys, store_hash), str(user_id))
        return read_user(store_hash, raw)

    def add_user(
        self, store_hash: str, user: StoreUser, issued_at: int
    ) -> StoreUser | AccessRefused:
        """Grant access for a payload issued at `issued_at`, checked in one transaction.

        An existing readable entry wins. Refused when the store is not installed (or
        soft-uninstalled), or when the user was removed at or after `issued_at`: the tombstone
        is watched, so a remove-user racing this first load cannot be undone by it.
        """
        record_key = INSTALLATION.key(self._keys, store_hash)
        users_key = USERS.key(self._keys, store_hash)
        tombstone_key = self._tombstones.tombstone_key(store_hash, user.id)

        def add(pipe: Pipeline) -> StoreUser | AccessRefused:
            existing = read_user(store_hash, pipe.hget(users_key, str(user.id)))
            record = pipe.get(record_key)
            removed_at = self._tombstones.removal_time(store_hash, pipe.get(tombstone_key))
            pipe.multi()
            if existing is not None:
                return existing
            if not _installed(store_hash, record):
                return AccessRefused.NOT_INSTALLED
            if removed_at is not None and issued_at <= removed_at:
                return AccessRefused.REMOVED
            fresh = replace(user, access_id=new_access_id(), added_at=int(self._clock.now()))
            pipe.hset(users_key, str(user.id), user_to_json(fresh))
            return fresh

        with unavailable_on_redis_error("add_user"):
            added = transaction(self._redis, add, record_key, users_key, tombstone_key)
        return added

    def remove_user(self, store_hash: str, user_id: int, removed_at: int) -> bool:
        """Remove a user's access and keep a tombstone for as long as a payload can live."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.hdel(USERS.key(self._keys, store_hash), str(user_id))
        self._tombstones.write_tombstone(pipe, store_hash, user_id, removed_at)
        with unavailable_on_redis_error("remove_user"):
            removed, _ = pipe.execute()
        return bool(removed)

    def list_users(self, store_hash: str) -> list[StoreUser]:
        """All readable users with access to the store, by id."""
        with unavailable_on_redis_error("list_users"):
            raw = self._redis.hgetall(USERS.key(self._keys, store_hash))
        return sorted(users_in(store_hash, raw).values(), key=lambda user: user.id)

    def user_removed_at(self, store_hash: str, user_id: int) -> int | None:
        """When (payload time) the user's access was last removed, if recently."""
        return self._tombstones.user_removed_at(store_hash, user_id)


def users_in(store_hash: str, raw: dict[Any, Any]) -> dict[int, StoreUser]:
    """The readable users of a users hash, by id; corrupt entries are logged and skipped."""
    users = (read_user(store_hash, value) for value in raw.values())
    return {user.id: user for user in users if user is not None}


def new_access_id() -> str:
    """A fresh access id: removing a user deletes it, which revokes their sessions."""
    return secrets.token_urlsafe(12)


def _installed(store_hash: str, raw: str | bytes | None) -> bool:
    """True for a readable record of a store installed now (nothing decrypted)."""
    fields = readable("installation", store_hash, raw, installation_fields)
    return (
        fields is not None
        and isinstance(fields.get("updated_at"), int)
        and fields.get("uninstall") is None
    )
