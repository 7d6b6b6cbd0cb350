"""Export and import of every store's records, for backups and moves between Redis deployments.

One JSON object per store: the installation record exactly as stored (its token and client
secret still AES-GCM sealed, each naming its key id), its users, the app's settings for it,
and, for a store in its grace period, the seconds it has left. Import checks that the record
decrypts with the configured keys (bound to its store hash) before writing anything, and
writes a store's keys in one transaction, so running it twice changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from bcapp.crypto import TokenCipher
from bcapp.store.connection import Keyspace, unavailable_on_redis_error
from bcapp.store.keys import APP_DATA, INSTALLATION, USERS
from bcapp.store.records import CorruptRecord, installation_from_json
from bcapp.validation import STORE_HASH

FORMAT = "bcapp-export/1"


class RedisTransfer:
    """Reads and writes whole stores as documents."""

    def __init__(self, client: redis.Redis, cipher: TokenCipher, keys: Keyspace) -> None:
        self._redis = client
        self._cipher = cipher
        self._keys = keys

    def export_store(self, store_hash: str) -> dict[str, Any] | None:
        """The store's document, or None when it has no record."""
        record_key = INSTALLATION.key(self._keys, store_hash)
        with unavailable_on_redis_error("export"):
            pipe = self._redis.pipeline(transaction=True)
            pipe.get(record_key)
            pipe.ttl(record_key)
            pipe.hgetall(USERS.key(self._keys, store_hash))
            pipe.hgetall(APP_DATA.key(self._keys, store_hash))
            record, ttl, users, settings = pipe.execute()
        if record is None:
            return None
        return {
            "format": FORMAT,
            "store_hash": store_hash,
            "installation": json.loads(record),
            "users": {str(uid): json.loads(raw) for uid, raw in users.items()},
            "settings": dict(settings),
            "expires_in": ttl if ttl > 0 else None,
        }

    def check(self, document: object) -> str:
        """The store hash of a document this deployment can import; ValueError naming why not."""
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError("not a bcapp export line")
        store_hash = document.get("store_hash")
        if not isinstance(store_hash, str) or not STORE_HASH.fullmatch(store_hash):
            raise ValueError("no valid store hash")
        try:
            installation_from_json(json.dumps(document["installation"]), store_hash, self._cipher)
        except (CorruptRecord, KeyError, TypeError) as exc:
            raise ValueError(
                f"store {store_hash}: its record does not decrypt with TOKEN_ENCRYPTION_KEYS"
            ) from exc
        if not isinstance(document.get("users"), dict) or not isinstance(
            document.get("settings"), dict
        ):
            raise ValueError(f"store {store_hash}: users or settings malformed")
        return store_hash

    def import_store(self, document: dict[str, Any]) -> bool:
        """Write a checked document; True when it changed what was stored."""
        store_hash = self.check(document)
        record_key = INSTALLATION.key(self._keys, store_hash)
        users_key = USERS.key(self._keys, store_hash)
        settings_key = APP_DATA.key(self._keys, store_hash)
        if self.export_store(store_hash) == {**document, "expires_in": document.get("expires_in")}:
            return False
        expires = document.get("expires_in")
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(record_key, users_key, settings_key)
        pipe.set(record_key, json.dumps(document["installation"]), ex=expires or None)
        for uid, user in document["users"].items():
            pipe.hset(users_key, str(uid), json.dumps(user))
        for name, value in document["settings"].items():
            pipe.hset(settings_key, str(name), str(value))
        if expires:
            pipe.expire(users_key, expires)
            pipe.expire(settings_key, expires)
        with unavailable_on_redis_error("import"):
            pipe.execute()
        return True
