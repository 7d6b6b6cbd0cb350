"""Small per-store data of the app built on bcapp (the bundled example keeps its settings here).

One Redis hash per store, `<prefix>:{<store_hash>}:settings`, in the store's Cluster slot. The
lifecycle treats it like the installation: it gets the grace-period TTL on uninstall, loses it
on reinstatement, and is deleted by the purge (bcapp/store/lifecycle.py).
"""

from __future__ import annotations

import redis

from bcapp.store.connection import Keyspace, unavailable_on_redis_error
from bcapp.store.keys import APP_DATA


class RedisAppData:
    """Per-store string settings."""

    def __init__(self, client: redis.Redis, keys: Keyspace) -> None:
        self._redis = client
        self._keys = keys

    def get(self, store_hash: str) -> dict[str, str]:
        """Every setting of the store."""
        with unavailable_on_redis_error("app_data_get"):
            raw = self._redis.hgetall(APP_DATA.key(self._keys, store_hash))
        return {str(name): str(value) for name, value in raw.items()}

    def put(self, store_hash: str, values: dict[str, str]) -> None:
        """Replace the store's settings with `values` (keeping any TTL the store's records have)."""
        key = APP_DATA.key(self._keys, store_hash)
        stale = set(self.get(store_hash)) - set(values)
        pipe = self._redis.pipeline(transaction=True)
        for name, value in values.items():
            pipe.hset(key, name, value)
        if stale:
            pipe.hdel(key, *stale)
        with unavailable_on_redis_error("app_data_put"):
            pipe.execute()
