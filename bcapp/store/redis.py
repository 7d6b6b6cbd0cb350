"""The installation store on Redis.

Keys are namespaced and hash-tagged per store, ``<prefix>:{<store_hash>}:<kind>``, so one
store's keys share a Redis Cluster slot and change together in one WATCH/MULTI/EXEC
transaction (the per-store lock: a concurrent writer makes EXEC fail and the change is
recomputed on fresh data). Values are JSON; access tokens are AES-GCM ciphertext. Anything
ephemeral (replay guards) carries a TTL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import redis
from redis.client import Pipeline

from bcapp.crypto import DecryptionError, TokenCipher
from bcapp.errors import StoreUnavailable
from bcapp.scopes import ScopeSet
from bcapp.store import Installation, StoreUser
from bcapp.validation import STORE_HASH

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 2.0
SOCKET_TIMEOUT_SECONDS = 2.0
# A removed user's tombstone outlives any payload issued before the removal (24 h + slack).
REMOVAL_MEMORY_SECONDS = 86400 + 3600


def connect(url: str, max_connections: int = 32) -> redis.Redis:
    """A Redis client for `url` with explicit timeouts and a bounded pool (SECURITY.md A6.6).

    ``rediss://`` verifies the server certificate (redis-py's default, never turned off here).
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
        max_connections=max_connections,
        decode_responses=True,
    )


@contextmanager
def unavailable_on_redis_error(operation: str) -> Iterator[None]:
    """Turn any Redis failure into StoreUnavailable (503) with a log line and no secrets."""
    try:
        yield
    except redis.RedisError as exc:
        log.error("redis %s failed: %s", operation, type(exc).__name__)
        raise StoreUnavailable("redis_" + operation) from exc


