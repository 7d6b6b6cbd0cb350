"""What bcapp itself created in a store: webhook subscriptions and App Extensions, by id.

A store-level API account's token is the merchant's and often shared with other tools: the
hooks and extensions it lists are not all bcapp's, so sync changes only those whose ids are
recorded here (bcapp/service/subscriptions.py, bcapp/service/app_extensions.py). One Redis
hash per store, `<prefix>:{<store_hash>}:created`, fields `<kind>:<id>` (the value names the
scope or model, for people reading it); it follows the installation's lifetime like the app's
data (bcapp/store/keys.py) and is not exported by `bcapp export` (an imported API-account
store's former subscriptions are then left alone: nothing is deleted on a guess).
"""

from __future__ import annotations

import redis

from bcapp.store.connection import Keyspace, unavailable_on_redis_error
from bcapp.store.keys import CREATED

HOOK = "hook"
EXTENSION = "extension"
SCRIPT = "script"


class RedisCreatedRecords:
    """The ids bcapp created in each store, by kind ("hook", "extension")."""

    def __init__(self, client: redis.Redis, keys: Keyspace) -> None:
        self._redis = client
        self._keys = keys

    def created(self, store_hash: str, kind: str) -> dict[str, str]:
        """The ids of `kind` bcapp created in the store, each with what it recorded."""
        with unavailable_on_redis_error("created_read"):
            fields = self._redis.hgetall(CREATED.key(self._keys, store_hash))
        prefix = f"{kind}:"
        return {
            str(name).removeprefix(prefix): str(what)
            for name, what in fields.items()
            if str(name).startswith(prefix)
        }

    def add_created(self, store_hash: str, kind: str, item_id: str, what: str) -> None:
        """Record that bcapp created `item_id` (a `what`: its scope or model)."""
        key = CREATED.key(self._keys, store_hash)
        with unavailable_on_redis_error("created_write"):
            self._redis.hset(key, f"{kind}:{item_id}", what[:200])

    def drop_created(self, store_hash: str, kind: str, item_id: str) -> None:
        """Forget `item_id` (deleted, or gone from the store)."""
        with unavailable_on_redis_error("created_write"):
            self._redis.hdel(CREATED.key(self._keys, store_hash), f"{kind}:{item_id}")
