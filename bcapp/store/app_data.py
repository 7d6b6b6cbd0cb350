"""Small per-store data of the app built on bcapp (the bundled example keeps its settings here).

One Redis hash per store, `<prefix>:{<store_hash>}:settings`, in the store's Cluster slot. The
lifecycle treats it like the installation: it gets the grace-period TTL on uninstall, loses it
on reinstatement, and is deleted by the purge (bcapp/store/lifecycle.py).

Writes read what they replace under WATCH (`transaction`): a concurrent writer makes them run
again on the fresh values, so two workers updating one store lose nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import redis
from redis.client import Pipeline

from bcapp.store.connection import Keyspace, transaction, unavailable_on_redis_error
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

        def replace(pipe: Pipeline) -> None:
            stale = {str(name) for name in pipe.hkeys(key)} - set(values)
            pipe.multi()
            for name, value in values.items():
                pipe.hset(key, name, value)
            if stale:
                pipe.hdel(key, *stale)

        with unavailable_on_redis_error("app_data_put"):
            transaction(self._redis, replace, key)

    def update(
        self, store_hash: str, name: str, change: Callable[[str | None], str | None]
    ) -> str | None:
        """Set the setting `name` to `change(its current value or None)`, None deleting it, as
        one atomic step: `change` runs again on the fresh value when another writer changed the
        store's settings meanwhile (so it must only compute). Returns the value kept."""
        key = APP_DATA.key(self._keys, store_hash)

        def apply(pipe: Pipeline) -> str | None:
            current = pipe.hget(key, name)
            value = change(None if current is None else str(current))
            pipe.multi()
            if value is None:
                pipe.hdel(key, name)
            else:
                pipe.hset(key, name, value)
            return value

        with unavailable_on_redis_error("app_data_update"):
            return transaction(self._redis, apply, key)