class RedisInstallationStore:
    """InstallationStore on a redis-py client."""

    def __init__(self, client: redis.Redis, cipher: TokenCipher, prefix: str = "bcapp") -> None:
        self._redis = client
        self._cipher = cipher
        self._prefix = prefix

    def key(self, store_hash: str, kind: str) -> str:
        """The namespaced, hash-tagged key of one store's `kind` record."""
        if not STORE_HASH.fullmatch(store_hash):  # callers validate; this keeps keys unforgeable
            raise ValueError("not a store hash")
        return f"{self._prefix}:{{{store_hash}}}:{kind}"

    def ping(self) -> bool:
        """True when Redis answers PING."""
        with unavailable_on_redis_error("ping"):
            return bool(self._redis.ping())

    def save_installation(self, installation: Installation, installer: StoreUser) -> Installation:
        """Upsert the installation and installer atomically; the owner flag follows `owner_id`."""
        store_hash = installation.store_hash
        record_key, users_key = self.key(store_hash, "installation"), self.key(store_hash, "users")
        now = int(time.time())
        stored: dict[str, Installation] = {}

        def write(pipe: Pipeline) -> None:
            previous = pipe.get(record_key)
            users = {int(k): _user_from_json(v) for k, v in pipe.hgetall(users_key).items()}
            installed_at = json.loads(previous)["installed_at"] if previous else now
            current = replace(
                installation,
                installed_at=installed_at,
                updated_at=now,
                install_id=secrets.token_urlsafe(12),
            )
            owner_id = current.owner_id if current.owner_id is not None else installer.id
            users.setdefault(
                installer.id, replace(installer, access_id=_new_access_id(), added_at=now)
            )
            pipe.multi()
            pipe.set(record_key, json.dumps(self._installation_to_json(current)))
            pipe.hset(
                users_key,
                mapping={
                    str(uid): json.dumps(_user_to_json(replace(u, is_owner=uid == owner_id)))
                    for uid, u in users.items()
                },
            )
            stored["installation"] = current

        with unavailable_on_redis_error("save_installation"):
            self._redis.transaction(write, record_key, users_key)
        return stored["installation"]

    def get_installation(self, store_hash: str) -> Installation | None:
        """The installation of `store_hash`, or None; an undecryptable token counts as none."""
        with unavailable_on_redis_error("get_installation"):
            raw = self._redis.get(self.key(store_hash, "installation"))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            token = self._cipher.decrypt(store_hash, data["access_token"])
            return _installation_from_json(data, token)
        except DecryptionError:
            log.error("stored token for %s does not decrypt (key removed or tampered)", store_hash)
        except (ValueError, KeyError, TypeError):
            log.error("installation record for %s is corrupt", store_hash)
        return None

    def reencrypt(self, store_hash: str) -> bool:
        """Re-seal the token with the primary key after a rotation (same transaction rules)."""
        record_key = self.key(store_hash, "installation")
        outcome = {"rotated": False}

        def rotate(pipe: Pipeline) -> None:
            raw = pipe.get(record_key)
            data = json.loads(raw) if raw else None
            if data is None or not self._cipher.needs_rotation(data["access_token"]):
                pipe.multi()
                return
            token = self._cipher.decrypt(store_hash, data["access_token"])
            data["access_token"] = self._cipher.encrypt(store_hash, token)
            pipe.multi()
            pipe.set(record_key, json.dumps(data))
            outcome["rotated"] = True

        with unavailable_on_redis_error("reencrypt"):
            self._redis.transaction(rotate, record_key)
        return outcome["rotated"]

    def delete_installation(self, store_hash: str, issued_at: int) -> bool:
        """Delete everything about the store unless it was (re-)installed after `issued_at`."""
        record_key, users_key = self.key(store_hash, "installation"), self.key(store_hash, "users")
        outcome = {"deleted": False}

        def delete(pipe: Pipeline) -> None:
            raw = pipe.get(record_key)
            if raw is not None and json.loads(raw)["updated_at"] > issued_at:
                pipe.multi()  # a newer install wins over an older uninstall (SECURITY.md A10.1)
                return
            pipe.multi()
            pipe.delete(record_key, users_key)
            outcome["deleted"] = raw is not None

        with unavailable_on_redis_error("delete_installation"):
            self._redis.transaction(delete, record_key, users_key)
        return outcome["deleted"]

    def get_user(self, store_hash: str, user_id: int) -> StoreUser | None:
        """A user with access, or None."""
        with unavailable_on_redis_error("get_user"):
            raw = self._redis.hget(self.key(store_hash, "users"), str(user_id))
        return _user_from_json(raw) if raw else None

    def add_user(self, store_hash: str, user: StoreUser) -> StoreUser | None:
        """Grant access while the store is installed (checked in the same transaction)."""
        record_key, users_key = self.key(store_hash, "installation"), self.key(store_hash, "users")
        result: dict[str, StoreUser | None] = {"user": None}

        def add(pipe: Pipeline) -> None:
            existing = pipe.hget(users_key, str(user.id))
            installed = pipe.exists(record_key)
            pipe.multi()
            if existing:
                result["user"] = _user_from_json(existing)
            elif installed:
                fresh = replace(user, access_id=_new_access_id(), added_at=int(time.time()))
                pipe.hset(users_key, str(user.id), json.dumps(_user_to_json(fresh)))
                result["user"] = fresh

        with unavailable_on_redis_error("add_user"):
            self._redis.transaction(add, record_key, users_key)
        return result["user"]

    def remove_user(self, store_hash: str, user_id: int, removed_at: int) -> bool:
        """Remove a user's access and keep a tombstone for as long as a payload can live."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.hdel(self.key(store_hash, "users"), str(user_id))
        pipe.set(
            self.key(store_hash, f"removed:{user_id}"), str(removed_at), ex=REMOVAL_MEMORY_SECONDS
        )
        with unavailable_on_redis_error("remove_user"):
            removed, _ = pipe.execute()
        return bool(removed)

    def user_removed_at(self, store_hash: str, user_id: int) -> int | None:
        """The tombstone time of a removed user, or None."""
        with unavailable_on_redis_error("user_removed_at"):
            raw = self._redis.get(self.key(store_hash, f"removed:{user_id}"))
        return int(raw) if raw is not None else None

    def list_users(self, store_hash: str) -> list[StoreUser]:
        """All users with access to the store, by id."""
        with unavailable_on_redis_error("list_users"):
            raw = self._redis.hgetall(self.key(store_hash, "users"))
        return sorted((_user_from_json(value) for value in raw.values()), key=lambda u: u.id)

    def list_store_hashes(self) -> list[str]:
        """Hashes of all installed stores (SCAN, never KEYS)."""
        pattern = f"{self._prefix}:{{*}}:installation"
        with unavailable_on_redis_error("list_store_hashes"):
            keys = list(self._redis.scan_iter(match=pattern, count=500))
        return sorted(key.split("{", 1)[1].split("}", 1)[0] for key in keys)

    @contextmanager
    def install_lock(self, store_hash: str, hold_seconds: float) -> Iterator[None]:
        """Serialise code exchange and write per store, so the newest token is the one kept.

        BigCommerce invalidates the previous token when it issues a new one; holding the lock
        across exchange and write makes the store's order of writes match the platform's
        order of grants. The lock expires by itself if its holder dies.
        """
        key, token = self.key(store_hash, "install-lock"), secrets.token_hex(16)
        deadline = time.monotonic() + hold_seconds
        with unavailable_on_redis_error("install_lock"):
            while not self._redis.set(key, token, nx=True, px=int(hold_seconds * 1000)):
                if time.monotonic() > deadline:
                    raise StoreUnavailable("install_lock_busy")
                time.sleep(0.05)
        try:
            yield
        finally:
            with unavailable_on_redis_error("install_unlock"):
                self._release(key, token)

    def _release(self, key: str, token: str) -> None:
        def release(pipe: Pipeline) -> None:
            held = pipe.get(key) == token
            pipe.multi()
            if held:
                pipe.delete(key)

        self._redis.transaction(release, key)

    def burn_once(self, store_hash: str, nonce: str, ttl_seconds: int) -> bool:
        """SET NX EX on a digest of `nonce`: True the first time only."""
        digest = hashlib.sha256(nonce.encode()).hexdigest()
        with unavailable_on_redis_error("burn_once"):
            return bool(
                self._redis.set(
                    self.key(store_hash, "seen:" + digest), "1", nx=True, ex=max(ttl_seconds, 1)
                )
            )

    def _installation_to_json(self, installation: Installation) -> dict[str, Any]:
        return {
            "store_hash": installation.store_hash,
            "access_token": self._cipher.encrypt(
                installation.store_hash, installation.access_token
            ),
            "scopes": str(installation.scopes),
            "installer_id": installation.installer_id,
            "installer_email": installation.installer_email,
            "owner_id": installation.owner_id,
            "owner_email": installation.owner_email,
            "account_uuid": installation.account_uuid,
            "installed_at": installation.installed_at,
            "updated_at": installation.updated_at,
            "install_id": installation.install_id,
        }


def _installation_from_json(data: dict[str, Any], token: str) -> Installation:
    return Installation(
        store_hash=data["store_hash"],
        access_token=token,
        scopes=ScopeSet.parse(data["scopes"]),
        installer_id=data["installer_id"],
        installer_email=data["installer_email"],
        owner_id=data["owner_id"],
        owner_email=data["owner_email"],
        account_uuid=data["account_uuid"],
        installed_at=data["installed_at"],
        updated_at=data["updated_at"],
        install_id=data["install_id"],
    )


def _user_to_json(user: StoreUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "is_owner": user.is_owner,
        "access_id": user.access_id,
        "added_at": user.added_at,
    }


def _user_from_json(raw: str | bytes) -> StoreUser:
    data = json.loads(raw)
    return StoreUser(
        id=data["id"],
        email=data["email"],
        is_owner=data["is_owner"],
        access_id=data["access_id"],
        added_at=data["added_at"],
    )


def _new_access_id() -> str:
    return secrets.token_urlsafe(12)
