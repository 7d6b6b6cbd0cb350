"""Installation records on Redis, and the directory of stores that have one.

Every write is one WATCH/MULTI/EXEC transaction over the store's keys (a concurrent writer
makes EXEC fail and the change is recomputed on fresh data); each transaction function returns
its result. A corrupt or undecryptable record is logged by name and treated as absent by every
operation: reads see no installation, an install overwrites it, an uninstall deletes it, key
rotation counts it as unreadable (docs/architecture.md, "Corrupt records").
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace

import redis
from redis.client import Pipeline

from bcapp.clock import Clock
from bcapp.crypto import TokenCipher
from bcapp.errors import InstallSuperseded
from bcapp.models import Installation, StoreUser
from bcapp.store import InstallRace
from bcapp.store.connection import Keyspace, transaction, unavailable_on_redis_error
from bcapp.store.keys import ENDED_WITH_STORE, INSTALLATION, MARKER, USERS, keys_of
from bcapp.store.lifecycle import raced_uninstall
from bcapp.store.records import (
    installation_fields,
    installation_from_json,
    installation_to_json,
    read_installation,
    readable,
    sealed_installation,
    user_to_json,
)
from bcapp.store.users import new_access_id, users_in

log = logging.getLogger(__name__)


class RedisInstallationStore:
    """InstallationStore and StoreDirectory on a redis-py client (users: bcapp/store/users.py)."""

    def __init__(
        self,
        client: redis.Redis,
        cipher: TokenCipher,
        keys: Keyspace,
        clock: Clock,
    ) -> None:
        self._redis = client
        self._cipher = cipher
        self._keys = keys
        self._clock = clock

    def ping(self) -> bool:
        """True when Redis answers PING."""
        with unavailable_on_redis_error("ping"):
            return bool(self._redis.ping())

    def save_installation(
        self,
        installation: Installation,
        installer: StoreUser,
        race: InstallRace | None = None,
    ) -> Installation:
        """Upsert the installation and installer atomically; the owner flag follows `owner_id`.

        With `race`, an uninstall recorded while the install ran wins: the grant is stored
        uninstalled (with the race's TTL), since BigCommerce revoked it while the code was
        being exchanged (docs/security.md R9). With `race.lock`, the write happens only while
        that install lock is still held (InstallSuperseded otherwise): the lock expired and a
        newer install, whose token invalidated this one, holds or has released it.
        """
        store_hash = installation.store_hash
        record_key, users_key = self._record_keys(store_hash)
        marker = MARKER.key(self._keys, store_hash)
        lock = race.lock if race is not None else None
        watched = (record_key, users_key, marker) + ((lock.key,) if lock else ())

        def write(pipe: Pipeline) -> Installation:
            if lock is not None and pipe.get(lock.key) != lock.token:
                raise InstallSuperseded("install_lock_lost")
            previous_raw = pipe.get(record_key)
            previous = self._time_field(store_hash, previous_raw, "installed_at")
            users = users_in(store_hash, pipe.hgetall(users_key))
            raced = None
            if race is not None:
                raced = raced_uninstall(
                    pipe.get(marker), race.marker_before, race.started_at, race.leeway
                )
            now = int(self._clock.now())
            current = replace(
                installation,
                installed_at=previous or now,
                updated_at=now,
                install_id=secrets.token_urlsafe(12),
                uninstall=raced,
            )
            if self._field(store_hash, previous_raw, "kind") == "api_account":
                log.warning(
                    "store=%s: the app install replaces the stored API account (installs take "
                    "precedence); the API account itself stays valid on BigCommerce",
                    store_hash,
                )
                users = {}
            owner_id = current.owner_id if current.owner_id is not None else installer.id
            users.setdefault(
                installer.id, replace(installer, access_id=new_access_id(), added_at=now)
            )
            pipe.multi()
            pipe.set(
                record_key,
                installation_to_json(current, self._cipher),
                ex=race.uninstalled_ttl if race is not None and raced is not None else None,
            )
            pipe.delete(users_key)  # drops entries that no longer parse, and any TTL
            pipe.hset(
                users_key,
                mapping={
                    str(uid): user_to_json(replace(user, is_owner=uid == owner_id))
                    for uid, user in users.items()
                },
            )
            if race is not None and raced is not None:
                pipe.expire(users_key, race.uninstalled_ttl)
            else:
                pipe.delete(marker)
            return current

        with unavailable_on_redis_error("save_installation"):
            stored = transaction(self._redis, write, *watched)
        return stored

    def save_api_account(self, account: Installation) -> Installation:
        """Store a store's own API account in place of whatever the store had (no users).

        The record replaces an app installation or another API account of the store; the
        caller has confirmed that. Its uninstall marker and users are dropped with it.
        """
        store_hash = account.store_hash
        record_key, users_key = self._record_keys(store_hash)
        marker = MARKER.key(self._keys, store_hash)

        def write(pipe: Pipeline) -> Installation:
            pipe.get(record_key)  # watched: a concurrent install makes this run again
            now = int(self._clock.now())
            stored = replace(
                account, installed_at=now, updated_at=now, install_id=secrets.token_urlsafe(12)
            )
            pipe.multi()
            pipe.set(record_key, installation_to_json(stored, self._cipher))
            pipe.delete(users_key, marker)
            return stored

        with unavailable_on_redis_error("save_api_account"):
            saved = transaction(self._redis, write, record_key, users_key, marker)
        return saved

    def forget(self, store_hash: str) -> bool:
        """Delete the store's records and uninstall marker (bcapp/store/keys.py); True when
        there was anything."""
        with unavailable_on_redis_error("forget"):
            deleted = self._redis.delete(*keys_of(self._keys, store_hash, ENDED_WITH_STORE))
        return bool(deleted)

    def get_installation(self, store_hash: str) -> Installation | None:
        """The installation of `store_hash`, or None (also when its record is corrupt)."""
        with unavailable_on_redis_error("get_installation"):
            raw = self._redis.get(INSTALLATION.key(self._keys, store_hash))
        return read_installation(store_hash, raw, self._cipher)

    def reencrypt(self, store_hash: str) -> bool:
        """Re-seal the token with the primary key; True when it was sealed with another.

        CorruptRecord when the record cannot be read (for example its key is not configured).
        """
        record_key = INSTALLATION.key(self._keys, store_hash)

        def rotate(pipe: Pipeline) -> bool:
            raw = pipe.get(record_key)
            pipe.multi()
            if raw is None:
                return False
            installation = installation_from_json(raw, store_hash, self._cipher)
            if not self._cipher.needs_rotation(installation_fields(raw)["access_token"]):
                return False
            pipe.set(record_key, installation_to_json(installation, self._cipher))
            return True

        with unavailable_on_redis_error("reencrypt"):
            rotated = transaction(self._redis, rotate, record_key)
        return rotated

    def list_store_hashes(self) -> list[str]:
        """Hashes of all installed stores (SCAN, never KEYS)."""
        pattern = self._keys.pattern(INSTALLATION.name)
        with unavailable_on_redis_error("list_store_hashes"):
            keys = list(self._redis.scan_iter(match=pattern, count=500))
        return sorted(Keyspace.store_hash_of(key) for key in keys)

    def installed_store_hashes(self) -> list[str]:
        """Hashes of the stores installed now, read in one pipeline without decrypting a token
        (a corrupt record is logged and left out)."""
        hashes = self.list_store_hashes()
        pipe = self._redis.pipeline(transaction=False)
        for store_hash in hashes:
            pipe.get(INSTALLATION.key(self._keys, store_hash))
        with unavailable_on_redis_error("installed_store_hashes"):
            records = pipe.execute() if hashes else []
        return [h for h, raw in zip(hashes, records, strict=True) if self._installed(h, raw)]

    def _installed(self, store_hash: str, raw: str | bytes | None) -> bool:
        record = readable(
            "installation", store_hash, raw, lambda text: sealed_installation(text, store_hash)
        )
        return (
            record is not None
            and record.installed
            and self._cipher.holds_key_for(record.sealed_token)
        )

    def _record_keys(self, store_hash: str) -> tuple[str, str]:
        return INSTALLATION.key(self._keys, store_hash), USERS.key(self._keys, store_hash)

    def _time_field(self, store_hash: str, raw: str | bytes | None, name: str) -> int | None:
        """`installed_at` or `updated_at` of a readable record; None when absent or corrupt."""
        value = self._field(store_hash, raw, name)
        return value if isinstance(value, int) else None

    def _field(self, store_hash: str, raw: str | bytes | None, name: str) -> object:
        """One field of a readable record (no decryption); None when absent or corrupt."""
        fields = readable("installation", store_hash, raw, installation_fields)
        return fields.get(name) if fields is not None else None
