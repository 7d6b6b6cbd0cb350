"""Export and import of every store's records, for backups and moves between Redis deployments.

One JSON object per store: the installation record exactly as stored (its token and client
secret still AES-GCM sealed, each naming its key id), its users, the app's settings for it,
and, for a store in its grace period, the seconds it has left. Import takes in only what bcapp
would have written, rebuilt as bcapp writes it (bcapp/store/import_rules.py); a refused line
writes nothing, the other lines go on. A store's keys are written in one transaction, so
running it twice changes nothing; a stored record equal to the rebuilt one is left alone when
both expire, however many seconds each has left, so `--dry-run` and the import agree
(`_comparable`).
"""

from __future__ import annotations

import json
from typing import Any

import redis

from bcapp.crypto import TokenCipher
from bcapp.store.connection import Keyspace, unavailable_on_redis_error
from bcapp.store.import_rules import (
    FORMAT,
    MAX_SETTING_CHARS,
    MAX_SETTING_NAME_CHARS,
    MAX_SETTINGS,
    rebuilt_document,
)
from bcapp.store.keys import APP_DATA, INSTALLATION, USERS

# The settings' sizes import accepts are the ones bcapp/store/app_data.py holds writes to.
__all__ = ["MAX_SETTINGS", "MAX_SETTING_CHARS", "MAX_SETTING_NAME_CHARS", "RedisTransfer"]


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

    def would_change(self, document: object) -> bool:
        """Check a document (ValueError naming why it cannot be imported); True when importing
        it would change what is stored, False when the store holds exactly it already."""
        return self._differs(rebuilt_document(document, self._cipher))

    def _differs(self, rebuilt: dict[str, Any]) -> bool:
        stored = self.export_store(rebuilt["store_hash"])
        return stored is None or _comparable(stored) != _comparable(rebuilt)

    def import_store(self, document: dict[str, Any]) -> bool:
        """Write a document as bcapp would have written it; True when it changed what was
        stored (ValueError, writing nothing, when it cannot be imported)."""
        rebuilt = rebuilt_document(document, self._cipher)
        if not self._differs(rebuilt):
            return False
        store_hash = rebuilt["store_hash"]
        record_key = INSTALLATION.key(self._keys, store_hash)
        users_key = USERS.key(self._keys, store_hash)
        settings_key = APP_DATA.key(self._keys, store_hash)
        expires = rebuilt["expires_in"]
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(record_key, users_key, settings_key)
        pipe.set(record_key, _compact(rebuilt["installation"]), ex=expires or None)
        for uid, user in rebuilt["users"].items():
            pipe.hset(users_key, uid, _compact(user))
        for name, value in rebuilt["settings"].items():
            pipe.hset(settings_key, name, value)
        if expires:
            pipe.expire(users_key, expires)
            pipe.expire(settings_key, expires)
        with unavailable_on_redis_error("import"):
            pipe.execute()
        return True


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    """A document as import compares it: whether it expires, not in how many seconds.

    The seconds left move on while a command runs (a dry run and the import a second later
    would disagree), and re-importing an export must not restart a grace period that runs.
    """
    return {**document, "expires_in": document.get("expires_in") is not None}


def _compact(record: dict[str, Any]) -> str:
    """JSON as bcapp/store/records.py writes it."""
    return json.dumps(record, separators=(",", ":"))
