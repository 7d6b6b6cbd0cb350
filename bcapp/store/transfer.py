"""Export and import of every store's records, for backups and moves between Redis deployments.

One JSON object per store: the installation record exactly as stored (its token and client
secret still AES-GCM sealed, each naming its key id), its users, the app's settings for it,
and, for a store in its grace period, the seconds it has left. Import checks that the record
decrypts with the configured keys (bound to its store hash) before writing anything, and
writes a store's keys in one transaction, so running it twice changes nothing. A stored
record equal to the document's is left alone when both expire, however many seconds each has
left, so `--dry-run` and the import agree (`_comparable`).
"""

from __future__ import annotations

import json
from typing import Any

import redis

from bcapp.crypto import TokenCipher
from bcapp.models import Installation
from bcapp.store.connection import Keyspace, unavailable_on_redis_error
from bcapp.store.keys import APP_DATA, INSTALLATION, USERS
from bcapp.store.records import CorruptRecord, installation_from_json, user_from_json
from bcapp.validation import STORE_HASH, exact_origin

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
            installation = installation_from_json(
                json.dumps(document["installation"]), store_hash, self._cipher
            )
        except (CorruptRecord, KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"store {store_hash}: its record does not decrypt with TOKEN_ENCRYPTION_KEYS"
            ) from exc
        expires = document.get("expires_in")
        if expires is not None and (type(expires) is not int or expires <= 0):
            raise ValueError(f"store {store_hash}: expires_in must be a positive whole number")
        users, settings = document.get("users"), document.get("settings")
        if not isinstance(users, dict) or not isinstance(settings, dict):
            raise ValueError(f"store {store_hash}: users or settings malformed")
        _refuse_unsafe_fields(store_hash, installation, users, settings)
        return store_hash

    def would_change(self, document: object) -> bool:
        """Check a document (ValueError naming why it cannot be imported); True when importing
        it would change what is stored, False when the store holds exactly it already."""
        store_hash = self.check(document)
        assert isinstance(document, dict)
        stored = self.export_store(store_hash)
        if stored is None:
            return True
        return _comparable(stored) != _comparable(document)

    def import_store(self, document: dict[str, Any]) -> bool:
        """Write a checked document; True when it changed what was stored."""
        if not self.would_change(document):
            return False
        store_hash = document["store_hash"]
        record_key = INSTALLATION.key(self._keys, store_hash)
        users_key = USERS.key(self._keys, store_hash)
        settings_key = APP_DATA.key(self._keys, store_hash)
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


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    """A document as import compares it: whether it expires, not in how many seconds.

    The seconds left move on while a command runs (a dry run and the import a second later
    would disagree), and re-importing an export must not restart a grace period that runs.
    """
    return {**document, "expires_in": document.get("expires_in") is not None}


def _refuse_unsafe_fields(
    store_hash: str, installation: Installation, users: dict[str, Any], settings: dict[str, Any]
) -> None:
    """ValueError unless every field is what bcapp itself would have written (L3 of the third
    review): the sealed token is not the only field a page or a header trusts."""
    texts = [
        installation.installer_email,
        installation.owner_email,
        installation.account_uuid,
        installation.install_id,
        installation.name,
        installation.client_id,
        installation.control_panel_url,
    ]
    if any(text is not None and not _plain(text) for text in texts):
        raise ValueError(f"store {store_hash}: a field holds control characters or is too long")
    panel = installation.control_panel_url
    if panel is not None and exact_origin(panel) != panel:
        raise ValueError(f"store {store_hash}: control_panel_url is not an https origin")
    owner_id = installation.owner_id if installation.owner_id is not None else (
        installation.installer_id
    )
    for uid, record in users.items():
        try:
            user = user_from_json(json.dumps(record))
        except CorruptRecord as exc:
            raise ValueError(f"store {store_hash}: user {uid} malformed") from exc
        if str(user.id) != uid or not _plain(user.email) or not _plain(user.access_id):
            raise ValueError(f"store {store_hash}: user {uid} is filed under another id")
        if user.is_owner != (user.id == owner_id):
            raise ValueError(f"store {store_hash}: user {uid}'s owner flag contradicts the owner")
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in settings.items()):
        raise ValueError(f"store {store_hash}: settings must map text to text")


def _plain(text: object, limit: int = 512) -> bool:
    """Printable text of a sane length: nothing that could break a header or a page."""
    return isinstance(text, str) and len(text) <= limit and text.isprintable()
